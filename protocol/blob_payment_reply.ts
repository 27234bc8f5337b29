/**
 * What the town answers to a blob payment (docs/PROTOCOL.md "Blobs"): a FULFILL whose data is
 * JSON `{"sha256", "status": "paid", "size"}`, or a REJECT. An F99 REJECT whose data is JSON
 * `{"reason": "already-stored" | "already-paid" | "quota-exceeded"}` took no money:
 * `already-stored` means the upload is free, `already-paid` that the payer holds an unexpired
 * allowance for this blob already (a payment sent again after its answer was lost: the upload is
 * covered), `quota-exceeded` that the payer owns too much already.
 *
 * @module
 */
import { ILP_ERROR } from "./ilp_packet.ts";
import type { IlpReply } from "./ilp_packet.ts";

/** Why a blob payment was refused without taking money. */
export type BlobRejectReason = "already-stored" | "already-paid" | "quota-exceeded";

/** How a blob payment ended, read from the town's reply. */
export type BlobPaymentOutcome =
  | { status: "paid" }
  | { status: BlobRejectReason; message: string }
  | { status: "rejected"; code: string; message: string };

/**
 * The F99 REJECT data for `reason`.
 *
 * @example
 * ```ts
 * const data = blobRejectData("already-stored"); // the data of the town's F99 REJECT
 * console.log(new TextDecoder().decode(data)); // {"reason":"already-stored"}
 * ```
 */
export function blobRejectData(reason: BlobRejectReason): Uint8Array {
  return new TextEncoder().encode(JSON.stringify({ reason }));
}

/**
 * Reads the town's reply to a blob payment.
 *
 * @example
 * ```ts
 * import { blobPaymentOutcome, blobRejectData } from "./blob_payment_reply.ts";
 *
 * const reply = {
 *   type: "reject" as const,
 *   code: "F99",
 *   triggeredBy: "g.town",
 *   message: "already stored",
 *   data: blobRejectData("already-stored"),
 * };
 * const outcome = blobPaymentOutcome(reply);
 * if (outcome.status === "already-stored") console.log("upload for free");
 * ```
 */
export function blobPaymentOutcome(reply: IlpReply): BlobPaymentOutcome {
  if (reply.type === "fulfill") return { status: "paid" };
  if (reply.code === ILP_ERROR.finalApplicationError) {
    let reason: unknown;
    try {
      reason = JSON.parse(new TextDecoder().decode(reply.data)).reason;
    } catch { /* not ours */ }
    if (reason === "already-stored" || reason === "already-paid" || reason === "quota-exceeded") {
      return { status: reason, message: reply.message };
    }
  }
  return { status: "rejected", code: reply.code, message: reply.message };
}
