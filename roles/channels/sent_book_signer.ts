/**
 * A payer's claim signer on its channel book (docs/ARCHITECTURE.md, "Where a channel's state
 * lives"): each claim is decided under the book's lock (state/channels/file_sent_channel_book.ts: nonce +
 * 1, the cumulative amount raised, within the deposit less what was withdrawn) and signed there,
 * with the rules and errors of chain/claim_signer.ts `ClaimSigner`, whose face it has. The book,
 * not the signer, holds the newest claim: {@linkcode SentBookSigner.pay} resolves once the claim
 * is decided, {@linkcode SentBookSigner.persist} once it is in the channel file (a BtpClient's
 * `claims`, transport/btp_client.ts, sends it only then).
 *
 * A claim that would pass the deposit is first handed to `cover` (the payer's top-up keeper,
 * roles/channels/channel_topup.ts `ChannelTopUp.cover`; docs/OPERATIONS.md "A payment past
 * the deposit"): it waits for the top-up under way or starts one, and the claim is signed once the
 * raised deposit is mined; only when no top-up can cover it is the claim refused, with why.
 * Payments take their turn in call order (nonces in that order), and a payment waiting for a
 * top-up holds the next ones behind it; the wait is outside the book's lock, so the top-up's
 * {@linkcode SentBookSigner.noteDeposit} is not held up by it. The book's check stays the last
 * word: no claim is ever signed past the deposit the signer knows to be on chain.
 *
 * @module
 */
import type { LocalAccount } from "viem/accounts";
import {
  ClaimBeyondDepositError,
  signClaim,
  WithdrawBelowClaimsError,
} from "../../chain/claim_signer.ts";
import type { ClaimChannel, PaymentChannelClaim } from "../../protocol/payment_channel_claim.ts";
import type { FileSentChannelBook } from "../../state/channels/file_sent_channel_book.ts";
import type { SentClaimBook } from "../../state/channels/sent_channel_book.ts";

/** Options for {@linkcode SentBookSigner}. */
export interface SentBookSignerOptions extends ClaimChannel {
  /** The node's EVM account, the channel's own side. */
  account: LocalAccount;
  /** The book holding the channel (its newest claim). */
  book: FileSentChannelBook;
  /** This side's deposit: claims beyond `deposit - withdrawn` are refused before signing. */
  deposit: bigint;
  /** What this side took out of the channel with `setTotalWithdraw`. Default 0. */
  withdrawn?: bigint;
  /**
   * Makes room for a claim that would pass the deposit; none: such a claim is refused at once.
   */
  cover?: CoverDeposit;
}

/**
 * Raises the deposit so that a cumulative claim of `total` fits, resolving once the signer's
 * cap ({@linkcode SentBookSigner.noteDeposit}) covers it, by `until` (epoch ms) at the latest;
 * rejects with why no top-up can (its message is the refusal's `why`).
 */
export type CoverDeposit = (total: bigint, until?: number) => Promise<void>;

/** Options of {@linkcode SentBookSigner.pay}. */
export interface SentBookPayOptions {
  /** Waiting for a top-up ends by then (epoch ms; the packet's deadline). Default: no bound. */
  until?: number;
}

/**
 * Signs cumulative claims for one channel, on its book.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { generatePrivateKey, privateKeyToAccount } from "viem/accounts";
 * import { SentBookSigner } from "./sent_book_signer.ts";
 * import { FileSentChannelBook } from "../../state/channels/file_sent_channel_book.ts";
 * import { channelFilePath, readChannel } from "../../state/channels/channel_file.ts";
 * import { openSentClaimWriter, recordChannel } from "../../state/channels/channel_writer.ts";
 * import { newChannelRecord } from "./channel_record_builder.ts";
 * import { resolveChainConfig } from "../../config/chain_config.ts";
 *
 * const account = privateKeyToAccount(generatePrivateKey());
 * const chain = resolveChainConfig("evm:base:31337", { section: { rpc_url: "http://127.0.0.1:8545" } });
 * const record = newChannelRecord(
 *   { chain, address: account.address, tokenNetworkAddress: `0x${"c1".repeat(20)}`, tokenAddress: `0x${"d1".repeat(20)}` },
 *   { channelId: `0x${"ab".repeat(32)}`, peerAddress: `0x${"b2".repeat(20)}`, settleTimeout: 3600n, deposit: 10_000n },
 * );
 * const stateDir = await Deno.makeTempDir();
 * await recordChannel(record, { stateDir, action: "open" });
 * const book = new FileSentChannelBook([openSentClaimWriter({ stateDir, record })]);
 * const signer = new SentBookSigner({ ...record, account, book }); // within deposit - withdrawn
 * const claim = await signer.pay(1500n);
 * await signer.persist(claim); // in the file: it may leave
 * const saved = await readChannel(channelFilePath(stateDir, record.channelId));
 * assert.deepEqual([saved.sentNonce, saved.sent], [1n, 1500n]);
 * await Deno.remove(stateDir, { recursive: true });
 * ```
 */
export class SentBookSigner {
  readonly #o: SentBookSignerOptions;
  #withdrawn: bigint;
  #deposit: bigint;
  /** Per nonce signed and not yet asked for: its claim in the file. */
  readonly #kept = new Map<bigint, Promise<SentClaimBook>>();
  /** Payments take their turn in call order: the next one is decided after this one. */
  #turn: Promise<unknown> = Promise.resolve();

  constructor(options: SentBookSignerOptions) {
    this.#o = options;
    this.#withdrawn = options.withdrawn ?? 0n;
    this.#deposit = options.deposit;
  }

  /** Last nonce signed. */
  get nonce(): bigint {
    return this.#book().nonce;
  }

  /** Cumulative amount signed so far. */
  get transferred(): bigint {
    return this.#book().transferred;
  }

  /** This side's deposit (the most it can ever claim, before withdrawals). */
  get deposit(): bigint {
    return this.#deposit;
  }

  /** What this side withdrew from the channel; claims stay within `deposit - withdrawn`. */
  get withdrawn(): bigint {
    return this.#withdrawn;
  }

  /** As `ClaimSigner.noteWithdraw`: after the claims decided before it. */
  async noteWithdraw(totalWithdraw: bigint): Promise<void> {
    await this.#o.book.update(this.#o.channelId, (b) => {
      if (totalWithdraw <= this.#withdrawn) return undefined;
      if (this.#deposit - totalWithdraw < b.transferred) {
        throw new WithdrawBelowClaimsError(totalWithdraw, this.#deposit, b.transferred);
      }
      this.#withdrawn = totalWithdraw;
      return undefined;
    });
  }

  /** As `ClaimSigner.noteDeposit`: after the claims decided before it. */
  async noteDeposit(totalDeposit: bigint): Promise<void> {
    await this.#o.book.update(this.#o.channelId, () => {
      if (totalDeposit > this.#deposit) this.#deposit = totalDeposit;
      return undefined;
    });
  }

  /**
   * Signs a claim raising the cumulative amount by `amount`, decided under the book's lock:
   * concurrent payments get consecutive nonces in call order. One that would pass the deposit
   * waits for `cover` first (see the module doc). Resolves once decided; the claim is in the
   * file once {@linkcode SentBookSigner.persist} resolves.
   */
  pay(amount: bigint, options: SentBookPayOptions = {}): Promise<PaymentChannelClaim> {
    const turn = this.#turn.then(() => this.#payInTurn(amount, options.until));
    this.#turn = turn.catch(() => {});
    return turn;
  }

  async #payInTurn(amount: bigint, until: number | undefined): Promise<PaymentChannelClaim> {
    const total = this.transferred + amount;
    const cover = this.#o.cover;
    if (cover !== undefined && amount > 0n && total > this.#deposit - this.#withdrawn) {
      try {
        await cover(total, until);
      } catch (err) {
        const why = (err as Error).message;
        throw new ClaimBeyondDepositError(total, this.#deposit, this.#withdrawn, {
          why,
          cause: err,
        });
      }
    }
    let claim: PaymentChannelClaim | undefined;
    const { decided, kept } = this.#o.book.decideThenKeep(this.#o.channelId, async (b) => {
      if (amount < 0n) throw new RangeError("amount must not be negative");
      const total = b.transferred + amount;
      if (total > this.#deposit - this.#withdrawn) {
        throw new ClaimBeyondDepositError(total, this.#deposit, this.#withdrawn);
      }
      claim = await signClaim({
        account: this.#o.account,
        chainId: this.#o.chainId,
        tokenNetworkAddress: this.#o.tokenNetworkAddress,
        tokenAddress: this.#o.tokenAddress,
        channelId: this.#o.channelId,
        nonce: b.nonce + 1n,
        transferredAmount: total,
      });
      return { ...b, nonce: claim.nonce, transferred: total };
    });
    // Told to whoever persists the claim; not an unhandled rejection before.
    kept.catch(() => {});
    const book = await decided;
    this.#kept.set(book.nonce, kept);
    return claim!;
  }

  /** Resolves once `claim`, signed by {@linkcode SentBookSigner.pay}, is in the channel file. */
  async persist(claim: PaymentChannelClaim): Promise<void> {
    const kept = this.#kept.get(claim.nonce);
    this.#kept.delete(claim.nonce);
    if (kept === undefined) {
      throw new RangeError(`claim ${claim.nonce} was not signed by this signer`);
    }
    await kept;
  }

  #book(): SentClaimBook {
    return this.#o.book.current(this.#o.channelId)!;
  }
}
