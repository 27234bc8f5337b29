/**
 * The ILP REJECT of a refused payment channel claim: its code by the claim's reason (the table
 * in `roles/channels/btp_claim_gate.ts`), kept apart from the gate so that a town with no
 * channel answers a claim without loading the chain code (docs/OPERATIONS.md "Memory").
 *
 * @module
 */
import { encodeIlpReply, ILP_ERROR, type IlpErrorCode } from "../../protocol/ilp_packet.ts";
import {
  type ClaimError,
  claimRejectData,
  type ClaimRejectReason,
} from "../../protocol/payment_channel_claim.ts";

const LIQUIDITY: ReadonlySet<ClaimRejectReason> = new Set([
  "not-covered",
  "credit-limit-exceeded",
  "beyond-deposit",
]);

/**
 * The ILP error code for a claim rejection (see the module doc's table).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { claimRejectCode } from "./claim_reject_reply.ts";
 * assert.equal(claimRejectCode("not-covered"), "T04");
 * assert.equal(claimRejectCode("bad-signature"), "F00");
 * ```
 */
export function claimRejectCode(reason: ClaimRejectReason): IlpErrorCode {
  if (LIQUIDITY.has(reason)) return ILP_ERROR.insufficientLiquidity;
  if (reason === "chain-unavailable") return ILP_ERROR.internalError;
  if (reason === "rate-limited") return ILP_ERROR.rateLimited;
  return ILP_ERROR.badRequest;
}

/**
 * The ILP REJECT for a claim rejection: its code (see the module doc's table), the town's
 * address, the {@linkcode ClaimError} message for people, and the reason as data
 * (`claimRejectData`, docs/PROTOCOL.md "Claim rejections") for programs.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { claimRejectReply } from "./claim_reject_reply.ts";
 * import { ClaimError, claimRejectReasonOf } from "../../protocol/payment_channel_claim.ts";
 * import { decodeIlpReply } from "../../protocol/ilp_packet.ts";
 * const reply = decodeIlpReply(claimRejectReply(new ClaimError("rate-limited", "slow down"), "g.town"));
 * assert(reply.type === "reject");
 * assert.deepEqual([reply.code, reply.triggeredBy, claimRejectReasonOf(reply.data)], ["T05", "g.town", "rate-limited"]);
 * ```
 */
export function claimRejectReply(err: ClaimError, triggeredBy: string): Uint8Array {
  return encodeIlpReply({
    type: "reject",
    code: claimRejectCode(err.reason),
    triggeredBy,
    message: err.message.slice(0, 500),
    data: claimRejectData(err.reason),
  });
}
