/**
 * Payment channel records: `<state dir>/channels/<channel id>.toml`, mode 0600, written
 * atomically, then recorded in the git audit trail as
 * `turnpike: payment channel <id> opened|updated|closed|settled|recovered|learned` + `Key: Value` lines (Deposit, Chain, Network, Peer, ...).
 *
 * Amounts are decimal strings in TOML (uint256 does not fit a TOML integer). `sent*` are the
 * claims this node signed for the peer; `received*` the newest claim the peer signed for us
 * (kept with its signature so it can be submitted on chain at close). `withdrawn`/`peerWithdrawn`
 * are what each side took out with `setTotalWithdraw` while open (absent in older files: 0).
 *
 * @module
 */
import { StateError } from "../state_error.ts";
import { parse as parseToml, stringify as stringifyToml } from "smol-toml";
import { writeFileAtomic } from "../atomic_file.ts";
import type { AuditLog } from "../audit/audit_log.ts";
import { readCappedTextFile } from "../capped_file.ts";

/**
 * Lifecycle of a channel as this node knows it. `closing`: final balances co-signed for a
 * cooperative settle, not yet on chain.
 */
export type ChannelStatus = "open" | "closing" | "closed" | "settled";

/** One channel record. */
export interface ChannelRecord {
  /** Channel id, bytes32 (0x + 64 hex); also the file name. */
  channelId: `0x${string}`;
  /** `evm:base:31337`... */
  chain: string;
  /** Numeric EVM chain id. */
  chainId: number;
  /** `local`, `testnet` or `mainnet`: shown with the channel. */
  network: string;
  /** The TokenNetwork contract holding the channel. */
  tokenNetworkAddress: `0x${string}`;
  /** The ERC-20 the channel is in. */
  tokenAddress: `0x${string}`;
  /** Symbol shown next to amounts (e.g. `M2M`). */
  tokenSymbol: string;
  /** Token decimals, for display. */
  tokenDecimals: number;
  /** This node's EVM address, a participant. */
  selfAddress: `0x${string}`;
  /** The peer's EVM address, the other participant. */
  peerAddress: `0x${string}`;
  /** Peer's Nostr pubkey or ILP address, when known (display only). */
  peerLabel?: string;
  /**
   * A town's channel: the BTP account whose packets it pays for, when the town learned the
   * channel from the account's first claim (roles/town/channels/channel_discovery.ts). Restored at start.
   */
  btpAccount?: string;
  /** Where the channel is in its lifecycle. */
  status: ChannelStatus;
  /** This node's total deposit, token base units. */
  deposit: bigint;
  /** The peer's total deposit, token base units. */
  peerDeposit: bigint;
  /** Cumulative amount this node withdrew while open; its claims stay within deposit - withdrawn. */
  withdrawn: bigint;
  /** Cumulative amount the peer withdrew. */
  peerWithdrawn: bigint;
  /** Cumulative amount of the newest claim this node signed to the peer, base units. */
  sent: bigint;
  /** Nonce of that claim (0: none yet). */
  sentNonce: bigint;
  /** Cumulative amount of the newest claim accepted from the peer, base units. */
  received: bigint;
  /** Nonce of that claim (0: none yet). */
  receivedNonce: bigint;
  /** The peer's signature of that claim (0x + 130 hex): what this node closes or updates with. */
  receivedSignature?: `0x${string}`;
  /**
   * A town's side: the value it forwarded (FULFILLed, or in flight when written) against the
   * peer's claims, base units. Below `received`, the difference is cover the peer's next packets
   * spend without a new claim (the claim of a packet refused after it was taken): kept here so a
   * restarted town still honours it. Absent (older files, the payer's side): taken as `received`.
   */
  receivedForwarded?: bigint;
  /** Seconds between close and the earliest settle. */
  settleTimeout: bigint;
  /** Unix seconds; 0 while open. */
  settleAt: bigint;
  /** ISO 8601 UTC time the record was created (open or recover); orders `listChannels`. */
  openedAt: string;
  /** Hash of the `openChannel` transaction, when known. */
  openTx?: `0x${string}`;
  /** Low-balance warning threshold, percent of the deposit. */
  warnPercent: number;
}

/** A channel file is missing a field or has a bad value. */
export class ChannelFileError extends StateError {
  /** `"ChannelFileError"`: explicit so it survives bundling. */
  override name = "ChannelFileError";
}

/** Largest channel file read. */
export const MAX_CHANNEL_FILE_BYTES = 64 * 1024;

const ID = /^0x[0-9a-fA-F]{64}$/;
const BIG_FIELDS = [
  "deposit",
  "peerDeposit",
  "sent",
  "sentNonce",
  "received",
  "receivedNonce",
  "settleTimeout",
  "settleAt",
] as const;
// Added after the first files were written: absent means 0.
const OPTIONAL_BIG_FIELDS = ["withdrawn", "peerWithdrawn"] as const;

/**
 * Path of a channel's file.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * const path = channelFilePath("/home/a/.turnpike/default", `0x${"AB".repeat(32)}`); // the id lower-cased
 * assert.equal(path, `/home/a/.turnpike/default/channels/0x${"ab".repeat(32)}.toml`);
 * ```
 */
export function channelFilePath(stateDir: string, channelId: string): string {
  if (!ID.test(channelId)) throw new ChannelFileError(`not a channel id: ${channelId}`);
  return `${stateDir}/channels/${channelId.toLowerCase()}.toml`;
}

/**
 * Encodes a record as TOML.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { type ChannelRecord, encodeChannelToml, parseChannelToml } from "./channel_file.ts";
 *
 * const record: ChannelRecord = {
 *   channelId: `0x${"ab".repeat(32)}`, chain: "evm:base:31337", chainId: 31337, network: "local",
 *   tokenNetworkAddress: `0x${"cd".repeat(20)}`, tokenAddress: `0x${"ef".repeat(20)}`, tokenSymbol: "M2M",
 *   tokenDecimals: 6, selfAddress: `0x${"12".repeat(20)}`, peerAddress: `0x${"34".repeat(20)}`, status: "open",
 *   deposit: 50_000_000n, peerDeposit: 0n, withdrawn: 0n, peerWithdrawn: 0n, sent: 0n, sentNonce: 0n, received: 0n,
 *   receivedNonce: 0n, settleTimeout: 3600n, settleAt: 0n, openedAt: "2026-11-25T12:00:00.000Z", warnPercent: 20,
 * };
 * const text = encodeChannelToml(record); // snake_case keys, amounts as strings
 * assert.deepEqual(parseChannelToml(text), record);
 * ```
 */
export function encodeChannelToml(record: ChannelRecord): string {
  const out: Record<string, string | number> = {};
  for (const [k, v] of Object.entries(record)) {
    if (v === undefined) continue;
    out[snake(k)] = typeof v === "bigint" ? v.toString() : v as string | number;
  }
  return stringifyToml(out) + "\n";
}

/**
 * Parses a channel TOML file.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { ChannelFileError, parseChannelToml } from "./channel_file.ts";
 *
 * // readChannel reads a file and parses it; a field missing or malformed is refused:
 * assert.throws(() => parseChannelToml('channel_id = "0x12"', "channels/0x12.toml"), ChannelFileError);
 * ```
 */
export function parseChannelToml(text: string, path = "channel.toml"): ChannelRecord {
  let raw: Record<string, unknown>;
  try {
    raw = parseToml(text) as Record<string, unknown>;
  } catch (err) {
    throw new ChannelFileError(`${path}: not TOML: ${(err as Error).message}`);
  }
  const get = (k: string) => raw[snake(k)];
  const str = (k: string): string => {
    const v = get(k);
    if (typeof v !== "string") throw new ChannelFileError(`${path}: ${snake(k)} must be a string`);
    return v;
  };
  const num = (k: string): number => {
    const v = get(k);
    if (typeof v !== "number" && typeof v !== "bigint") {
      throw new ChannelFileError(`${path}: ${snake(k)} must be a number`);
    }
    return Number(v);
  };
  const record = {
    channelId: str("channelId"),
    chain: str("chain"),
    chainId: num("chainId"),
    network: str("network"),
    tokenNetworkAddress: str("tokenNetworkAddress"),
    tokenAddress: str("tokenAddress"),
    tokenSymbol: str("tokenSymbol"),
    tokenDecimals: num("tokenDecimals"),
    selfAddress: str("selfAddress"),
    peerAddress: str("peerAddress"),
    status: str("status"),
    openedAt: str("openedAt"),
    warnPercent: num("warnPercent"),
  } as Record<string, unknown>;
  for (const k of BIG_FIELDS) {
    const v = str(k);
    if (!/^\d{1,78}$/.test(v)) throw new ChannelFileError(`${path}: ${snake(k)} is not an amount`);
    record[k] = BigInt(v);
  }
  for (const k of OPTIONAL_BIG_FIELDS) {
    const v = get(k) === undefined ? "0" : str(k);
    if (!/^\d{1,78}$/.test(v)) throw new ChannelFileError(`${path}: ${snake(k)} is not an amount`);
    record[k] = BigInt(v);
  }
  for (const k of ["peerLabel", "btpAccount", "receivedSignature", "openTx"]) {
    if (get(k) !== undefined) record[k] = str(k);
  }
  if (get("receivedForwarded") !== undefined) {
    const v = str("receivedForwarded");
    if (!/^\d{1,78}$/.test(v)) {
      throw new ChannelFileError(`${path}: received_forwarded is not an amount`);
    }
    record.receivedForwarded = BigInt(v);
  }
  if (!ID.test(record.channelId as string)) throw new ChannelFileError(`${path}: bad channel_id`);
  if (!["open", "closing", "closed", "settled"].includes(record.status as string)) {
    throw new ChannelFileError(`${path}: bad status`);
  }
  return record as unknown as ChannelRecord;
}

/** Options for {@linkcode saveChannel}. */
export interface SaveChannelOptions {
  /** The node's state dir; the file goes to `channels/<id>.toml` in it. */
  stateDir: string;
  /** Audit log to record the change in; none: the file only. */
  audit?: AuditLog;
  /** Audit verb: open, update, close, settle, recover. */
  action: string;
  /** Extra `Key: Value` lines. */
  fields?: Record<string, string>;
}

/**
 * Writes a channel file (atomic, 0600) and records the change in the audit log; resolves with
 * the file's info as written (state/atomic_file.ts `writeFileAtomic`). The product
 * writes through state/channels/channel_writer.ts, which calls this one channel at a time; a
 * direct call is for tests that lay a file down.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { type ChannelRecord, channelFilePath, listChannels, readChannel, saveChannel } from "./channel_file.ts";
 * import { openAuditLog } from "../audit/audit_log.ts";
 *
 * const record: ChannelRecord = {
 *   channelId: `0x${"ab".repeat(32)}`, chain: "evm:base:31337", chainId: 31337, network: "local",
 *   tokenNetworkAddress: `0x${"cd".repeat(20)}`, tokenAddress: `0x${"ef".repeat(20)}`, tokenSymbol: "M2M",
 *   tokenDecimals: 6, selfAddress: `0x${"12".repeat(20)}`, peerAddress: `0x${"34".repeat(20)}`, status: "open",
 *   deposit: 50_000_000n, peerDeposit: 0n, withdrawn: 0n, peerWithdrawn: 0n, sent: 0n, sentNonce: 0n, received: 0n,
 *   receivedNonce: 0n, settleTimeout: 3600n, settleAt: 0n, openedAt: "2026-11-25T12:00:00.000Z", warnPercent: 20,
 * };
 * const stateDir = await Deno.makeTempDir();
 * const audit = await openAuditLog({ dir: stateDir }); // a git commit per change
 * await saveChannel(record, { stateDir, audit, action: "open" });
 * assert.deepEqual(await readChannel(channelFilePath(stateDir, record.channelId)), record);
 * assert.deepEqual((await listChannels(stateDir)).map((c) => c.status), ["open"]);
 * await audit.close();
 * await Deno.remove(stateDir, { recursive: true });
 * ```
 */
export async function saveChannel(
  record: ChannelRecord,
  options: SaveChannelOptions,
): Promise<Deno.FileInfo> {
  // Synchronous: a page-cache call (state/atomic_file.ts says why).
  Deno.mkdirSync(`${options.stateDir}/channels`, { recursive: true, mode: 0o700 });
  const path = channelFilePath(options.stateDir, record.channelId);
  const written = await writeFileAtomic(path, encodeChannelToml(record), { mode: 0o600 });
  options.audit?.record({
    action: options.action,
    resource: "channel",
    id: record.channelId.toLowerCase(),
    paths: [path.slice(options.stateDir.length + 1)],
    fields: {
      Chain: record.chain,
      Network: record.network,
      Peer: record.peerAddress,
      Deposit: record.deposit.toString(),
      Sent: record.sent.toString(),
      Received: record.received.toString(),
      Status: record.status,
      ...(record.withdrawn > 0n ? { Withdrawn: record.withdrawn.toString() } : {}),
      ...(record.peerWithdrawn > 0n ? { "Peer-Withdrawn": record.peerWithdrawn.toString() } : {}),
      ...options.fields,
    },
  });
  return written;
}

/**
 * Reads every channel file of a state dir, sorted by opening time.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { listChannels } from "./channel_file.ts";
 *
 * const stateDir = await Deno.makeTempDir();
 * assert.deepEqual(await listChannels(stateDir), []); // no channels/ yet: none
 * await Deno.remove(stateDir);
 * ```
 */
export async function listChannels(stateDir: string): Promise<ChannelRecord[]> {
  const out: ChannelRecord[] = [];
  try {
    for await (const e of Deno.readDir(`${stateDir}/channels`)) {
      if (!e.isFile || !e.name.endsWith(".toml")) continue;
      out.push(await readChannel(`${stateDir}/channels/${e.name}`));
    }
  } catch (err) {
    if (err instanceof Deno.errors.NotFound) return [];
    throw err;
  }
  return out.sort((a, b) => a.openedAt.localeCompare(b.openedAt));
}

/**
 * Reads one channel file (size-limited).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { channelFilePath, readChannel } from "./channel_file.ts";
 *
 * const stateDir = await Deno.makeTempDir(); // saveChannel writes the file, readChannel reads it back
 * await assert.rejects(readChannel(channelFilePath(stateDir, `0x${"ab".repeat(32)}`)), Deno.errors.NotFound);
 * await Deno.remove(stateDir);
 * ```
 */
export async function readChannel(path: string): Promise<ChannelRecord> {
  const text = await readCappedTextFile(path, {
    maxBytes: MAX_CHANNEL_FILE_BYTES,
    tooLarge: (p) => new ChannelFileError(`${p}: too large`),
  });
  return parseChannelToml(text, path);
}

function snake(key: string): string {
  return key.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`);
}
