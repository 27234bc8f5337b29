/**
 * Rebuilding channel files from the chain (`turnpike channel recover`): every channel the
 * TokenNetwork's events show for this node's account gets its file back, with the chain's
 * numbers; a file that survived keeps its newer claim counters (the chain never knew them). For
 * a channel this node pays over, the claims it signed live off chain, with the peer: the peer is
 * asked for the newest one it holds (`last-claim` over BTP), and the file takes it when it is
 * ahead. A peer that cannot tell leaves the file as the chain shows it, with the reason on the
 * audit trail and told to the caller.
 *
 * @module
 */
import { RoleError } from "../role_error.ts";
import type { Hex } from "viem";
import type { TokenNetworkClient } from "../../chain/token_network_client.ts";
import type { AuditLog } from "../../state/audit/audit_log.ts";
import {
  ChannelFileError,
  channelFilePath,
  type ChannelRecord,
  readChannel,
} from "../../state/channels/channel_file.ts";
import { recordChannel } from "../../state/channels/channel_writer.ts";
import type { BtpClient } from "../../transport/btp_client.ts";
import { applyChainState, mergeChainSync } from "./channel_chain_sync.ts";
import { cosignFailure, isPeerUnreachable } from "./channel_close.ts";
import { type LastClaim, requestLastClaim } from "./channel_cosign_request.ts";
import { ChannelPeerError } from "./channel_peer_resolver.ts";
import { DEFAULT_WARN_PERCENT } from "../../config/channel_settings.ts";
import { newChannelRecord } from "./channel_record_builder.ts";

/** No BTP URL of the peer was given (flag, environment or config), nor a town to ask. */
export class NoPeerUrlError extends RoleError {
  override name = "NoPeerUrlError";
  /**
   * @example
   * ```ts
   * import assert from "node:assert/strict";
   * import { NoPeerUrlError } from "./channel_recover.ts";
   * assert.match(new NoPeerUrlError().message, /no BTP URL of the peer/);
   * ```
   */
  constructor() {
    super("no BTP URL of the peer (the town) is configured, nor the town's URL to ask it");
  }
}

/** Options for {@linkcode recoverChannels}. */
export interface RecoverChannelsOptions {
  /** The chain client of this node's account, on the chain to recover from. */
  client: TokenNetworkClient;
  stateDir: string;
  audit?: AuditLog;
  /** Low-balance warning threshold of rebuilt files, percent of the deposit (default 10). */
  warnPercent?: number;
  /** Holds the channel's lock while its file is rebuilt (`state/channels/channel_lock.ts`). */
  lock: (channelId: string) => Promise<AsyncDisposable>;
  /** The peer to ask for our newest claim; connected on first use (it may throw). */
  peer: () => Promise<BtpClient>;
  /** Told the peer's copy of our newest claim on a channel. */
  onLastClaim?: (record: ChannelRecord, last: LastClaim) => void;
  /** Told why the peer's copy is unknown (the file keeps what the chain shows). */
  onLastClaimUnknown?: (record: ChannelRecord, why: string, err: unknown) => void;
}

/**
 * Rebuilds every channel file of the client's account from the chain, as the module doc says;
 * returns the records written.
 *
 * It reads the chain and asks the peers: no example that runs here:
 * tests/interop/anvil_channel_recover_test.ts.
 */
export async function recoverChannels(options: RecoverChannelsOptions): Promise<ChannelRecord[]> {
  const { client, stateDir, audit } = options;
  const byId = new Map<
    string,
    { opened?: Record<string, unknown>; openTx?: Hex; settled: boolean }
  >();
  for (const e of await client.channelEvents()) {
    const entry = byId.get(e.channelId) ?? { settled: false };
    if (e.event === "opened") {
      entry.opened = e.args;
      entry.openTx = e.transactionHash;
    }
    if (e.event === "settled") entry.settled = true;
    byId.set(e.channelId, entry);
  }
  const recovered: ChannelRecord[] = [];
  for (const [channelId, entry] of byId) {
    if (!entry.opened) continue;
    await using _lock = await options.lock(channelId);
    const p1 = String(entry.opened.participant1) as `0x${string}`;
    const p2 = String(entry.opened.participant2) as `0x${string}`;
    const peerAddress = p1.toLowerCase() === client.address.toLowerCase() ? p2 : p1;
    const base = newChannelRecord(client, {
      channelId: channelId as Hex,
      peerAddress,
      settleTimeout: BigInt(entry.opened.settleTimeout as bigint),
      status: entry.settled ? "settled" : "open",
      openTx: entry.openTx,
      warnPercent: options.warnPercent ?? DEFAULT_WARN_PERCENT,
    });
    const fromChain = entry.settled
      ? base
      : applyChainState(base, await client.getChannel(base.channelId));
    const existing = await readChannel(channelFilePath(stateDir, channelId)).catch((err) => {
      // Missing or unreadable: what recover is for; anything else (permissions) is not.
      if (err instanceof Deno.errors.NotFound || err instanceof ChannelFileError) return;
      throw err;
    });
    let record = existing ? mergeChainSync(existing, fromChain) : fromChain;
    const fields: Record<string, string> = {};
    if (paysOver(record)) record = await withLastClaim(options, record, fields);
    await recordChannel(record, { stateDir, audit, action: "recover", fields });
    recovered.push(record);
  }
  return recovered;
}

/**
 * This node pays its peer over the channel (it funded it) and the balances still matter: the
 * claims it signed live off chain, with the peer.
 */
function paysOver(record: ChannelRecord): boolean {
  return record.deposit > 0n && (record.status === "open" || record.status === "closed");
}

/**
 * The record with `sent`/`sentNonce` from the peer's copy of our newest claim when it is ahead
 * of the chain's; the record unchanged (and the reason told) when the peer cannot tell.
 */
async function withLastClaim(
  options: RecoverChannelsOptions,
  record: ChannelRecord,
  fields: Record<string, string>,
): Promise<ChannelRecord> {
  try {
    const last = await requestLastClaim({ peer: await options.peer(), record });
    options.onLastClaim?.(record, last);
    fields.PeerLastClaim = `nonce ${last.nonce} ${last.transferredAmount}`;
    if (last.nonce <= record.sentNonce) return record;
    fields.Sent = `${last.transferredAmount} (nonce ${last.nonce}, the peer's last claim)`;
    return { ...record, sent: last.transferredAmount, sentNonce: last.nonce };
  } catch (err) {
    const why = err instanceof NoPeerUrlError || isPeerUnreachable(err)
      ? err.message
      : err instanceof ChannelPeerError
      ? `${err.message} (${err.context ?? err.reason})`
      : cosignFailure(err);
    if (why === undefined) throw err;
    options.onLastClaimUnknown?.(record, why, err);
    fields.PeerLastClaim = `unknown (${why})`.replace(/\s+/g, " ").slice(0, 200);
    return record;
  }
}
