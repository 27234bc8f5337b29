/**
 * The paid packets of a town's BTP account, routed to the claim gate of the channel their claim
 * names, and a channel the town does not gate yet learned from the claim first
 * (town_channel_registry.ts holds the gates this reads and adds to).
 *
 * What goes in: each paid packet of an account, with the claim its frame carries (if any).
 * Where it goes:
 *
 * - no claim: the account's current gate, or straight to the router when the account settles
 *   over no channel (it is trusted as configured, as before channels);
 * - a claim that does not decode: the account's current gate (which refuses it), else refused;
 * - a claim on the current channel: its gate (btp_claim_gate.ts);
 * - a claim on another channel: learned first (roles/town/channels/channel_discovery.ts verifies it on
 *   chain; the channel file is written with `btp_account` and the audit line
 *   `payment channel <id> learned`), then its gate, which becomes the account's current one.
 *   Packets of the account that arrive meanwhile wait, in order. Refused, with the claim's
 *   reason and nothing written: a channel another account pays with (`channel-in-use`), a new
 *   channel while the current one is still open between other keys or on another contract
 *   (`channel-in-use`; the same two keys on the same contract cannot have two channels, so the
 *   old one was settled), anything the discovery refuses, and every claim naming a channel the
 *   town cannot learn because it settles on no readable chain (`unknown-channel`). A learning
 *   that fails otherwise (the channel file cannot be written) is an ILP internal error.
 *
 * @module
 */
import { encodeIlpReply, ILP_ERROR } from "../../../protocol/ilp_packet.ts";
import {
  ClaimError,
  decodeClaim,
  type PaymentChannelClaim,
} from "../../../protocol/payment_channel_claim.ts";
import type { AuditLog } from "../../../state/audit/audit_log.ts";
import {
  ChannelFileError,
  channelFilePath,
  type ChannelRecord,
  readChannel,
} from "../../../state/channels/channel_file.ts";
import { recordChannel } from "../../../state/channels/channel_writer.ts";
import { mergeChainSync } from "../../channels/channel_chain_sync.ts";
import { type BtpClaimGate, claimRejectReply } from "../../channels/btp_claim_gate.ts";
import type { ChannelDiscovery, DiscoveryChainClient } from "./channel_discovery.ts";
import { sameAddress } from "../../../chain/signer_check.ts";
import type { GateChainClient, GatedChannel } from "./town_channel_registry.ts";

/** The gates the routing reads and adds to (a {@linkcode TownChannelRegistry}'s). */
export interface LearnedChannelTable {
  /** The gate held for a channel (its id in lower case), whichever account it pays for. */
  byChannel(channelId: string): GatedChannel | undefined;
  /** The account's current channel. */
  current(account: string): GatedChannel | undefined;
  /** Gates a learned channel for the account and makes it the account's current one. */
  addLearned(account: string, record: ChannelRecord, client: GateChainClient): GatedChannel;
}

/** Options for {@linkcode LearnedChannelRouting}. */
export interface LearnedChannelRoutingOptions<C extends DiscoveryChainClient & GateChainClient> {
  stateDir: string;
  audit: AuditLog;
  triggeredBy: () => string;
  /** The gates by channel and by account. */
  channels: LearnedChannelTable;
  /** Learns channels named by claims; absent: claims on unknown channels are refused. */
  discovery?: ChannelDiscovery<C>;
  onReject?: (account: string, err: ClaimError) => void;
  /** Told once a learned channel is saved and gated (`replaced`: the account's previous one). */
  onLearned?: (account: string, record: ChannelRecord, replaced?: ChannelRecord) => void;
}

/**
 * Routes each account's paid packets and learns the channels their claims name (see the module
 * doc).
 *
 * It reads the chain: no example that runs here: tests/interop/anvil_channel_discovery_test.ts.
 */
export class LearnedChannelRouting<C extends DiscoveryChainClient & GateChainClient> {
  readonly #o: LearnedChannelRoutingOptions<C>;
  readonly #pending = new Map<string, Promise<void>>();
  readonly #routes = new Map<string, BtpClaimGate>();

  constructor(options: LearnedChannelRoutingOptions<C>) {
    this.#o = options;
  }

  /** The claim gate of an account, for `startTownNode({ claimGate })`. */
  claimGate(account: string): BtpClaimGate {
    let route = this.#routes.get(account);
    if (!route) {
      route = { handle: (packet, claim, next) => this.#handle(account, packet, claim, next) };
      this.#routes.set(account, route);
    }
    return route;
  }

  /**
   * The gate of the channel a claim names for the account: the one the town holds, else learned
   * (verified on chain, its file written, gated). Throws {@linkcode ClaimError} when refused.
   */
  async learn(account: string, claim: PaymentChannelClaim): Promise<GatedChannel> {
    const id = claim.channelId.toLowerCase() as `0x${string}`;
    const known = this.#known(account, id);
    if (known) return known;
    const current = this.#o.channels.current(account);
    if (!this.#o.discovery) {
      throw new ClaimError(
        "unknown-channel",
        current
          ? `account ${account} pays over channel ${current.gate.record().channelId}, not ${id}`
          : "this town learns no channels: it settles on no chain it can read " +
            '([channels] chains with [chains."<id>"] rpc_url, token_network and token)',
      );
    }
    const found = await this.#o.discovery.verify(account, claim);
    // Another account may have learned it while the chain was read.
    const raced = this.#known(account, id);
    if (raced) return raced;
    const before = current?.gate.record();
    if (
      before && before.status === "open" &&
      !(sameAddress(before.peerAddress, found.record.peerAddress) &&
        sameAddress(before.tokenNetworkAddress, found.record.tokenNetworkAddress))
    ) {
      throw new ClaimError(
        "channel-in-use",
        `account ${account} pays over channel ${before.channelId}, which is still open: ` +
          `close it before paying over ${id}`,
      );
    }
    const path = channelFilePath(this.#o.stateDir, id);
    const existing = await readChannel(path).catch((err) => {
      if (err instanceof Deno.errors.NotFound || err instanceof ChannelFileError) return undefined;
      throw err;
    });
    if (existing?.btpAccount !== undefined && existing.btpAccount !== account) {
      throw new ClaimError("channel-in-use", `channel ${id} pays for another account of this town`);
    }
    // A file the town already had (`channel recover`) keeps its newer claim counters.
    const record: ChannelRecord =
      existing && sameAddress(existing.selfAddress, found.record.selfAddress)
        ? { ...mergeChainSync(existing, found.record), btpAccount: account }
        : found.record;
    await recordChannel(record, {
      stateDir: this.#o.stateDir,
      audit: this.#o.audit,
      action: "learn",
      fields: {
        Account: account,
        "Peer-Deposit": record.peerDeposit.toString(),
        Verified: `on chain, TokenNetwork ${record.tokenNetworkAddress}`,
      },
    });
    const gated = this.#o.channels.addLearned(account, record, found.client);
    this.#o.onLearned?.(account, record, before);
    return gated;
  }

  #handle(
    account: string,
    packet: Uint8Array,
    claimBytes: Uint8Array | undefined,
    next: () => Promise<Uint8Array>,
  ): Promise<Uint8Array> {
    const waiting = this.#pending.get(account);
    if (waiting) return waiting.then(() => this.#handle(account, packet, claimBytes, next));
    const current = this.#o.channels.current(account);
    if (claimBytes === undefined) {
      return current ? current.gate.handle(packet, undefined, next) : next();
    }
    let claim: PaymentChannelClaim;
    try {
      claim = decodeClaim(claimBytes);
    } catch (err) {
      if (!(err instanceof ClaimError)) throw err;
      return current
        ? current.gate.handle(packet, claimBytes, next)
        : Promise.resolve(this.#refuse(account, err));
    }
    const channelId = claim.channelId.toLowerCase();
    if (current && current.gate.record().channelId.toLowerCase() === channelId) {
      return current.gate.handle(packet, claimBytes, next);
    }
    const learning = this.learn(account, claim);
    const done = learning.then(() => {}, () => {});
    this.#pending.set(account, done);
    done.then(() => {
      if (this.#pending.get(account) === done) this.#pending.delete(account);
    });
    return learning.then(
      (gated) => gated.gate.handle(packet, claimBytes, next),
      (err) => {
        if (err instanceof ClaimError) return this.#refuse(account, err);
        return encodeIlpReply({
          type: "reject",
          code: ILP_ERROR.internalError,
          triggeredBy: this.#o.triggeredBy(),
          message: `cannot record the channel ${channelId}: ${(err as Error).message}`.slice(
            0,
            500,
          ),
          data: new Uint8Array(0),
        });
      },
    );
  }

  #refuse(account: string, err: ClaimError): Uint8Array {
    this.#o.onReject?.(account, err);
    return claimRejectReply(err, this.#o.triggeredBy());
  }

  /** A channel the town already gates: this account's, or refused as another's. */
  #known(account: string, id: string): GatedChannel | undefined {
    const bound = this.#o.channels.byChannel(id);
    if (!bound) return undefined;
    if (bound.account !== account) {
      throw new ClaimError("channel-in-use", `channel ${id} pays for another account of this town`);
    }
    return bound;
  }
}
