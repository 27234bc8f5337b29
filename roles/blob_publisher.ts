/**
 * Puts a file on the town's blob store, paid (docs/PROTOCOL.md "Blobs"), for requesters (job
 * inputs) and providers (large results): hash the file, sign an upload authorization (kind 24242
 * with `x` and `size`), ask the town whether the upload needs paying (`HEAD /upload`: not when
 * the blob is stored already or this uploader paid for it before), if so pay with one PREPARE
 * whose data is that authorization and whose amount is size x the town's blob price, then stream
 * the bytes to `PUT /upload` with the same authorization.
 *
 * Never pays twice for one blob: an upload that fails after the payment is retried with the same
 * allowance (the town keeps it for a day, also across runs), and a payment the town answers
 * `already-stored` or `already-paid` (the same payment sent again) is not taken. While another
 * upload of the same blob is in flight (the town answers 409) it waits for that one to end.
 *
 * @module
 */
import { RoleError } from "./role_error.ts";
import { backoffDelay, sleep } from "../protocol/backoff.ts";
import { ILP_ERROR } from "../protocol/ilp_packet.ts";
import { buildBlobAuthorization } from "../protocol/blob_authorization.ts";
import type { BlobDescriptor } from "../protocol/blob_descriptor.ts";
import { blobPaymentOutcome } from "../protocol/blob_payment_reply.ts";
import { priceBlob } from "../protocol/blob_pricing.ts";
import type { IlpReply } from "../protocol/ilp_packet.ts";
import type { NostrEvent } from "../protocol/nostr_event.ts";
import type { NodeSigner } from "../protocol/node_signer.ts";
import {
  BlossomError,
  hashFile,
  type TransferProgress,
  uploadBlobFile,
  uploadRequirement,
} from "../transport/blossom_client.ts";

/** Options for {@linkcode publishBlob}. */
export interface PublishBlobOptions {
  /** The file to publish. */
  path: string;
  /** The town's HTTP URL (its Blossom server). */
  server: string;
  /** The town's blob price, base units per MiB (its NIP-11 `fees.blob`). */
  pricePerMiB: bigint;
  /** Signs the upload authorization. */
  signer: NodeSigner;
  /** Pays: sends the authorization as the data of a PREPARE for `amount` (a town link). */
  pay: (authorization: NostrEvent, amount: bigint) => Promise<IlpReply>;
  type?: string;
  onProgress?: TransferProgress;
  /** Upload attempts after the payment (default 3). */
  attempts?: number;
  /**
   * How long to wait for another upload of the same blob to end (the town answers 409 while one
   * is in flight: this profile's other command, or another uploader), in ms (default 120,000).
   */
  busyWaitMs?: number;
  /** Told each time the upload waits for another upload of the same blob. */
  onWait?: (message: string) => void;
}

/** A published blob and what it cost. */
export interface PublishedBlob {
  descriptor: BlobDescriptor;
  /** Base units paid to the town (0 when it was stored already). */
  paid: bigint;
}

/** The town refused the blob (payment refused, quota, upload failed). */
export class BlobPublishError extends RoleError {
  override name = "BlobPublishError";
  constructor(message: string, readonly suggestion: string, options?: ErrorOptions) {
    super(message, options);
  }
}

/**
 * Publishes a file as a blob.
 *
 * It pays a town over BTP and uploads to its blob server, so it has no example here:
 * tests/e2e/town_blob_test.ts publishes a blob with it (paid once, free the second time).
 */
export async function publishBlob(o: PublishBlobOptions): Promise<PublishedBlob> {
  const { sha256, size } = await hashFile(o.path);
  const authorization = await o.signer.signEvent(
    buildBlobAuthorization({
      verb: "upload",
      sha256: [sha256],
      size,
      expiresAt: Math.floor(Date.now() / 1000) + 3600,
      content: `Upload ${o.path.slice(o.path.lastIndexOf("/") + 1)}`,
    }),
  );
  const upload = async (paid: bigint): Promise<PublishedBlob> => {
    const busyUntil = Date.now() + (o.busyWaitMs ?? 120_000);
    for (let failures = 0, waits = 0;;) {
      try {
        const descriptor = await uploadBlobFile({
          server: o.server,
          path: o.path,
          sha256,
          size,
          authorization,
          type: o.type,
          onProgress: o.onProgress,
        });
        return { descriptor, paid };
      } catch (err) {
        const status = err instanceof BlossomError ? err.status : 0;
        // Another upload of the same bytes is in flight (two tasks on one base send one sealed
        // blob): when it ends the blob is stored and this upload returns it, costing nothing.
        if (status === 409 && Date.now() < busyUntil) {
          o.onWait?.(`another upload of blob ${sha256.slice(0, 12)} is in flight; waiting`);
          await sleep(backoffDelay(waits++, { initialMs: 250, maxMs: 2_000 }));
          continue;
        }
        // The allowance stays at the town: retrying costs nothing more. A 4xx other than a
        // timeout will not get better.
        const retryable = status === 0 || status >= 500 || status === 408;
        if (!retryable || ++failures >= (o.attempts ?? 3)) {
          throw new BlobPublishError(
            `the blob's upload failed${paid > 0n ? " after it was paid for" : ""}: ${
              (err as Error).message
            }`,
            "run the command again: a payment is kept by the town for a day",
            { cause: err },
          );
        }
        await sleep(200 * failures);
      }
    }
  };
  const needs = await uploadRequirement({ server: o.server, sha256, size, authorization });
  if (needs === "allowed") return await upload(0n);
  const price = priceBlob(size, o.pricePerMiB);
  const outcome = blobPaymentOutcome(await o.pay(authorization, price));
  if (outcome.status === "quota-exceeded") {
    throw new BlobPublishError(
      `the town refused the blob: ${outcome.message}`,
      "delete blobs you no longer need (Blossom DELETE) or wait for them to expire",
    );
  }
  if (outcome.status === "rejected") {
    throw new BlobPublishError(
      `the town refused to be paid for the blob: ${outcome.code} ${outcome.message}`,
      outcome.code === ILP_ERROR.amountTooLarge
        ? "the blob is over the town's size limit (NIP-11 limitation.max_blob_bytes)"
        : "check the town's blob price (NIP-11 fees.blob) and your balance",
    );
  }
  return await upload(outcome.status === "paid" ? price : 0n);
}
