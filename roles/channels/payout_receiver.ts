/**
 * A node's side of the town's payouts (docs/OPERATIONS.md "Paying providers"): the claims the
 * town signs on the channel it pays this node over (roles/town/channels/peer_payout.ts) arrive over the
 * node's BTP link (`BtpClient` `onClaim`) and are checked and kept with the town's own
 * verification code (roles/channels/btp_claim_gate.ts `openChannelClaimGate`: signature, chain,
 * contract, token, channel open on chain, nonce rising, amount never falling, within the
 * town's deposit), written to the channel file (`received`, `receivedNonce`,
 * `receivedSignature`) before the town is answered. From there the node closes or withdraws
 * with the commands a payee uses (`channel close`, `channel withdraw`); a lost state dir is
 * rebuilt with `channel recover`, and the town sends its newest claim again when the node
 * connects.
 *
 * A channel the node has no file for is learned from the chain: it must be open, between
 * this node's address and the town's (one of the two addresses of the town's Nostr key).
 * A claim already kept (the same nonce and amount, sent again) is answered as kept.
 *
 * With `watch`, the payout channels are watched on chain (roles/channels/channel_watcher.ts),
 * those kept from earlier runs included: a close by the town that would pay this node less than
 * its newest claim is answered with it during the settle timeout, and the channel is settled
 * after it. The town cannot close with a proof of its own (the contract takes only the
 * partner's), but it can close with none and hope the payee is not looking.
 *
 * @module
 */
import {
  ClaimError,
  decodeClaim,
  type PaymentChannelClaim,
} from "../../protocol/payment_channel_claim.ts";
import type { OnChainChannel, TokenNetworkClient } from "../../chain/token_network_client.ts";
import { sameAddress } from "../../chain/signer_check.ts";
import type { AuditLog } from "../../state/audit/audit_log.ts";
import {
  channelFilePath,
  type ChannelRecord,
  listChannels,
  readChannel,
} from "../../state/channels/channel_file.ts";
import { recordChannel } from "../../state/channels/channel_writer.ts";
import type { ChannelChain } from "./channel_chain_sync.ts";
import { type ChannelChange, type ChannelWatcher, startChannelWatcher } from "./channel_watcher.ts";
import { type ChannelClaimGate, openChannelClaimGate } from "./btp_claim_gate.ts";
import { newChannelRecord } from "./channel_record_builder.ts";
import { evmAddressesOfNostrPubkey } from "./channel_sender.ts";

/** The `peer_label` of a channel file this node learned from a payout claim. */
export const PAYOUT_CHANNEL_LABEL = "payouts from the town";

/** Options for {@linkcode PayoutReceiver}. */
export interface PayoutReceiverOptions {
  stateDir: string;
  audit?: AuditLog;
  /** This node's chain client (reads channels; its address is the payee). */
  client: Pick<
    TokenNetworkClient,
    "chain" | "address" | "tokenNetworkAddress" | "tokenAddress" | "getChannel"
  >;
  /** The town's Nostr pubkey: the channel's other participant must be its EVM address. */
  townPubkey: string;
  /** Told about each claim kept (its channel file as written). */
  onKept?: (record: ChannelRecord) => void;
  /** Watch the payout channels on chain with this client (answers a close, settles). */
  watch?: PayoutWatchOptions;
}

/** How {@linkcode PayoutReceiver} watches its channels. */
export interface PayoutWatchOptions {
  /** The chain calls (this node's `TokenNetworkClient`). */
  chain: ChannelChain;
  /** Poll period. Default the watcher's (15 s). */
  intervalMs?: number;
  /** Told after each saved change (`fields.Disputed`: the town's close paid less). */
  onChange?: (change: ChannelChange) => void;
  /** Told about a poll that failed. */
  onError?: (channelId: `0x${string}`, err: Error) => void;
}

/**
 * Keeps the town's payout claims.
 *
 * It takes a town's claims and reads the chain: no example that runs here:
 * tests/interop/anvil_town_payout_test.ts.
 */
export class PayoutReceiver {
  readonly #o: PayoutReceiverOptions;
  readonly #gates = new Map<string, Promise<ChannelClaimGate>>();
  readonly #town: `0x${string}`[];
  readonly #watcher: ChannelWatcher | undefined;

  constructor(options: PayoutReceiverOptions) {
    this.#o = options;
    this.#town = evmAddressesOfNostrPubkey(options.townPubkey);
    const watch = options.watch;
    this.#watcher = watch && startChannelWatcher({
      channels: [],
      intervalMs: watch.intervalMs,
      autoSettle: true,
      onChange: watch.onChange,
      onError: watch.onError,
    });
  }

  /**
   * Puts the payout channels kept from earlier runs (not settled) under watch; new ones are
   * watched from their first claim. Without `watch`: nothing.
   */
  async watchKept(): Promise<void> {
    if (!this.#watcher) return;
    for (const record of await listChannels(this.#o.stateDir)) {
      if (record.peerLabel !== PAYOUT_CHANNEL_LABEL || record.status === "settled") continue;
      await this.#gate({ channelId: record.channelId }).catch(() => {});
    }
  }

  /**
   * Checks and keeps one claim (the bytes of `payment-channel-claim`); resolves once it is on
   * disk. @throws {ClaimError} with the reason when it is refused.
   */
  async take(bytes: Uint8Array): Promise<ChannelRecord> {
    const claim = decodeClaim(bytes);
    const gate = await this.#gate(claim);
    const kept = gate.record();
    if (claim.nonce === kept.receivedNonce && claim.transferredAmount === kept.received) {
      return kept; // sent again (the town reconnected or lost our answer)
    }
    const accepted = await gate.verifier.accept(claim, 0n);
    await gate.writer.save(accepted.book);
    const record = gate.record();
    this.#o.onKept?.(record);
    return record;
  }

  /** The channel files of the claims kept so far, by channel id. */
  async records(): Promise<ChannelRecord[]> {
    return await Promise.all([...this.#gates.values()].map(async (g) => (await g).record()));
  }

  /** Stops the watch and waits for every channel file to be written. */
  async close(): Promise<void> {
    await this.#watcher?.stop();
    for (const gate of this.#gates.values()) {
      await (await gate.catch(() => undefined))?.writer.durable().catch(() => {});
    }
  }

  #gate(claim: Pick<PaymentChannelClaim, "channelId">): Promise<ChannelClaimGate> {
    const id = claim.channelId.toLowerCase();
    let gate = this.#gates.get(id);
    if (!gate) {
      gate = this.#open(id as `0x${string}`);
      this.#gates.set(id, gate);
      gate.then(
        (g) => {
          const chain = this.#o.watch?.chain;
          if (chain) this.#watcher?.add({ record: g.record, update: g.update, chain });
        },
        () => this.#gates.delete(id),
      );
    }
    return gate;
  }

  async #open(channelId: `0x${string}`): Promise<ChannelClaimGate> {
    const { client } = this.#o;
    const readOnChain = (id: `0x${string}`) => client.getChannel(id);
    let record: ChannelRecord;
    try {
      record = await readChannel(channelFilePath(this.#o.stateDir, channelId));
    } catch (err) {
      if (!(err instanceof Deno.errors.NotFound)) throw err;
      record = await this.#learn(
        channelId,
        await readOnChain(channelId).catch((e) => {
          throw new ClaimError("chain-unavailable", `cannot read channel ${channelId}: ${e}`);
        }),
      );
    }
    if (!this.#town.some((a) => sameAddress(a, record.peerAddress))) {
      throw new ClaimError(
        "unknown-channel",
        `channel ${channelId} is with ${record.peerAddress}, not with the town`,
      );
    }
    return openChannelClaimGate({
      stateDir: this.#o.stateDir,
      record,
      audit: this.#o.audit,
      readChannel: readOnChain,
      triggeredBy: () => "",
      payments: "claims",
    });
  }

  async #learn(channelId: `0x${string}`, onChain: OnChainChannel): Promise<ChannelRecord> {
    const self = this.#o.client.address;
    const { participant1, participant2 } = onChain;
    const peer = sameAddress(participant1, self)
      ? participant2
      : sameAddress(participant2, self)
      ? participant1
      : undefined;
    if (onChain.state !== "opened" || peer === undefined) {
      throw new ClaimError(
        "unknown-channel",
        `channel ${channelId} is not an open channel of ${self} on chain`,
      );
    }
    if (!this.#town.some((a) => sameAddress(a, peer))) {
      throw new ClaimError("unknown-channel", `channel ${channelId} is not with the town`);
    }
    const record: ChannelRecord = {
      ...newChannelRecord(this.#o.client, {
        channelId,
        peerAddress: peer,
        settleTimeout: onChain.settleTimeout,
      }),
      peerDeposit: onChain.participants[peer.toLowerCase()]?.deposit ?? 0n,
      peerLabel: PAYOUT_CHANNEL_LABEL,
    };
    await recordChannel(record, {
      stateDir: this.#o.stateDir,
      audit: this.#o.audit,
      action: "open",
    });
    return record;
  }
}
