/**
 * How a town learns a payment channel a payer opened to it without being told (no config, no
 * restart, no `channel recover`): the payer's first claim names the channel (the claim's
 * `chainId`, `tokenNetworkAddress`, `tokenAddress`, `channelId`; docs/PROTOCOL.md "Learning a
 * channel from its first claim"), and the town checks it on chain before trusting it.
 *
 * What goes in: a BTP account and a decoded claim naming a channel the town has no gate for.
 * What comes out: the channel's first record (status open, the payer as peer, the chain's
 * deposits, `btpAccount` set), or a {@linkcode ClaimError}; nothing is written here.
 *
 * Checked, in this order (cheap first, the chain last):
 *
 * 1. the claim's chain is one the town settles on and can read (`[channels] chains` with an
 *    `rpc_url`, `token_network` and `token`), with that contract and token (`wrong-chain`,
 *    `wrong-contract`, `wrong-token`);
 * 2. the channel was not found unusable on chain in the last minute (the reason is repeated, no
 *    chain call);
 * 3. the claim's EIP-712 signature recovers to an address other than the town's
 *    (`bad-signature`);
 * 4. the account's and the town's discovery budgets allow a chain read (`rate-limited`, T05):
 *    per account a burst of 3 then one every 10 s, in all a burst of 10 then one a second, one
 *    read at a time, at most 16 waiting;
 * 5. on chain (one `getChannel`, and once per chain the contract's `token`): the channel exists
 *    (`unknown-channel`), is between the signer and the town (`unknown-channel`, or
 *    `bad-signature` when the signer is not a participant), is open (`channel-not-open`), the
 *    payer has a deposit there (`beyond-deposit`, T04: temporary), and the contract holds the
 *    configured token (`wrong-token`).
 *
 * Only facts about the channel itself are remembered as unusable (not on chain, not with the
 * town, closed): a forged claim cannot make a payer's real channel unusable. The remembered
 * list is bounded (oldest dropped). An unreadable chain is `chain-unavailable` (T00), never
 * remembered.
 *
 * @module
 */
import {
  BalanceProofSignatureError,
  recoverBalanceProofSignerKey,
} from "../../../chain/balance_proof.ts";
import type { OnChainChannel, TokenNetworkClient } from "../../../chain/token_network_client.ts";
import {
  ClaimError,
  type ClaimRejectReason,
  type PaymentChannelClaim,
} from "../../../protocol/payment_channel_claim.ts";
import type { ChannelRecord } from "../../../state/channels/channel_file.ts";
import { applyChainState } from "../../channels/channel_chain_sync.ts";
import { newChannelRecord } from "../../channels/channel_record_builder.ts";
import { TokenBucket, type TokenBucketOptions } from "../token_bucket.ts";
import { sameAddress } from "../../../chain/signer_check.ts";

/** The chain calls discovery makes, and what a new record needs: `TokenNetworkClient` fits. */
export type DiscoveryChainClient = Pick<
  TokenNetworkClient,
  "chain" | "address" | "tokenNetworkAddress" | "tokenAddress" | "getChannel" | "contractToken"
>;

/** Budgets of chain reads for channels the town does not know. */
export interface ChannelDiscoveryLimits {
  /** Per BTP account. Default a burst of 3, then one every 10 s. */
  perAccount: Omit<TokenBucketOptions, "now">;
  /** For the whole town. Default a burst of 10, then one a second. */
  overall: Omit<TokenBucketOptions, "now">;
  /** Reads waiting behind the one running, at most. Default 16. */
  maxWaiting: number;
  /** Channels remembered as unusable, at most. Default 1024. */
  maxRemembered: number;
  /** How long a channel stays remembered as unusable. Default 60 s. */
  rememberMs: number;
}

/** The default {@linkcode ChannelDiscoveryLimits}. */
export const DEFAULT_DISCOVERY_LIMITS: ChannelDiscoveryLimits = {
  perAccount: { capacity: 3, ratePerSecond: 0.1 },
  overall: { capacity: 10, ratePerSecond: 1 },
  maxWaiting: 16,
  maxRemembered: 1024,
  rememberMs: 60_000,
};

/** Options for {@linkcode ChannelDiscovery}. */
export interface ChannelDiscoveryOptions<C extends DiscoveryChainClient = DiscoveryChainClient> {
  /** The town's EVM address: one participant of every channel it learns. */
  selfAddress: `0x${string}`;
  /** A client per chain the town settles on and can read, each bound to the town's contract. */
  chains: readonly C[];
  /** Chains the town settles on but cannot read, by chain id string, with why (for messages). */
  unreadable?: Readonly<Record<string, string>>;
  limits?: Partial<ChannelDiscoveryLimits>;
  /** Monotonic clock in milliseconds (tests). Default `performance.now`. */
  now?: () => number;
}

/** A channel verified on chain, ready to be saved and gated. */
export interface DiscoveredChannel<C extends DiscoveryChainClient = DiscoveryChainClient> {
  /** The first record: status open, deposits and settle timeout from the chain. */
  record: ChannelRecord;
  /** The chain client it was read with (its contract and token are the record's). */
  client: C;
}

interface Remembered {
  reason: ClaimRejectReason;
  detail: string;
  until: number;
}

/**
 * Verifies channels named by claims the town has no gate for.
 *
 * It reads the chain: no example that runs here: tests/interop/anvil_channel_discovery_test.ts.
 */
export class ChannelDiscovery<C extends DiscoveryChainClient = DiscoveryChainClient> {
  readonly #o: ChannelDiscoveryOptions<C>;
  readonly #limits: ChannelDiscoveryLimits;
  readonly #now: () => number;
  readonly #accounts = new Map<string, TokenBucket>();
  readonly #overall: TokenBucket;
  readonly #bad = new Map<string, Remembered>();
  readonly #tokenChecked = new Map<number, Promise<void>>();
  #queue: Promise<unknown> = Promise.resolve();
  #waiting = 0;

  constructor(options: ChannelDiscoveryOptions<C>) {
    this.#o = options;
    this.#limits = { ...DEFAULT_DISCOVERY_LIMITS, ...options.limits };
    this.#now = options.now ?? (() => performance.now());
    this.#overall = new TokenBucket({ ...this.#limits.overall, now: this.#now });
  }

  /** The chain ids (`evm:base:<n>`) channels are learned on. */
  get chainIds(): string[] {
    return this.#o.chains.map((c) => c.chain.id);
  }

  /**
   * The token the town settles in on a chain it learns channels on (by EIP-155 id) with that
   * TokenNetwork contract, or undefined when the town learns no channel there.
   */
  tokenOn(chainId: number, tokenNetworkAddress: string): `0x${string}` | undefined {
    return this.#o.chains.find((c) =>
      c.chain.chainId === chainId && sameAddress(c.tokenNetworkAddress, tokenNetworkAddress)
    )?.tokenAddress;
  }

  /**
   * The record of a channel the town's shared books hold a claim on (another process of the town
   * learned it), read on chain without the budgets (the books are the town's own, not a peer's
   * word): on the first chain the town learns on where the channel is between the town and the
   * claim's signer, open or closed (a close is what is to be answered). Undefined when none holds
   * it so; a failed chain read rejects.
   */
  async adopt(book: {
    channelId: `0x${string}`;
    nonce: bigint;
    claimed: bigint;
    signature: `0x${string}`;
  }): Promise<DiscoveredChannel<C> | undefined> {
    for (const client of this.#o.chains) {
      let payer: `0x${string}`;
      try {
        payer = recoverBalanceProofSignerKey(
          { channelId: book.channelId, nonce: book.nonce, transferredAmount: book.claimed },
          book.signature,
          { chainId: client.chain.chainId, verifyingContract: client.tokenNetworkAddress },
        ).address;
      } catch (err) {
        if (err instanceof BalanceProofSignatureError) continue;
        throw err;
      }
      const onChain = await client.getChannel(book.channelId);
      if (onChain.state !== "opened" && onChain.state !== "closed") continue;
      const members = [onChain.participant1, onChain.participant2];
      const peerAddress = members.find((m) => sameAddress(m, payer));
      if (!members.some((m) => sameAddress(m, this.#o.selfAddress)) || !peerAddress) continue;
      const record = applyChainState(
        newChannelRecord(client, {
          channelId: book.channelId.toLowerCase() as `0x${string}`,
          peerAddress,
          settleTimeout: onChain.settleTimeout,
        }),
        onChain,
      );
      return { record, client };
    }
    return undefined;
  }

  /**
   * Checks the claim's channel (see the module doc); resolves with its first record or
   * rejects with a {@linkcode ClaimError}.
   */
  verify(account: string, claim: PaymentChannelClaim): Promise<DiscoveredChannel<C>> {
    try {
      const client = this.#chainOf(claim);
      this.#checkRemembered(claim.channelId);
      const payer = this.#signer(claim, client);
      this.#spend(account);
      return this.#serial(() => this.#read(account, claim, client, payer));
    } catch (err) {
      return Promise.reject(err);
    }
  }

  #chainOf(claim: PaymentChannelClaim): C {
    const client = this.#o.chains.find((c) => c.chain.chainId === claim.chainId);
    if (!client) {
      const unreadable = Object.entries(this.#o.unreadable ?? {}).find(([id]) =>
        id.endsWith(`:${claim.chainId}`)
      );
      const settles = this.chainIds.join(", ") || "none";
      throw new ClaimError(
        "wrong-chain",
        unreadable
          ? `this town cannot verify channels on ${unreadable[0]}: ${unreadable[1]}`
          : `chain ${claim.chainId} is not one this town settles on (it settles on: ${settles})`,
      );
    }
    if (!sameAddress(claim.tokenNetworkAddress, client.tokenNetworkAddress)) {
      throw new ClaimError(
        "wrong-contract",
        `TokenNetwork ${claim.tokenNetworkAddress}, this town uses ${client.tokenNetworkAddress}`,
      );
    }
    if (!sameAddress(claim.tokenAddress, client.tokenAddress)) {
      throw new ClaimError(
        "wrong-token",
        `token ${claim.tokenAddress}, this town settles in ${client.tokenAddress}`,
      );
    }
    return client;
  }

  #checkRemembered(channelId: string): void {
    const key = channelId.toLowerCase();
    const hit = this.#bad.get(key);
    if (!hit) return;
    if (hit.until > this.#now()) throw new ClaimError(hit.reason, hit.detail);
    this.#bad.delete(key);
  }

  #remember(channelId: string, reason: ClaimRejectReason, detail: string): ClaimError {
    const key = channelId.toLowerCase();
    this.#bad.delete(key);
    this.#bad.set(key, { reason, detail, until: this.#now() + this.#limits.rememberMs });
    // Maps iterate in insertion order: the first key is the oldest.
    while (this.#bad.size > this.#limits.maxRemembered) {
      this.#bad.delete(this.#bad.keys().next().value!);
    }
    return new ClaimError(reason, detail);
  }

  #signer(claim: PaymentChannelClaim, client: DiscoveryChainClient): `0x${string}` {
    let address: `0x${string}`;
    try {
      address = recoverBalanceProofSignerKey(
        {
          channelId: claim.channelId,
          nonce: claim.nonce,
          transferredAmount: claim.transferredAmount,
        },
        claim.signature,
        { chainId: claim.chainId, verifyingContract: client.tokenNetworkAddress },
      ).address;
    } catch (err) {
      if (err instanceof BalanceProofSignatureError) {
        throw new ClaimError("bad-signature", err.message);
      }
      throw err;
    }
    if (sameAddress(address, this.#o.selfAddress)) {
      throw new ClaimError("bad-signature", "the claim is signed by the town's own key");
    }
    return address;
  }

  #spend(account: string): void {
    let bucket = this.#accounts.get(account);
    if (!bucket) {
      bucket = new TokenBucket({ ...this.#limits.perAccount, now: this.#now });
      this.#accounts.set(account, bucket);
    }
    const limited = (why: string) =>
      new ClaimError(
        "rate-limited",
        `${why}: the town reads channels it does not know yet at a bounded rate; ` +
          "send the claim again in a few seconds",
      );
    if (this.#waiting >= this.#limits.maxWaiting) {
      throw limited("too many unknown channels are being checked");
    }
    if (!bucket.take()) throw limited(`too many unknown channels named by account ${account}`);
    if (!this.#overall.take()) throw limited("too many unknown channels named");
  }

  #serial<T>(fn: () => Promise<T>): Promise<T> {
    this.#waiting++;
    const run = this.#queue.then(fn).finally(() => this.#waiting--);
    this.#queue = run.catch(() => {});
    return run;
  }

  async #read(
    account: string,
    claim: PaymentChannelClaim,
    client: C,
    payer: `0x${string}`,
  ): Promise<DiscoveredChannel<C>> {
    // A claim queued behind a read of the same channel learns that read's verdict.
    this.#checkRemembered(claim.channelId);
    let onChain: OnChainChannel;
    try {
      onChain = await client.getChannel(claim.channelId);
      await this.#checkToken(client);
    } catch (err) {
      if (err instanceof ClaimError) throw err;
      throw new ClaimError(
        "chain-unavailable",
        `cannot read channel ${claim.channelId}: ${(err as Error).message}`,
      );
    }
    const id = claim.channelId;
    if (onChain.state === "none") {
      throw this.#remember(
        id,
        "unknown-channel",
        `channel ${id} does not exist on chain: the TokenNetwork ${client.tokenNetworkAddress} ` +
          "never opened it (or it was settled)",
      );
    }
    const members = [onChain.participant1, onChain.participant2];
    if (!members.some((m) => sameAddress(m, this.#o.selfAddress))) {
      throw this.#remember(
        id,
        "unknown-channel",
        `channel ${id} is not with this town (${this.#o.selfAddress}): it is between ` +
          `${onChain.participant1} and ${onChain.participant2}`,
      );
    }
    if (!members.some((m) => sameAddress(m, payer))) {
      throw new ClaimError(
        "bad-signature",
        `the claim is signed by ${payer}, who is not a participant of channel ${id}`,
      );
    }
    if (onChain.state !== "opened") {
      throw this.#remember(id, "channel-not-open", `channel ${id} is ${onChain.state} on chain`);
    }
    const theirs = onChain.participants[payer.toLowerCase()];
    if (!theirs || theirs.deposit - theirs.withdrawn <= 0n) {
      throw new ClaimError(
        "beyond-deposit",
        `the payer has no deposit in channel ${id} yet: deposit first, then claim`,
      );
    }
    const peerAddress = members.find((m) => sameAddress(m, payer))!;
    const record = applyChainState(
      {
        ...newChannelRecord(client, {
          channelId: id.toLowerCase() as `0x${string}`,
          peerAddress,
          settleTimeout: onChain.settleTimeout,
        }),
        btpAccount: account,
      },
      onChain,
    );
    return { record, client };
  }

  #checkToken(client: DiscoveryChainClient): Promise<void> {
    const chainId = client.chain.chainId;
    let checked = this.#tokenChecked.get(chainId);
    if (!checked) {
      checked = client.contractToken().then((token) => {
        if (!sameAddress(token, client.tokenAddress)) {
          throw new ClaimError(
            "wrong-token",
            `the TokenNetwork ${client.tokenNetworkAddress} holds ${token}, not the configured ` +
              `token ${client.tokenAddress}: fix [chains."${client.chain.id}"] token`,
          );
        }
      });
      this.#tokenChecked.set(chainId, checked);
      // An unreadable chain is asked again next time; a wrong token stays wrong.
      checked.catch((err) => {
        if (!(err instanceof ClaimError)) this.#tokenChecked.delete(chainId);
      });
    }
    return checked;
  }
}
