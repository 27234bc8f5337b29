/**
 * The channel log: `<state dir>/channel_log.jsonl`, append-only, one JSON line per token movement
 * between the wallet and a payment channel (an opening deposit, a top-up), fsynced before
 * `append` returns and recorded in the audit trail (`turnpike: <action> channel-funds <id>`).
 * With the payment log (what the channel paid) it makes the books: the deposits logged here for a
 * channel add up to its deposit on chain.
 *
 * The log is also what bounds automatic top-ups per day across processes: a short `job submit`
 * and a long-running `requester` read the same file.
 *
 * @module
 */
import type { AuditLog } from "../audit/audit_log.ts";

/** The file name, relative to the state dir. */
export const CHANNEL_LOG_FILE = "channel_log.jsonl";

/** What moved tokens into a channel. */
export type ChannelFundsAction = "open" | "topup";

/** One line of the log. Amounts are decimal strings of token base units. */
export interface ChannelLogEntry {
  /** ISO time the transaction was mined (as the node saw it). */
  ts: string;
  action: ChannelFundsAction;
  channelId: string;
  /** `evm:base:<chain id>`. */
  chain: string;
  /** Tokens moved into the channel by this entry. */
  amount: string;
  /** The channel's total deposit afterwards (what `setTotalDeposit` set). */
  totalDeposit: string;
  /** The transaction that moved them. */
  tx: string;
  /** true when the node did it by itself (`[channels] auto`), false for a command. */
  auto: boolean;
}

/** Options for {@linkcode appendChannelLog}. */
export interface AppendChannelLogOptions {
  stateDir: string;
  /** Where the change is recorded; none: the file only. */
  audit?: AuditLog;
}

/**
 * Appends one entry (fsynced) and records it in the audit trail.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 *
 * const stateDir = await Deno.makeTempDir();
 * await appendChannelLog({
 *   ts: new Date().toISOString(),
 *   action: "open",
 *   channelId: `0x${"c1".repeat(32)}`,
 *   chain: "evm:base:31337",
 *   amount: "10000",
 *   totalDeposit: "10000",
 *   tx: `0x${"ab".repeat(32)}`,
 *   auto: false,
 * }, { stateDir }); // an `audit` log records it in the audit trail too
 * assert.equal((await readChannelLog(stateDir)).length, 1);
 * await Deno.remove(stateDir, { recursive: true });
 * ```
 */
export async function appendChannelLog(
  entry: ChannelLogEntry,
  options: AppendChannelLogOptions,
): Promise<void> {
  const path = `${options.stateDir}/${CHANNEL_LOG_FILE}`;
  const file = await Deno.open(path, { append: true, create: true, mode: 0o600 });
  try {
    // A partial last line (a crash mid-write) must not swallow this one: start on a fresh line.
    const size = (await file.stat()).size;
    const prefix = size > 0 && !(await endsWithNewline(path, size)) ? "\n" : "";
    await writeAll(file, new TextEncoder().encode(`${prefix}${JSON.stringify(entry)}\n`));
    await file.sync();
  } finally {
    file.close();
  }
  options.audit?.record({
    action: entry.action,
    resource: "channel-funds",
    id: entry.channelId.toLowerCase(),
    paths: [CHANNEL_LOG_FILE],
    fields: {
      Chain: entry.chain,
      Amount: entry.amount,
      "Total-Deposit": entry.totalDeposit,
      Tx: entry.tx,
      Auto: entry.auto ? "yes" : "no",
    },
  });
}

/**
 * Reads every entry (a partial or malformed line is skipped).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 *
 * const stateDir = await Deno.makeTempDir();
 * const id = `0x${"c1".repeat(32)}`;
 * const entry = { ts: new Date().toISOString(), channelId: id, chain: "evm:base:31337", tx: "0x01" };
 * const open = { ...entry, action: "open", amount: "1000", totalDeposit: "1000", auto: false };
 * const topUp = { ...entry, action: "topup", amount: "500", totalDeposit: "1500", auto: true } as const;
 * await appendChannelLog({ ...open, action: "open" }, { stateDir });
 * await appendChannelLog(topUp, { stateDir });
 * const deposited = (await readChannelLog(stateDir))
 *   .filter((e) => e.channelId === id).reduce((n, e) => n + BigInt(e.amount), 0n);
 * assert.equal(deposited, 1500n);
 * await Deno.remove(stateDir, { recursive: true });
 * ```
 */
export async function readChannelLog(stateDir: string): Promise<ChannelLogEntry[]> {
  let text: string;
  try {
    text = await Deno.readTextFile(`${stateDir}/${CHANNEL_LOG_FILE}`);
  } catch (err) {
    if (err instanceof Deno.errors.NotFound) return [];
    throw err;
  }
  const out: ChannelLogEntry[] = [];
  for (const line of text.split("\n")) {
    if (line.trim() === "") continue;
    try {
      const entry = JSON.parse(line) as ChannelLogEntry;
      if (typeof entry.channelId === "string" && typeof entry.amount === "string") out.push(entry);
    } catch {
      // A line cut short by a crash: not an entry.
    }
  }
  return out;
}

/**
 * Tokens automatically topped up since `since` (all channels): what the daily cap bounds.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 *
 * const line = { channelId: "0x01", chain: "evm:base:31337", totalDeposit: "0", tx: "0x02" };
 * const entries = [
 *   { ...line, ts: "2026-01-01T09:00:00Z", action: "topup", amount: "500", auto: true },
 *   { ...line, ts: "2026-01-02T09:00:00Z", action: "topup", amount: "700", auto: true },
 *   { ...line, ts: "2026-01-02T10:00:00Z", action: "topup", amount: "900", auto: false },
 * ] as const;
 * assert.equal(autoTopUpsSince(entries, new Date("2026-01-02T00:00:00Z")), 700n);
 * ```
 */
export function autoTopUpsSince(entries: readonly ChannelLogEntry[], since: Date): bigint {
  const from = since.getTime();
  return entries
    .filter((e) => e.action === "topup" && e.auto && Date.parse(e.ts) >= from)
    .reduce((sum, e) => sum + BigInt(e.amount), 0n);
}

async function endsWithNewline(path: string, size: number): Promise<boolean> {
  const file = await Deno.open(path, { read: true });
  try {
    await file.seek(size - 1, Deno.SeekMode.Start);
    const last = new Uint8Array(1);
    await file.read(last);
    return last[0] === 0x0a;
  } finally {
    file.close();
  }
}

async function writeAll(file: Deno.FsFile, bytes: Uint8Array): Promise<void> {
  for (let off = 0; off < bytes.length;) off += await file.write(bytes.subarray(off));
}
