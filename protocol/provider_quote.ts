/**
 * What a provider asks for a job (docs/PROTOCOL.md "Who pays for what"): the skill's price plus
 * what the provider's own writes for the job will cost it at the town's prices, so that with
 * default settings a provider never loses money on a job. The writes are the `payment-required`
 * feedback, the `processing` feedback (budgeted always: whether the run lasts long enough to send
 * it is not known in advance), the result event (its envelope plus the skill's declared inline
 * result, `result_bytes`; a longer result goes as a blob) and the output blobs (`output_mib` at the
 * town's blob price).
 *
 * @module
 */
import { priceBlob } from "./blob_pricing.ts";

/** Options for {@linkcode quoteJob}. */
export interface JobQuoteOptions {
  /** The skill's price, base units. */
  price: bigint;
  /** The town's price per TOON byte. */
  pricePerByte: bigint;
  /** The town's blob price per MiB. */
  blobPricePerMiB: bigint;
  /** TOON bytes of the payment-required feedback (measured by the caller). */
  paymentRequiredBytes: number;
  /** TOON bytes of the processing feedback (measured by the caller). */
  processingBytes: number;
  /** TOON bytes of the result event with empty content (measured by the caller). */
  resultEnvelopeBytes: number;
  /** The skill's inline result budget, bytes. */
  resultBytes: number;
  /** The skill's output blob budget, bytes. */
  outputBytes: number;
}

/** The quote and its parts. */
export interface JobQuote {
  /** What the requester is asked to pay. */
  amount: bigint;
  /** The skill's price (the provider's margin). */
  price: bigint;
  /** The writes budgeted. */
  writes: bigint;
  /** The output blobs budgeted (and a `result` blob of up to 1 MiB). */
  blobs: bigint;
  /** Of `writes`, the `payment-required` feedback (written before any payment). */
  firstWrite: bigint;
}

/** A result over the inline budget goes as a blob of at most this size (the sandbox's cap). */
const MAX_RESULT_BLOB_BYTES = 1024 * 1024;

/**
 * The quote for one job.
 *
 * @example
 * ```ts
 * quoteJob({ price: 5000n, pricePerByte: 10n, blobPricePerMiB: 200n, paymentRequiredBytes: 790,
 *   processingBytes: 530, resultEnvelopeBytes: 500, resultBytes: 1024, outputBytes: 16 << 20 });
 * // { amount: 36840n, price: 5000n, writes: 28440n, blobs: 3400n, firstWrite: 7900n }
 * ```
 */
export function quoteJob(o: JobQuoteOptions): JobQuote {
  const bytes = o.paymentRequiredBytes + o.processingBytes + o.resultEnvelopeBytes + o.resultBytes;
  const writes = o.pricePerByte * BigInt(bytes);
  const blobs = priceBlob(o.outputBytes, o.blobPricePerMiB) +
    priceBlob(MAX_RESULT_BLOB_BYTES, o.blobPricePerMiB);
  const firstWrite = o.pricePerByte * BigInt(o.paymentRequiredBytes);
  return { amount: o.price + writes + blobs, price: o.price, writes, blobs, firstWrite };
}
