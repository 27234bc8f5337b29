/**
 * A payer's claim signer on its channel book (docs/ARCHITECTURE.md, "Where a channel's state
 * lives"): each claim is decided under the book's lock (state/file_sent_channel_book.ts: nonce +
 * 1, the cumulative amount raised, within the deposit less what was withdrawn) and signed there,
 * with the rules and errors of chain/claim_signer.ts `ClaimSigner`, whose face it has. The book,
 * not the signer, holds the newest claim: {@linkcode SentBookSigner.pay} resolves once the claim
 * is decided, {@linkcode SentBookSigner.persist} once it is in the channel file (a BtpClient's
 * `claims`, transport/btp_client.ts, sends it only then).
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
import type { FileSentChannelBook } from "../../state/file_sent_channel_book.ts";
import type { SentClaimBook } from "../../state/sent_channel_book.ts";

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
}

/**
 * Signs cumulative claims for one channel, on its book.
 *
 * @example
 * ```ts
 * import { SentBookSigner } from "./sent_book_signer.ts";
 * import { FileSentChannelBook } from "../../state/file_sent_channel_book.ts";
 * import { type ChannelRecord, openSentClaimWriter } from "../../state/channel_file.ts";
 * import type { LocalAccount } from "viem/accounts";
 *
 * declare const stateDir: string;
 * declare const record: ChannelRecord;
 * declare const account: LocalAccount;
 * const book = new FileSentChannelBook([openSentClaimWriter({ stateDir, record })]);
 * const signer = new SentBookSigner({ ...record, account, book }); // within deposit - withdrawn
 * const claim = await signer.pay(1500n);
 * await signer.persist(claim); // in the file: it may leave
 * ```
 */
export class SentBookSigner {
  readonly #o: SentBookSignerOptions;
  #withdrawn: bigint;
  #deposit: bigint;
  /** Per nonce signed and not yet asked for: its claim in the file. */
  readonly #kept = new Map<bigint, Promise<SentClaimBook>>();

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
   * concurrent payments get consecutive nonces in call order. Resolves once decided; the claim
   * is in the file once {@linkcode SentBookSigner.persist} resolves.
   */
  async pay(amount: bigint): Promise<PaymentChannelClaim> {
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
