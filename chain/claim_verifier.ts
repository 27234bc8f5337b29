/**
 * The receiving side of payment channel claims: decides whether a packet from the BTP peer may
 * be forwarded. A claim is accepted only when, in this order:
 *
 * 1. it is for this node's chain, TokenNetwork contract and token (`wrong-chain`,
 *    `wrong-contract`, `wrong-token`);
 * 2. its EIP-712 signature recovers to the peer's address (`bad-signature`): the first such claim
 *    gives the peer's public key, later ones are checked by ECDSA verification against it with
 *    precomputed tables, several times cheaper than recovering and the same accept/reject
 *    (chain/balance_proof_signer_key.ts {@linkcode BalanceProofSignerKey}, bench/claim_verify_bench.ts);
 * 3. its channel exists on chain, is open, and is between the peer and this node
 *    (`unknown-channel`, `channel-not-open`; read on chain the first time, cached after);
 * 4. its nonce is above every nonce accepted before (`replayed-nonce`) and its cumulative amount
 *    does not go down (`amount-decreased`);
 * 5. its amount is within the peer's deposit minus what the peer withdrew (`beyond-deposit`; the
 *    chain is re-read once before refusing, the peer may have topped up; a withdrawal this node
 *    co-signed counts from {@linkcode ClaimVerifier.noteWithdraw} on, before it is mined);
 * 6. together with earlier claims it covers everything forwarded so far plus this packet, up to
 *    the configured credit limit (`not-covered` without credit, `credit-limit-exceeded` with).
 *
 * A packet may come without a claim when the newest claim (or the credit) already covers it.
 * Nothing of a rejected claim is kept. Calls are serialised, so concurrent packets cannot both
 * spend the same cover. Every rejection is a `ClaimError` with the reason token.
 *
 * The books go through state/channels/channel_book.ts {@linkcode ChannelBook}: without `sharedBooks`
 * this process's own (state/channels/file_channel_book.ts, resumed from `books`). With `sharedBooks` (a
 * town on several processes, docs/OPERATIONS.md) the books are those of the shared store: steps 4 and 6 run on the channel's book locked in the database, so two
 * processes never spend the same cover; a claim the book already holds, or one below its
 * newest (the peer's packets reached another process in another order), carries nothing new
 * and the packet is charged as one without a claim. A book another process co-signed a settle
 * of (`closing`) refuses every packet (`channel-not-open`), and a withdraw it co-signed caps
 * claims here from the next packet on.
 *
 * @module
 */
import type { ChannelBook, ClaimBook } from "../state/channels/channel_book.ts";
import { FileChannelBook } from "../state/channels/file_channel_book.ts";
import {
  ClaimError,
  type PaymentChannelClaim,
  validateClaim,
} from "../protocol/payment_channel_claim.ts";
import {
  type BalanceProof,
  BalanceProofSignatureError,
  recoverBalanceProofSignerKey,
} from "./balance_proof.ts";
import { BalanceProofSignerKey } from "./balance_proof_signer_key.ts";
import type { OnChainChannel } from "./token_network_client.ts";
import { sameAddress } from "./signer_check.ts";
import { SAFE_TOKEN_NETWORK_VERSION } from "./token_network_version.ts";

export type { ClaimBook };

/** Options for {@linkcode ClaimVerifier}. */
export interface ClaimVerifierOptions {
  /** EVM chain id this node settles on; claims for another are `wrong-chain`. */
  chainId: number;
  /** This node's TokenNetwork contract; claims for another are `wrong-contract`. */
  tokenNetworkAddress: `0x${string}`;
  /** The ERC-20 settled in; claims for another are `wrong-token`. */
  tokenAddress: `0x${string}`;
  /** The BTP peer's EVM address: the only signer accepted. */
  peerAddress: `0x${string}`;
  /** This node's EVM address: the other participant. */
  selfAddress: `0x${string}`;
  /** Reads a channel on chain; `TokenNetworkClient.getChannel` fits. */
  readChannel: (channelId: `0x${string}`) => Promise<OnChainChannel>;
  /** Value forwarded beyond the claims that is tolerated (base units). Default 0. */
  creditLimit?: bigint;
  /** Books to resume from (from the channel files after a restart). */
  books?: ClaimBook[];
  /**
   * The books of the town's shared store (see the module doc); absent: this process's own, a
   * {@linkcode FileChannelBook} of `books`.
   */
  sharedBooks?: ChannelBook;
  /**
   * The channel a packet without a claim is charged to before this process saw a claim (with
   * `sharedBooks`: another process may have taken the claims that cover it).
   */
  currentChannel?: `0x${string}`;
}

/** Outcome of an accepted packet. */
export interface ClaimAcceptance {
  /** The channel the packet was charged to. */
  channelId: `0x${string}`;
  /** True when this call carried a new claim that was accepted. */
  newClaim: boolean;
  /** Forwarded total minus claimed total after this packet (>0: running on credit). */
  credit: bigint;
  /** The channel's book after this packet (a copy): persist it. */
  book: ClaimBook;
}

interface CachedChannel {
  deposit: bigint;
  withdrawn: bigint;
}

/**
 * Verifies claims and packet cover for one BTP peer.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { ClaimVerifier } from "./claim_verifier.ts";
 * import { ClaimSigner } from "./claim_signer.ts";
 * import { ClaimError } from "../protocol/payment_channel_claim.ts";
 * import { generatePrivateKey, privateKeyToAccount } from "viem/accounts";
 *
 * const peer = privateKeyToAccount(generatePrivateKey());
 * const self: `0x${string}` = `0x${"12".repeat(20)}`;
 * const channel = { chainId: 31337, tokenNetworkAddress: `0x${"cd".repeat(20)}`, tokenAddress: `0x${"ef".repeat(20)}`, channelId: `0x${"ab".repeat(32)}` } as const;
 * const payer = new ClaimSigner({ account: peer, ...channel, deposit: 50_000_000n }); // the peer's side
 * const verifier = new ClaimVerifier({
 *   ...channel, peerAddress: peer.address, selfAddress: self,
 *   // TokenNetworkClient.getChannel fits; here, the channel as the chain would report it
 *   readChannel: (channelId) => Promise.resolve({ channelId, state: "opened", participant1: peer.address, participant2: self,
 *     settleTimeout: 600n, settleAt: 0n, closer: `0x${"00".repeat(20)}`, contractVersion: 2n,
 *     participants: { [peer.address.toLowerCase()]: { deposit: 50_000_000n, transferredAmount: 0n, nonce: 0n, withdrawn: 0n } } }),
 * });
 * assert.equal((await verifier.accept(await payer.pay(1500n), 1500n)).newClaim, true); // a claim covering the packet
 * await assert.rejects(verifier.accept(undefined, 1n), ClaimError); // a packet beyond the claims: not covered
 * verifier.noteWithdraw(channel.channelId, 49_999_000n); // before co-signing the peer's withdraw: the cap falls to 1000
 * await assert.rejects(verifier.accept(await payer.pay(1n), 1n), ClaimError); // 1501 claimed > 1000
 * ```
 */
export class ClaimVerifier {
  readonly #o: ClaimVerifierOptions;
  readonly #creditLimit: bigint;
  // This process's copy of each book: the newest `#store` gave back (read by `book`).
  readonly #books = new Map<string, ClaimBook>();
  readonly #store: ChannelBook;
  // The store when it is this process's own: read at once after an update (see `#kept`).
  readonly #own: FileChannelBook | undefined;
  readonly #channels = new Map<string, CachedChannel>();
  // Withdrawals this node co-signed; kept apart from the cache so a re-read of a chain that has
  // not mined the withdrawal yet cannot raise the cap again.
  readonly #notedWithdrawn = new Map<string, bigint>();
  #queue: Promise<unknown> = Promise.resolve();
  #current: string | undefined;
  // The channel id of `#current` as given, for a shared book this process has no copy of yet.
  #currentId: `0x${string}` | undefined;
  // The peer's key, once a claim's signature recovered to the peer's address.
  #peerKey: BalanceProofSignerKey | undefined;

  /** Resumes from `options.books`; packets without a claim go to the last book listed. */
  constructor(options: ClaimVerifierOptions) {
    this.#o = options;
    this.#creditLimit = options.creditLimit ?? 0n;
    this.#own = options.sharedBooks ? undefined : new FileChannelBook(options.books);
    this.#store = options.sharedBooks ?? this.#own!;
    for (const book of options.books ?? []) {
      this.#books.set(book.channelId.toLowerCase(), { ...book });
      this.#current = book.channelId.toLowerCase();
      this.#currentId = book.channelId;
      if (book.peerWithdrawn) this.noteWithdraw(book.channelId, book.peerWithdrawn);
    }
    if (this.#current === undefined && options.currentChannel !== undefined) {
      this.#current = options.currentChannel.toLowerCase();
      this.#currentId = options.currentChannel;
    }
  }

  /** The book of a channel (a copy), if any claim or packet was seen. */
  book(channelId: `0x${string}`): ClaimBook | undefined {
    const b = this.#books.get(channelId.toLowerCase());
    return b ? { ...b } : undefined;
  }

  /**
   * Accepts a packet of `amount` with an optional claim, or throws {@linkcode ClaimError}.
   * Without a claim the packet is charged to the channel of the newest accepted claim.
   */
  accept(claim: PaymentChannelClaim | undefined, amount: bigint): Promise<ClaimAcceptance> {
    const run = this.#queue.then(() => this.#accept(claim, amount));
    this.#queue = run.catch(() => {});
    return run;
  }

  /** Gives back cover for a packet that was accepted but then not forwarded/fulfilled. */
  release(channelId: `0x${string}`, amount: bigint): void {
    const book = this.#books.get(channelId.toLowerCase());
    if (book && this.#store.shared) book.inFlight = minus(book.inFlight ?? 0n, amount);
    else if (book) book.forwarded = minus(book.forwarded, amount);
    // Unreachable store: the value stays counted as forwarded (the peer's cover is short by it;
    // never the other way round).
    this.#store.release(channelId, amount).catch(() => {});
  }

  /**
   * Counts an accepted packet delivered once it is FULFILLed, before the FULFILL goes out: on
   * shared books it moves from in flight to `forwarded` (what a close pays), so a process killed
   * before its write committed never has it counted; on this process's own books it was counted
   * at the check, and the channel file's delivered value is the gate's (roles/channels/btp_claim_gate.ts).
   */
  async deliver(channelId: `0x${string}`, amount: bigint): Promise<void> {
    const store = this.#store;
    if (!store.shared || store.deliver === undefined) return;
    await store.deliver(channelId, amount);
    const book = this.#books.get(channelId.toLowerCase());
    if (book) {
      book.inFlight = minus(book.inFlight ?? 0n, amount);
      book.forwarded += amount;
    }
  }

  async #accept(
    claim: PaymentChannelClaim | undefined,
    amount: bigint,
  ): Promise<ClaimAcceptance> {
    if (amount < 0n) throw new RangeError("amount must not be negative");
    if (claim === undefined) return await this.#charge(amount);
    validateClaim(claim);
    this.#checkTarget(claim);
    this.#checkSignature(claim);
    const key = claim.channelId.toLowerCase();
    const channel = await this.#channel(claim.channelId, false);
    const empty: ClaimBook = { channelId: claim.channelId, nonce: 0n, claimed: 0n, forwarded: 0n };
    const store = this.#store;
    let newClaim = true;
    let credit = 0n;
    const book = await store.update(
      claim.channelId,
      this.#books.get(key) ?? empty,
      async (prev) => {
        if (!store.shared) {
          const next = await this.#nextBook(claim, prev, key, channel);
          credit = this.#checkCover(next, amount);
          return { ...next, forwarded: next.forwarded + amount };
        }
        this.#checkShared(prev);
        if (claim.nonce <= prev.nonce && claim.transferredAmount <= prev.claimed) {
          newClaim = false;
          credit = this.#checkCover(prev, amount);
          return sharedCharge(prev, amount);
        }
        const next = await this.#nextBook(claim, prev, key, channel);
        newClaim = true;
        credit = this.#checkCover(next, amount);
        return sharedCharge(next, amount);
      },
    );
    const kept = this.#kept(claim.channelId, book);
    this.#books.set(key, kept);
    this.#current = key;
    this.#currentId = claim.channelId;
    return { channelId: claim.channelId, newClaim, credit, book: { ...kept } };
  }

  /**
   * The copy to keep after an update: on this process's own books the book as it is now, since
   * a REJECT's release between the update's end and here changed the store's book but not the
   * copy the update returned (kept as it was, the refused packet would count as delivered).
   */
  #kept(channelId: `0x${string}`, updated: ClaimBook): ClaimBook {
    return this.#own?.current(channelId) ?? { ...updated };
  }

  /** The book after `claim` on `prev` (forwarded unchanged), or the claim's rejection. */
  async #nextBook(
    claim: PaymentChannelClaim,
    prev: ClaimBook,
    key: string,
    channel: CachedChannel,
  ): Promise<ClaimBook> {
    if (claim.nonce <= prev.nonce) {
      throw new ClaimError(
        "replayed-nonce",
        `nonce ${claim.nonce} is not above the last accepted ${prev.nonce}`,
      );
    }
    if (claim.transferredAmount < prev.claimed) {
      throw new ClaimError(
        "amount-decreased",
        `cumulative amount ${claim.transferredAmount} is below the last accepted ${prev.claimed}`,
      );
    }
    if (claim.transferredAmount > this.#cap(key, channel)) {
      const fresh = await this.#channel(claim.channelId, true);
      const withdrawn = this.#withdrawn(key, fresh);
      if (claim.transferredAmount > fresh.deposit - withdrawn) {
        const minus = withdrawn === 0n ? "" : ` minus ${withdrawn} withdrawn`;
        throw new ClaimError(
          "beyond-deposit",
          `cumulative amount ${claim.transferredAmount} exceeds the peer's deposit ${fresh.deposit}${minus}`,
        );
      }
    }
    return {
      channelId: claim.channelId,
      nonce: claim.nonce,
      claimed: claim.transferredAmount,
      signature: claim.signature,
      forwarded: prev.forwarded,
      ...(prev.inFlight !== undefined ? { inFlight: prev.inFlight } : {}),
      ...(prev.peerWithdrawn !== undefined ? { peerWithdrawn: prev.peerWithdrawn } : {}),
    };
  }

  #withdrawn(key: string, channel: CachedChannel): bigint {
    const noted = this.#notedWithdrawn.get(key) ?? 0n;
    return noted > channel.withdrawn ? noted : channel.withdrawn;
  }

  #cap(key: string, channel: CachedChannel): bigint {
    return channel.deposit - this.#withdrawn(key, channel);
  }

  async #charge(amount: bigint): Promise<ClaimAcceptance> {
    const store = this.#store;
    const current = this.#current;
    const known = current === undefined ? undefined : this.#books.get(current);
    if (current === undefined || (!store.shared && known === undefined)) {
      if (amount === 0n) {
        throw new ClaimError("not-covered", "no claim received yet and no channel known");
      }
      throw new ClaimError("not-covered", `no claim received yet for ${amount} base units`);
    }
    // Own books: the channel's book as this process holds it; shared: the one of the id given.
    const channelId = store.shared ? this.#currentId! : known!.channelId;
    const seed = known ?? { channelId, nonce: 0n, claimed: 0n, forwarded: 0n };
    let credit = 0n;
    const book = await store.update(channelId, seed, (prev) => {
      if (store.shared) this.#checkShared(prev);
      credit = this.#checkCover(prev, amount);
      return store.shared
        ? sharedCharge(prev, amount)
        : { ...prev, forwarded: prev.forwarded + amount };
    });
    const kept = this.#kept(channelId, book);
    this.#books.set(current, kept);
    return { channelId, newClaim: false, credit, book: { ...kept } };
  }

  /**
   * The shared book as another process left it: a channel it co-signed a settle of takes
   * nothing more, and a withdraw it co-signed caps claims here too.
   */
  #checkShared(book: ClaimBook): void {
    if (book.closing) {
      throw new ClaimError(
        "channel-not-open",
        `payment channel ${book.channelId} is closing (its cooperative settle is co-signed): ` +
          "no more claims are accepted on it; open a new channel",
      );
    }
    if (book.peerWithdrawn) this.noteWithdraw(book.channelId, book.peerWithdrawn);
  }

  #checkCover(book: ClaimBook, amount: bigint): bigint {
    const after = book.forwarded + (book.inFlight ?? 0n) + amount;
    const credit = after - book.claimed;
    if (credit > this.#creditLimit) {
      if (this.#creditLimit === 0n) {
        throw new ClaimError(
          "not-covered",
          `forwarding ${amount} would bring the total to ${after}, claims cover ${book.claimed}`,
        );
      }
      throw new ClaimError(
        "credit-limit-exceeded",
        `forwarding ${amount} would leave ${credit} unclaimed, the credit limit is ${this.#creditLimit}`,
      );
    }
    return credit;
  }

  #checkTarget(claim: PaymentChannelClaim): void {
    const o = this.#o;
    if (claim.chainId !== o.chainId) {
      throw new ClaimError(
        "wrong-chain",
        `chain ${claim.chainId}, this node settles on ${o.chainId}`,
      );
    }
    if (!sameAddress(claim.tokenNetworkAddress, o.tokenNetworkAddress)) {
      throw new ClaimError(
        "wrong-contract",
        `TokenNetwork ${claim.tokenNetworkAddress}, expected ${o.tokenNetworkAddress}`,
      );
    }
    if (!sameAddress(claim.tokenAddress, o.tokenAddress)) {
      throw new ClaimError(
        "wrong-token",
        `token ${claim.tokenAddress}, expected ${o.tokenAddress}`,
      );
    }
  }

  #checkSignature(claim: PaymentChannelClaim): void {
    const proof: BalanceProof = {
      channelId: claim.channelId,
      nonce: claim.nonce,
      transferredAmount: claim.transferredAmount,
    };
    const domain = { chainId: this.#o.chainId, verifyingContract: this.#o.tokenNetworkAddress };
    try {
      if (this.#peerKey) {
        if (this.#peerKey.verifies(proof, claim.signature, domain)) return;
      } else {
        const signer = recoverBalanceProofSignerKey(proof, claim.signature, domain);
        if (sameAddress(signer.address, this.#o.peerAddress)) {
          this.#peerKey = new BalanceProofSignerKey(signer.publicKey);
          return;
        }
      }
    } catch (err) {
      if (err instanceof BalanceProofSignatureError) {
        throw new ClaimError("bad-signature", err.message);
      }
      throw err;
    }
    throw new ClaimError(
      "bad-signature",
      `signature does not match the claim's fields and the peer ${this.#o.peerAddress}`,
    );
  }

  async #channel(channelId: `0x${string}`, refresh: boolean): Promise<CachedChannel> {
    const key = channelId.toLowerCase();
    const cached = this.#channels.get(key);
    if (cached && !refresh) return cached;
    let onChain: OnChainChannel;
    try {
      onChain = await this.#o.readChannel(channelId);
    } catch (err) {
      throw new ClaimError("chain-unavailable", `cannot read channel ${channelId}: ${err}`);
    }
    if (onChain.state === "none") {
      throw new ClaimError("unknown-channel", `channel ${channelId} does not exist on chain`);
    }
    const members = [onChain.participant1, onChain.participant2];
    const peerIn = members.some((m) => sameAddress(m, this.#o.peerAddress));
    const selfIn = members.some((m) => sameAddress(m, this.#o.selfAddress));
    if (!peerIn || !selfIn) {
      throw new ClaimError(
        "unknown-channel",
        `channel ${channelId} is not between the peer and this node`,
      );
    }
    if (
      onChain.contractVersion !== undefined && onChain.contractVersion < SAFE_TOKEN_NETWORK_VERSION
    ) {
      throw new ClaimError(
        "unknown-channel",
        `channel ${channelId} is on a TokenNetwork of version ${onChain.contractVersion}, where ` +
          "a payer can close with its own proof: close it and open one on the current contract",
      );
    }
    if (onChain.state !== "opened") {
      this.#channels.delete(key);
      throw new ClaimError("channel-not-open", `channel ${channelId} is ${onChain.state}`);
    }
    const peer = onChain.participants[this.#o.peerAddress.toLowerCase()];
    const entry = { deposit: peer?.deposit ?? 0n, withdrawn: peer?.withdrawn ?? 0n };
    this.#channels.set(key, entry);
    return entry;
  }

  /**
   * Lowers the peer's cap to `deposit - totalWithdraw` on a channel: call it (after persisting the
   * new total) before co-signing the peer's withdraw, so no claim beyond what stays in the channel
   * is accepted even before the withdrawal is mined. A lower total than one noted is ignored.
   */
  noteWithdraw(channelId: `0x${string}`, totalWithdraw: bigint): void {
    const key = channelId.toLowerCase();
    if (totalWithdraw > (this.#notedWithdrawn.get(key) ?? 0n)) {
      this.#notedWithdrawn.set(key, totalWithdraw);
    }
  }

  /** Forgets cached channel state (call when the chain reports a close). */
  invalidate(channelId: `0x${string}`): void {
    this.#channels.delete(channelId.toLowerCase());
  }
}

/** `a - b`, not below 0. */
function minus(a: bigint, b: bigint): bigint {
  return a >= b ? a - b : 0n;
}

/** A shared book with a packet of `amount` charged: in flight until delivered. */
function sharedCharge(book: ClaimBook, amount: bigint): ClaimBook {
  return { ...book, inFlight: (book.inFlight ?? 0n) + amount };
}
