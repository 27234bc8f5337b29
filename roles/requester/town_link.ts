/**
 * The requester's link to its town: one BTP connection (directly to the town, or to any ILP
 * connector in front of it), the SPSP grant (cached until it expires), the town's price per byte
 * (from its NIP-11 document, warned about above a ceiling), the payment channel, and the town's
 * client (roles/town_client/town_client.ts: the SPSP grant and the paid writes, whose REJECTs
 * become `TownRejectedError` with the code and a suggestion).
 *
 * @module
 */
import { RoleError } from "../role_error.ts";
import { BtpClient } from "../../transport/btp_client.ts";
import {
  blobServerOf,
  fetchRelayInfo,
  type RelayInfo,
  RelayInfoError,
  townBlobPrice,
} from "../../transport/relay_info.ts";
import { DEFAULT_BLOB_PRICE_PER_MIB } from "../../protocol/blob_pricing.ts";
import type { AuditLog } from "../../state/audit/audit_log.ts";
import {
  ChannelNotOpenError,
  type ChannelSender,
  openChannelSender,
} from "../channels/channel_sender.ts";
import { ensureAutoChannel } from "../channels/channel_auto_open.ts";
import type { ChannelPolicy } from "../../config/channel_policy.ts";
import type { ChannelOpenSettings } from "../../config/channel_settings.ts";
import type { AlertKind } from "../node_alerts.ts";
import type { IlpPrepare, IlpReply } from "../../protocol/ilp_packet.ts";
import { ILP_ERROR } from "../../protocol/ilp_packet.ts";
import type { NostrEvent } from "../../protocol/nostr_event.ts";
import type { NodeSigner } from "../../protocol/node_signer.ts";
import { TownClient } from "../town_client/town_client.ts";
import type { InDoubtWrites } from "../town_client/in_doubt_writes.ts";

/** Options for {@linkcode connectTownLink}. */
export interface TownLinkOptions {
  /** BTP URL of the town or of a connector (`btp+ws://host:port`). */
  btpUrl: string;
  btpToken: string;
  /** NIP-01 URL of the town (`ws://host:port`), for its NIP-11 document. */
  relayUrl: string;
  /** The town's Nostr pubkey (it signs SPSP answers); default: NIP-11 `self`. */
  townPubkey?: string;
  /** The town's ILP address; default: from NIP-11 `fees`, else the IL-DCP parent prefix. */
  townAddress?: string;
  /** Price per byte; default: the town's NIP-11 fee, else 10. */
  pricePerByte?: bigint;
  /** Refuse a town asking more per byte than this (unless `acceptPrice`). Default 100. */
  priceCeiling?: bigint;
  /** Pay a price above the ceiling anyway (an explicit user flag: `--accept-price`). */
  acceptPrice?: boolean;
  /** The requester's key: SPSP, and the channel's claims. */
  signer: NodeSigner;
  /** Told about warnings (price above the ceiling). */
  warn?: (line: string) => void;
  /** Incoming PREPAREs (a requester normally receives none: F02). */
  onPrepare?: (prepare: IlpPrepare) => IlpReply | Promise<IlpReply>;
  /** Pay the town with claims on this payment channel (`roles/channels/channel_sender.ts`). */
  channel?: TownLinkChannel;
  /**
   * Without `channel`: use the open channel with the town, or open one (`[channels] auto`;
   * roles/channels/channel_auto_open.ts), and keep it funded (roles/channels/channel_topup.ts).
   */
  autoChannel?: TownLinkAutoChannel;
  /** Told about alerts (low channel balance, top-ups, price above the ceiling). */
  alert?: (kind: AlertKind, message: string, details: Record<string, string>) => void;
  /** Records each paid write the town fulfilled (the payment log) before `write` resolves. */
  recordWrite?: (paid: { event: NostrEvent; amount: bigint; townAddress: string }) => Promise<void>;
  /**
   * The town's writes in doubt, lasting in the payment log like `recordWrite`'s lines
   * (roles/town_client/logged_in_doubt_writes.ts), by the town's address and asset. Default: in
   * memory.
   */
  inDoubtWrites?: (town: { townAddress: string; asset: string; scale: number }) => InDoubtWrites;
}

/** The payment channel a town link pays over. */
export interface TownLinkChannel {
  /** Channel id (`0x` + 64 hex); its file is `<stateDir>/channels/<id>.toml`. */
  id: string;
  stateDir: string;
  /** Records the channel file updates. */
  audit?: AuditLog;
  /** Claim this much ahead (base units). Default 0. */
  prepay?: bigint;
  /** config.toml `[chains]`: with an RPC URL for the channel's chain, the channel is watched. */
  chains?: Record<string, unknown>;
  /** Poll period of the channel watcher. Default 15 s. */
  watchIntervalMs?: number;
  /** Pay on a chain of real funds (mainnet or an unknown chain id): the `mainnet` setting. */
  allowMainnet?: boolean;
}

/** How the link runs its channel by itself. */
export interface TownLinkAutoChannel extends Omit<TownLinkChannel, "id"> {
  policy: ChannelPolicy;
  /** config.toml `[channels]` (chains, prefer, settle_timeout). */
  channels?: ChannelOpenSettings;
  /** Told what was opened (stderr). */
  info?: (line: string) => void;
}

/** The town asks more per byte than the ceiling: nothing was paid. */
export class PriceAboveCeilingError extends RoleError {
  override name = "PriceAboveCeilingError";
  constructor(readonly price: bigint, readonly ceiling: bigint) {
    super(`the town's price per byte (${price}) is above the ceiling (${ceiling})`);
  }
}

/**
 * Refuses a town price per byte above the ceiling unless accepted (then warns); raises the
 * `price-above-ceiling` alert either way. Checked when the link connects and, by the profile's
 * node, for each command with its own ceiling.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * checkTownPrice(10n, { priceCeiling: 100n }); // fine
 * assert.throws(() => checkTownPrice(1000n, { priceCeiling: 100n }), PriceAboveCeilingError);
 * ```
 * @throws {PriceAboveCeilingError} when the price is above the ceiling and not accepted.
 */
export function checkTownPrice(
  pricePerByte: bigint,
  options: Pick<TownLinkOptions, "priceCeiling" | "acceptPrice" | "alert" | "warn">,
): void {
  const ceiling = options.priceCeiling ?? 100n;
  if (pricePerByte <= ceiling) return;
  const details = { price: String(pricePerByte), ceiling: String(ceiling) };
  const line = `the town's price per byte (${pricePerByte}) is above the ceiling (${ceiling})`;
  options.alert?.("price-above-ceiling", line, details);
  if (!options.acceptPrice) throw new PriceAboveCeilingError(pricePerByte, ceiling);
  options.warn?.(`warning: ${line}; paying it (--accept-price)`);
}

/** The town could not be reached or does not answer as a town. */
export class TownUnreachableError extends RoleError {
  override name = "TownUnreachableError";
}

/** A connected link to a town. */
export interface TownLink {
  btp: BtpClient;
  townAddress: string;
  pricePerByte: bigint;
  /** The asset of the town link (IL-DCP). */
  assetCode: string;
  assetScale: number;
  /** The town's Blossom server (its HTTP URL). */
  blobServer: string;
  /** The town's blob price, base units per MiB (NIP-11 `fees.blob`, else the default). */
  blobPricePerMiB: bigint;
  /** The town's client (roles/town_client/): every paid write to the town goes through it. */
  client: TownClient;
  /** Pays for and stores one event at the town. */
  write(event: NostrEvent): Promise<void>;
  /**
   * Sends `event` as the data of a paid PREPARE for `amount` (a blob payment: its upload
   * authorization) and returns the reply as it is.
   */
  sendPaid(event: NostrEvent, amount: bigint): Promise<IlpReply>;
  /** Sends one PREPARE (a provider payment) through the link. */
  send(prepare: IlpPrepare): Promise<IlpReply>;
  close(): Promise<void>;
}

/**
 * Connects: NIP-11 (price, address), BTP + IL-DCP, first SPSP handshake.
 *
 * It needs a town: no example that runs here: tests/e2e/requester_job_flow_test.ts.
 * @throws {TownUnreachableError} when the town cannot be reached.
 */
export async function connectTownLink(options: TownLinkOptions): Promise<TownLink> {
  const info = await fetchTownFees(options.relayUrl);
  const pricePerByte = options.pricePerByte ?? info.pricePerByte ?? 10n;
  checkTownPrice(pricePerByte, options);
  const townPubkey = options.townPubkey ?? info.self;
  if (townPubkey === undefined) {
    throw new TownUnreachableError(
      "the town's pubkey is unknown: its NIP-11 document has no `self`; pass --town-pubkey",
    );
  }
  // Checked before connecting: a channel that cannot pay this town is the operator's error.
  const sender = await openSender(options, townPubkey);
  let assetCode = "";
  let assetScale = 0;
  const btp = new BtpClient({
    url: options.btpUrl,
    authToken: options.btpToken,
    reconnect: true,
    // A town restarting is written to again within seconds (docs/AGENTS.md, `town-unreachable`):
    // one socket per town, so trying every 5 s at most costs the town nothing.
    reconnectMaxDelayMs: 5_000,
    claims: sender?.claims,
    onPrepare: options.onPrepare ??
      (() => ({
        type: "reject",
        code: ILP_ERROR.unreachable,
        triggeredBy: "",
        message: "no receiver",
        data: new Uint8Array(),
      })),
  });
  try {
    await btp.connect();
    ({ assetCode, assetScale } = await btp.fetchIldcp());
  } catch (err) {
    await btp.close().catch(() => {});
    await sender?.close();
    throw new TownUnreachableError(`BTP ${options.btpUrl}: ${(err as Error).message}`);
  }
  const townAddress = options.townAddress ?? info.ilpAddress ??
    (btp.ilpAddress ?? "").split(".").slice(0, -1).join(".");
  const client = new TownClient({
    relayUrl: options.relayUrl,
    uplinks: [btp],
    townAddress,
    townPubkey,
    signer: options.signer,
    pricePerByte,
    // Writes only: a blob payment's log lines are written by its payer (Requester.publishBlob).
    record: async (paid) => {
      if (!paid.blob) await options.recordWrite?.(paid);
    },
    // With no channel, a town that wants claims of this account (T04 `not-covered`) is not
    // cured by sending again: a request is refused at once, not retried to its deadline.
    inDoubt: options.inDoubtWrites?.({ townAddress, asset: assetCode, scale: assetScale }),
    isFinal: sender
      ? undefined
      : (code, claimReason) =>
        code === ILP_ERROR.insufficientLiquidity && claimReason === "not-covered",
  });
  await client.grant().catch(async (err) => {
    await btp.close().catch(() => {});
    await sender?.close();
    throw new TownUnreachableError(`SPSP handshake with ${townAddress}: ${(err as Error).message}`);
  });
  return {
    btp,
    townAddress,
    pricePerByte,
    assetCode,
    assetScale,
    blobServer: blobServerOf(options.relayUrl),
    blobPricePerMiB: info.blobPricePerMiB ?? DEFAULT_BLOB_PRICE_PER_MIB,
    client,
    write: (event) => client.write(event),
    sendPaid: (event, amount) => client.sendPaid(event, amount),
    send: (prepare) => btp.sendPrepare(prepare),
    close: async () => {
      await btp.close();
      await sender?.close();
    },
  };
}

/**
 * The sender of the named channel, else of the one `[channels] auto` uses. An automatic channel
 * the chain says is no longer open (its file learns it on the way) is replaced once.
 */
async function openSender(
  options: TownLinkOptions,
  townPubkey: string,
): Promise<ChannelSender | undefined> {
  const open = (channel: TownLinkChannel) =>
    openChannelSender({
      stateDir: channel.stateDir,
      channelId: channel.id,
      signer: options.signer,
      townPubkey,
      audit: channel.audit,
      chains: channel.chains,
      watchIntervalMs: channel.watchIntervalMs,
      prepay: channel.prepay,
      allowMainnet: channel.allowMainnet,
      topUp: options.channel ? undefined : options.autoChannel?.policy,
      alert: options.alert,
    });
  if (options.channel) return await open(options.channel);
  const auto = await autoChannelOf(options, townPubkey);
  if (auto === undefined) return undefined;
  try {
    return await open(auto);
  } catch (err) {
    if (!(err instanceof ChannelNotOpenError)) throw err;
    const next = await autoChannelOf(options, townPubkey);
    return next && await open(next);
  }
}

/** The channel `[channels] auto` picks or opens; undefined when it is off. */
async function autoChannelOf(
  options: TownLinkOptions,
  townPubkey: string,
): Promise<TownLinkChannel | undefined> {
  const auto = options.autoChannel;
  if (!auto?.policy.auto) return undefined;
  const { record } = await ensureAutoChannel({
    stateDir: auto.stateDir,
    signer: options.signer,
    townPubkey,
    relayUrl: options.relayUrl,
    policy: auto.policy,
    channels: auto.channels,
    chains: auto.chains,
    audit: auto.audit,
    info: auto.info,
    allowMainnet: auto.allowMainnet,
  });
  return { ...auto, id: record.channelId };
}

interface TownFees {
  pricePerByte?: bigint;
  ilpAddress?: string;
  self?: string;
  blobPricePerMiB?: bigint;
}

async function fetchTownFees(relayUrl: string): Promise<TownFees> {
  let doc: RelayInfo;
  try {
    doc = await fetchRelayInfo(relayUrl);
  } catch (err) {
    // Only a town that cannot be reached is an error: a missing or odd document means no fees
    // were published, and the caller falls back to its flags and defaults.
    if (err instanceof RelayInfoError && err.reason === "unreachable") {
      throw new TownUnreachableError(`relay ${relayUrl}: ${err.message}`);
    }
    if (err instanceof RelayInfoError) return {};
    throw err;
  }
  const fees = doc.fees as { publication?: unknown[] } | undefined;
  const fee = fees?.publication?.[0] as Record<string, unknown> | undefined;
  return {
    pricePerByte: typeof fee?.amount === "number" && Number.isSafeInteger(fee.amount)
      ? BigInt(fee.amount)
      : undefined,
    ilpAddress: typeof fee?.ilp_address === "string" ? fee.ilp_address : undefined,
    self: typeof doc.self === "string" && /^[0-9a-f]{64}$/.test(doc.self) ? doc.self : undefined,
    blobPricePerMiB: townBlobPrice(doc),
  };
}
