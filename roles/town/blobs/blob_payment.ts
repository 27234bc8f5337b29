/**
 * The paid half of a blob upload (docs/PROTOCOL.md "Blobs"): a PREPARE to the town whose data is
 * a signed Blossom upload authorization (kind 24242, `t upload`, one `x`, turnpike's `size`) and
 * whose amount covers size x the blob price. The write pipeline has already checked the event's
 * size, shape and signature and will check the condition; this checks what is specific to blobs
 * and records the allowance the HTTP upload (`PUT /upload`) then consumes.
 *
 * Rejections: F06 a malformed or expired authorization, F08 a blob over the size limit, F04
 * underpaid (the message names the amount), F99 `already-stored` (nothing to pay for: the upload
 * costs nothing), `already-paid` (the payer holds an unexpired allowance of this size for the
 * blob: the same payment sent again is not taken twice) or `quota-exceeded`; the F99 reason also rides the REJECT data as JSON
 * `{"reason"}`, for senders to branch on (no money moves either way).
 *
 * @module
 */
import { ILP_ERROR } from "../../../protocol/ilp_packet.ts";
import {
  BlobAuthorizationError,
  checkBlobAuthorization,
} from "../../../protocol/blob_authorization.ts";
import { priceBlob } from "../../../protocol/blob_pricing.ts";
import { blobRejectData } from "../../../protocol/blob_payment_reply.ts";
import type { NostrEvent } from "../../../protocol/nostr_event.ts";
import { BlobStoreError } from "../../../state/blobs/blob_store.ts";
import type { TownBlobStore } from "../../../state/blobs/town_blob_store.ts";
import { TownWriteRejection } from "../write/write_rejection.ts";
import { invalidInputRejection } from "../write/invalid_input_rejection.ts";

/** What a blob payment paid for. */
export interface BlobPayment {
  sha256: string;
  size: number;
  /** What it costs at the town's price (the PREPARE may carry more). */
  price: bigint;
}

/** Options for {@linkcode checkBlobPayment}. */
export interface BlobPaymentOptions {
  blobs: TownBlobStore;
  /** Base units per MiB. */
  pricePerMiB: bigint;
  /** The PREPARE's amount. */
  amount: bigint;
}

/**
 * Checks a blob payment's authorization and amount (not its condition).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { finalizeEvent, generateSecretKey } from "nostr-tools/pure";
 * import { checkBlobPayment } from "./blob_payment.ts";
 * import { openBlobStore } from "../../../state/blobs/blob_store.ts";
 * import { buildBlobAuthorization } from "../../../protocol/blob_authorization.ts";
 *
 * const dir = await Deno.makeTempDir();
 * const blobs = await openBlobStore({ dir });
 * const template = buildBlobAuthorization({ verb: "upload", sha256: ["b".repeat(64)], size: 1024 });
 * const event = finalizeEvent(template, generateSecretKey()); // the PREPARE's data
 * const paid = await checkBlobPayment(event, { blobs, pricePerMiB: 200n, amount: 200n });
 * assert(paid.size === 1024 && paid.price <= 200n);
 * // condition checked, then: recordBlobPayment(paid, event.pubkey, 200n, blobs)
 * blobs.close();
 * await Deno.remove(dir, { recursive: true });
 * ```
 * @throws {TownWriteRejection}
 */
export async function checkBlobPayment(
  event: NostrEvent,
  o: BlobPaymentOptions,
): Promise<BlobPayment> {
  let sha256: string;
  let size: number;
  try {
    const auth = checkBlobAuthorization(event, { verb: "upload" });
    if (auth.sha256.length !== 1 || auth.size === undefined) {
      throw new BlobAuthorizationError("a blob payment names one blob (x) and its size");
    }
    [sha256, size] = [auth.sha256[0], auth.size];
  } catch (err) {
    throw invalidInputRejection(err, { inputError: BlobAuthorizationError, what: "blob payment" });
  }
  if (size > o.blobs.maxBlobBytes) {
    throw new TownWriteRejection(
      ILP_ERROR.amountTooLarge,
      `blob too large: ${size} bytes, the limit is ${o.blobs.maxBlobBytes}`,
    );
  }
  if (await o.blobs.get(sha256) !== undefined) {
    throw new TownWriteRejection(
      ILP_ERROR.finalApplicationError,
      `already-stored: ${sha256} (upload it for free)`,
      blobRejectData("already-stored"),
    );
  }
  // The same payment sent again (its answer lost, or moved to another uplink): the allowance
  // it bought stands, so nothing is taken a second time.
  if ((await o.blobs.allowance(sha256, event.pubkey))?.size === size) {
    throw new TownWriteRejection(
      ILP_ERROR.finalApplicationError,
      `already-paid: ${sha256} (your allowance stands: upload it)`,
      blobRejectData("already-paid"),
    );
  }
  const price = priceBlob(size, o.pricePerMiB);
  if (o.amount < price) {
    throw new TownWriteRejection(
      ILP_ERROR.insufficientDestinationAmount,
      `insufficient amount: a ${size}-byte blob costs ${price}, got ${o.amount}`,
    );
  }
  return { sha256, size, price };
}

/**
 * Records the allowance of a checked, condition-verified payment (before the FULFILL: a crash
 * after it leaves the payer an allowance, never a fulfilled payment without one).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { finalizeEvent, generateSecretKey } from "nostr-tools/pure";
 * import { checkBlobPayment, recordBlobPayment } from "./blob_payment.ts";
 * import { openBlobStore } from "../../../state/blobs/blob_store.ts";
 * import { buildBlobAuthorization } from "../../../protocol/blob_authorization.ts";
 *
 * const dir = await Deno.makeTempDir();
 * const blobs = await openBlobStore({ dir });
 * const template = buildBlobAuthorization({ verb: "upload", sha256: ["b".repeat(64)], size: 1024 });
 * const event = finalizeEvent(template, generateSecretKey()); // the authorization the PREPARE carries
 * const paid = await checkBlobPayment(event, { blobs, pricePerMiB: 200n, amount: 200n });
 * await recordBlobPayment(paid, event.pubkey, 200n, blobs);
 * // The same upload is not paid twice.
 * await assert.rejects(checkBlobPayment(event, { blobs, pricePerMiB: 200n, amount: 200n }));
 * blobs.close();
 * await Deno.remove(dir, { recursive: true });
 * ```
 * @throws {TownWriteRejection} F99 `quota-exceeded`.
 */
export async function recordBlobPayment(
  paid: BlobPayment,
  pubkey: string,
  amount: bigint,
  blobs: TownBlobStore,
): Promise<void> {
  try {
    await blobs.recordPayment({ sha256: paid.sha256, size: paid.size, pubkey, amount });
  } catch (err) {
    if (err instanceof BlobStoreError && err.status === 507) {
      throw new TownWriteRejection(
        ILP_ERROR.finalApplicationError,
        `quota-exceeded: ${err.message}`,
        blobRejectData("quota-exceeded"),
      );
    }
    throw err;
  }
}
