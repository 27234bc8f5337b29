/**
 * The sending side of payment channel claims: keeps the cumulative amount and nonce of one
 * channel and signs a new claim (EIP-712 balance proof) for each payment.
 *
 * @module
 */
import { ChainError } from "./chain_error.ts";
import type { ClaimChannel, PaymentChannelClaim } from "../protocol/payment_channel_claim.ts";
import { CLAIM_VERSION } from "../protocol/payment_channel_claim.ts";
import type { LocalAccount } from "viem/accounts";
import { signBalanceProof } from "./balance_proof.ts";

/** Options for {@linkcode ClaimSigner}. */
export interface ClaimSignerOptions extends ClaimChannel {
  /** The node's EVM account (its NIP-06 key, wherever it is), a participant of the channel. */
  account: LocalAccount;
  /** This side's deposit: claims beyond `deposit - withdrawn` are refused before signing. */
  deposit: bigint;
  /** What this side took out of the channel with `setTotalWithdraw`. Default 0. */
  withdrawn?: bigint;
  /** Resume from the channel file: last nonce and cumulative amount signed. */
  nonce?: bigint;
  /** Resume from the channel file: cumulative amount signed, base units. Default 0. */
  transferred?: bigint;
}

/** Signing would exceed the deposit (minus what was withdrawn). */
export class ClaimBeyondDepositError extends ChainError {
  /** `"ClaimBeyondDepositError"`: explicit so it survives bundling. */
  override name = "ClaimBeyondDepositError";
  /** Why no top-up covers the claim, when the payer tops up by itself. */
  readonly why?: string;
  /**
   * `total`: the cumulative claim refused; `deposit`, `withdrawn`: this side's; base units.
   * `options.why`: why no top-up covers it (a payer that tops up by itself says so: the daily
   * cap reached, automatic top-up off), appended to the message; its `cause` the refusal.
   */
  constructor(
    readonly total: bigint,
    readonly deposit: bigint,
    readonly withdrawn: bigint = 0n,
    options: { why?: string; cause?: unknown } = {},
  ) {
    super(
      (withdrawn === 0n
        ? `cumulative claim ${total} would exceed the deposit ${deposit}`
        : `cumulative claim ${total} would exceed the deposit ${deposit} minus ${withdrawn} withdrawn`) +
        (options.why === undefined ? "" : `, and no top-up covers it: ${options.why}`),
      options.cause === undefined ? undefined : { cause: options.cause },
    );
    this.why = options.why;
  }
}

/** A withdrawal that would leave less in the channel than was already claimed. */
export class WithdrawBelowClaimsError extends ChainError {
  /** `"WithdrawBelowClaimsError"`: explicit so it survives bundling. */
  override name = "WithdrawBelowClaimsError";
  /** `totalWithdraw` refused, this side's `deposit`, cumulative `claimed`; base units. */
  constructor(readonly totalWithdraw: bigint, readonly deposit: bigint, readonly claimed: bigint) {
    super(
      `withdrawing ${totalWithdraw} of the deposit ${deposit} would leave less than the ${claimed} already claimed`,
    );
  }
}

/**
 * Signs cumulative claims for one channel.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { ClaimBeyondDepositError, ClaimSigner } from "./claim_signer.ts";
 * import { generatePrivateKey, privateKeyToAccount } from "viem/accounts";
 *
 * const signer = new ClaimSigner({
 *   account: privateKeyToAccount(generatePrivateKey()), // a node's: NodeSigner.evm
 *   chainId: 31337,
 *   tokenNetworkAddress: `0x${"cd".repeat(20)}`,
 *   tokenAddress: `0x${"ef".repeat(20)}`,
 *   channelId: `0x${"ab".repeat(32)}`,
 *   deposit: 50_000_000n,
 * });
 * const claim = await signer.pay(1500n);
 * assert.deepEqual([claim.nonce, claim.transferredAmount], [1n, 1500n]);
 * await signer.noteWithdraw(10_000_000n); // before signing a withdraw of 10 M2M: claims stay within 40
 * await assert.rejects(signer.pay(40_000_000n), ClaimBeyondDepositError);
 * await signer.noteDeposit(60_000_000n); // after a top-up to 60: within 50
 * assert.equal((await signer.pay(40_000_000n)).transferredAmount, 40_001_500n);
 * ```
 */
export class ClaimSigner {
  readonly #o: ClaimSignerOptions;
  #nonce: bigint;
  #transferred: bigint;
  #withdrawn: bigint;
  #deposit: bigint;
  #queue: Promise<unknown> = Promise.resolve();

  /** Starts at `options.nonce`/`options.transferred` (a fresh channel: 0). */
  constructor(options: ClaimSignerOptions) {
    this.#o = options;
    this.#nonce = options.nonce ?? 0n;
    this.#transferred = options.transferred ?? 0n;
    this.#withdrawn = options.withdrawn ?? 0n;
    this.#deposit = options.deposit;
  }

  /** Last nonce signed. */
  get nonce(): bigint {
    return this.#nonce;
  }

  /** Cumulative amount signed so far. */
  get transferred(): bigint {
    return this.#transferred;
  }

  /** This side's deposit (the most it can ever claim, before withdrawals). */
  get deposit(): bigint {
    return this.#deposit;
  }

  /** What this side withdrew from the channel; claims stay within `deposit - withdrawn`. */
  get withdrawn(): bigint {
    return this.#withdrawn;
  }

  /**
   * Lowers the cap after a withdrawal (call it before signing the withdraw message, so no claim
   * signed meanwhile can exceed what stays in the channel). Queued behind pending payments like
   * {@linkcode ClaimSigner.pay}. Never lowers the recorded total; refuses (with
   * {@linkcode WithdrawBelowClaimsError}) a total that would leave less than is already claimed.
   */
  noteWithdraw(totalWithdraw: bigint): Promise<void> {
    const run = this.#queue.then(() => this.#noteWithdraw(totalWithdraw));
    this.#queue = run.catch(() => {});
    return run;
  }

  #noteWithdraw(totalWithdraw: bigint): void {
    if (totalWithdraw <= this.#withdrawn) return;
    if (this.#deposit - totalWithdraw < this.#transferred) {
      throw new WithdrawBelowClaimsError(totalWithdraw, this.#deposit, this.#transferred);
    }
    this.#withdrawn = totalWithdraw;
  }

  /**
   * Raises the cap after a top-up (`setTotalDeposit` mined): claims may now go up to the new
   * total. Queued behind pending payments like {@linkcode ClaimSigner.pay}; a lower total than
   * the one known is ignored (deposits never go down on chain).
   */
  noteDeposit(totalDeposit: bigint): Promise<void> {
    const run = this.#queue.then(() => {
      if (totalDeposit > this.#deposit) this.#deposit = totalDeposit;
    });
    this.#queue = run.catch(() => {});
    return run;
  }

  /**
   * Signs a claim raising the cumulative amount by `amount`. Calls are serialised, so
   * concurrent payments get consecutive nonces in call order.
   */
  pay(amount: bigint): Promise<PaymentChannelClaim> {
    const run = this.#queue.then(() => this.#pay(amount));
    this.#queue = run.catch(() => {});
    return run;
  }

  async #pay(amount: bigint): Promise<PaymentChannelClaim> {
    if (amount < 0n) throw new RangeError("amount must not be negative");
    const total = this.#transferred + amount;
    if (total > this.#deposit - this.#withdrawn) {
      throw new ClaimBeyondDepositError(total, this.#deposit, this.#withdrawn);
    }
    const nonce = this.#nonce + 1n;
    const claim = await signClaim({
      ...this.#o,
      nonce,
      transferredAmount: total,
    });
    this.#nonce = nonce;
    this.#transferred = total;
    return claim;
  }
}

/** Options for {@linkcode signClaim}. */
export interface SignClaimOptions extends ClaimChannel {
  /** The node's EVM account (its NIP-06 key, wherever it is), a participant of the channel. */
  account: LocalAccount;
  /** The claim's nonce: 1 and up, above every nonce signed before for the channel. */
  nonce: bigint;
  /** Cumulative amount, token base units. */
  transferredAmount: bigint;
  /** Default a random id. */
  messageId?: string;
  /** Default now. */
  timestamp?: Date;
}

/**
 * Signs one claim with explicit nonce and cumulative amount (no bookkeeping).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { signClaim } from "./claim_signer.ts";
 * import { generatePrivateKey, privateKeyToAccount } from "viem/accounts";
 *
 * const claim = await signClaim({
 *   account: privateKeyToAccount(generatePrivateKey()),
 *   chainId: 31337,
 *   tokenNetworkAddress: `0x${"cd".repeat(20)}`,
 *   tokenAddress: `0x${"ef".repeat(20)}`,
 *   channelId: `0x${"ab".repeat(32)}`,
 *   nonce: 3n,
 *   transferredAmount: 4500n,
 * });
 * assert.deepEqual([claim.nonce, claim.transferredAmount], [3n, 4500n]);
 * ```
 */
export async function signClaim(options: SignClaimOptions): Promise<PaymentChannelClaim> {
  const signature = await signBalanceProof(
    {
      channelId: options.channelId,
      nonce: options.nonce,
      transferredAmount: options.transferredAmount,
    },
    {
      account: options.account,
      domain: { chainId: options.chainId, verifyingContract: options.tokenNetworkAddress },
    },
  );
  return {
    version: CLAIM_VERSION,
    messageId: options.messageId ?? crypto.randomUUID(),
    timestamp: (options.timestamp ?? new Date()).toISOString(),
    chainId: options.chainId,
    tokenNetworkAddress: options.tokenNetworkAddress,
    tokenAddress: options.tokenAddress,
    channelId: options.channelId,
    nonce: options.nonce,
    transferredAmount: options.transferredAmount,
    signature,
  };
}
