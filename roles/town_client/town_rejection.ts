/**
 * What a town's refusal looks like to every role (docs/ARCHITECTURE.md, "The town client"): one
 * {@linkcode TownRejectedError} for a paid write or payment a town rejected (its code, message,
 * the town, and what to do about it), one {@linkcode NoTownStoredError} when a write sent to
 * several towns was stored by none; {@linkcode isTransientWriteError} tells a failure worth trying
 * again (the town busy or away) from a refusal.
 *
 * @module
 */
import { RoleError } from "../role_error.ts";
import { ILP_ERROR, ilpErrorName } from "../../protocol/ilp_packet.ts";
import { BtpConnectionError, BtpTimeoutError } from "../../transport/btp_client.ts";
import { SpspOverIlpError } from "./spsp_handshake.ts";
import {
  type ClaimRejectReason,
  claimRejectReasonOf,
} from "../../protocol/payment_channel_claim.ts";

/** Options for {@linkcode TownRejectedError}: which town, when known. */
export interface TownRejectedErrorOptions {
  /** The town's relay URL (or its name). */
  town?: string;
  /** What to do about it; default {@linkcode rejectSuggestion} of the code and claim reason. */
  suggestion?: string;
  /** The claim reason the REJECT's data names (`claimRejectReasonOf`), if it refused a claim. */
  claimReason?: ClaimRejectReason;
  /**
   * Sending the same packet again cannot help, whatever the code says: e.g. a T04 `not-covered`
   * to a payer that pays with no channel (it has no claim to send). Default false.
   */
  final?: boolean;
}

/**
 * A town rejected a paid write (or a payment through it).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { TownRejectedError } from "./town_rejection.ts";
 * const err = new TownRejectedError("F04", "insufficient amount", { town: "ws://127.0.0.1:7100" });
 * assert(err.code === "F04" && err.suggestion.includes("price"));
 * ```
 */
export class TownRejectedError extends RoleError {
  override name = "TownRejectedError";
  /** The ILP error code (`F04`, `T04`, ...): the town's (docs/ARCHITECTURE.md "Errors"). */
  override readonly code: string;
  /** The reject's message as the town (or a connector) wrote it. */
  readonly ilpMessage: string;
  /** What to do about it. */
  readonly suggestion: string;
  /** The town's relay URL, when known. */
  readonly town?: string;
  /** Sending it again cannot help ({@linkcode TownRejectedErrorOptions.final}). */
  readonly final: boolean;
  /** Why the town refused the claim, when the REJECT's data says so. */
  readonly claimReason?: ClaimRejectReason;
  constructor(code: string, ilpMessage: string, options: TownRejectedErrorOptions = {}) {
    super(
      `the town rejected the packet: ${code} ${ilpErrorName(code)}${
        ilpMessage ? `: ${ilpMessage}` : ""
      }${options.town ? ` (${options.town})` : ""}`,
    );
    this.code = code;
    this.ilpMessage = ilpMessage;
    this.town = options.town;
    this.final = options.final ?? false;
    this.claimReason = options.claimReason;
    this.suggestion = options.suggestion ?? rejectSuggestion(code, options.claimReason);
  }
}

/**
 * Every town a write was sent to failed to store it; `errors` holds each town's error.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { NoTownStoredError } from "./town_rejection.ts";
 * const err = new NoTownStoredError([new Error("a"), new Error("b")], "no town stored the event");
 * assert(err.errors.length === 2);
 * ```
 */
export class NoTownStoredError extends AggregateError {
  override name = "NoTownStoredError";
  /** An `AggregateError`, so not a {@linkcode RoleError}, but with a code all the same. */
  readonly code: string = "no-town-stored";
}

/**
 * A paid write's failure that may go away by itself, so the same signed event is worth sending
 * again (docs/ARCHITECTURE.md, "The town client"): no BTP answer in time (a town overloaded or
 * stopped), the connection down (a town restarting), a T-class (temporary) or R-class (expired
 * on the way) reject of the write or of the SPSP handshake before it. Every town of a
 * {@linkcode NoTownStoredError} counts: one transient failure makes it worth a retry. F-class
 * rejects (the event, its price or its signature refused) are final, and so is a reject its
 * sender marked {@linkcode TownRejectedError.final}.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { isTransientWriteError, TownRejectedError } from "./town_rejection.ts";
 * assert(isTransientWriteError(new TownRejectedError("T04", "busy")));
 * assert(!isTransientWriteError(new TownRejectedError("F04", "insufficient amount")));
 * ```
 */
export function isTransientWriteError(err: unknown): boolean {
  if (err instanceof NoTownStoredError) return err.errors.some(isTransientWriteError);
  if (err instanceof BtpTimeoutError || err instanceof BtpConnectionError) return true;
  if (err instanceof TownRejectedError && err.final) return false;
  if (err instanceof TownRejectedError || err instanceof SpspOverIlpError) {
    return err.code !== undefined && /^[TR]/.test(err.code);
  }
  return false;
}

/**
 * A job payment's REJECT that is worth sending the same payment again after a short wait
 * (docs/OPERATIONS.md, "Running a requester"): T05 (a town reading many new channels at a
 * bounded rate, or any rate limit: it asks the payer to slow down and come back), T03 (a town
 * with as many packets in flight as it takes, docs/SCALE.md "Graceful overload"), a T04 whose
 * data names a claim the town could not count yet (`not-covered`, `beyond-deposit`: the
 * payer's claim or its channel's deposit is on the way), a T04 that names no claim (the town's
 * own liquidity: what it owes the payee unsettled is at its limit until it settles, or the next
 * hop is not reading), and T01 (the town's configured peer,
 * the provider, not connected now: restarting, or reconnecting after the town's own restart;
 * docs/OPERATIONS.md "Stopping a town"). Only a definite REJECT qualifies: no money moved. The
 * payer sends it again while the invoice has time left, so a provider gone for good costs the
 * invoice's time, not a payment. Other codes are not about the payer's pace: T00 a town that
 * cannot answer, R-class a packet that ran out of time, F-class final.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { isRetryablePaymentReject } from "./town_rejection.ts";
 * assert(isRetryablePaymentReject("T05", "rate-limited"));
 * assert(isRetryablePaymentReject("T03"));
 * assert(isRetryablePaymentReject("T01")); // the provider reconnecting
 * assert(isRetryablePaymentReject("T04", "not-covered"));
 * assert(isRetryablePaymentReject("T04")); // the town settles what it owes the payee
 * assert(!isRetryablePaymentReject("T04", "credit-limit-exceeded")); // the payer's credit
 * assert(!isRetryablePaymentReject("F02"));
 * ```
 */
export function isRetryablePaymentReject(code: string, claimReason?: ClaimRejectReason): boolean {
  if (
    code === ILP_ERROR.rateLimited || code === ILP_ERROR.connectorBusy ||
    code === ILP_ERROR.peerUnreachable
  ) return true;
  return code === ILP_ERROR.insufficientLiquidity &&
    (claimReason === undefined || claimReason === "not-covered" ||
      claimReason === "beyond-deposit");
}

/**
 * The claim reason of a REJECT (its data, docs/PROTOCOL.md "Claim rejections"), undefined for
 * a REJECT that refused no claim; for the callers of {@linkcode isRetryablePaymentReject} and
 * {@linkcode rejectSuggestion}.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { rejectClaimReason } from "./town_rejection.ts";
 * const data = new TextEncoder().encode('{"claimReject":"not-covered"}');
 * assert.equal(rejectClaimReason({ data }), "not-covered");
 * ```
 */
export function rejectClaimReason(reject: { data: Uint8Array }): ClaimRejectReason | undefined {
  return claimRejectReasonOf(reject.data);
}

const SUGGESTIONS: Record<string, string> = {
  F02: "check the town's ILP address and that the receiver is connected",
  F04: "the town's price per byte is higher than the one used; set --price-per-byte",
  F06: "the event or its signature was refused; check the clock and the identity",
  F08: "the event is too large for the town; send smaller inputs (e.g. a url)",
  F99: "the receiver refused the packet; see the message",
  T00: "the town had an internal error; try again later",
  T04: "the receiver has no liquidity now; try again later",
  T05: "rate limited; slow down",
  R00: "the packet expired on the way; check the network and try again",
  R02: "the packet expired on the way; check the network and try again",
};
/**
 * Suggestion for a reject code (for payment rejects shown by the CLI).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { rejectSuggestion } from "./town_rejection.ts";
 * assert(rejectSuggestion("F04").includes("price per byte"));
 * assert(rejectSuggestion("T04", "not-covered").includes("--channel"));
 * ```
 */
export function rejectSuggestion(code: string, claimReason?: ClaimRejectReason): string {
  // The town's claim gate says why it refused (btp_claim_gate.ts): the cure depends on it.
  if (claimReason !== undefined && CLAIM_SUGGESTIONS[claimReason]) {
    return CLAIM_SUGGESTIONS[claimReason];
  }
  return SUGGESTIONS[code] ?? "see the reject code in RFC 27";
}

/** What to do about a claim rejection, by its reason (the REJECT's data names it). */
const CLAIM_SUGGESTIONS: Partial<Record<ClaimRejectReason, string>> = {
  "not-covered": "the town settles with this account over a payment channel: pass --channel " +
    "<id> (or set `channel` in config.toml / TURNPIKE_CHANNEL; see `turnpike channel list`)",
  "credit-limit-exceeded": "the town settles with this account over a payment channel: pass " +
    "--channel <id> (or set `channel` in config.toml / TURNPIKE_CHANNEL; see `turnpike channel " +
    "list`)",
  "beyond-deposit": "the channel's deposit is used up: close it (`turnpike channel close <id>`) " +
    "and open a new one with a larger --deposit",
  "channel-in-use": "the town knows this account by another channel (see the message): pay with " +
    "that one, or close it (`turnpike channel close <id>`) before using a new one",
  "unknown-channel": "the town cannot find this channel: check it is open to the town's " +
    "address on a chain the town settles on (`turnpike channel list --refresh`; `turnpike " +
    "channel open --town <url>` picks the town's chain)",
  "channel-not-open": "the channel is closed: open a new one (`turnpike channel open`) once " +
    "it is settled",
  "wrong-chain": "the channel is on a chain the town does not settle on: open one with " +
    "`turnpike channel open --town <url>` (it picks the town's chain)",
  "wrong-contract": "the channel is on another TokenNetwork than the town's: open one with " +
    "`turnpike channel open --town <url>` (it takes the town's contracts)",
  "wrong-token": "the channel is in another token than the town's: open one with " +
    "`turnpike channel open --town <url>` (it takes the town's contracts)",
  "rate-limited": "the town is checking many new channels: try again in a few seconds",
};
