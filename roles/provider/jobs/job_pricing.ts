/**
 * The provider's quote for one job (protocol/provider_quote.ts): its skill's price plus its own
 * writes for the job, measured rather than guessed: the feedback and result events are built as
 * they will be sent (with the largest amount an ILP packet can carry, so the real ones are never
 * longer) and their TOON bytes counted.
 *
 * @module
 */
import { spendInfo, spendTag } from "../../../protocol/agent_spend.ts";
import { MAX_SPEND_REPORTS } from "../../agent_work/provider/spend_reporter.ts";
import { MAX_PARTIALS } from "../models/text_generation_runner.ts";
import { formatAssetAmount } from "../../../protocol/asset_amount.ts";
import { blobOutputTag, RESULT_BLOB_NAME } from "../../../protocol/job_blobs.ts";
import { buildJobFeedback, buildJobResult } from "../../../protocol/nip90_job.ts";
import type { EventTemplate, NostrEvent } from "../../../protocol/nostr_event.ts";
import { type JobQuote, quoteJob } from "../../../protocol/provider_quote.ts";
import { encodeEventToon } from "../../../protocol/toon_codec.ts";
import { billTag } from "../../../protocol/bill_tag.ts";
import type { SkillManifest } from "../skills/skill_manifest.ts";

/** Largest ILP amount: the widest an amount can be written. */
const MAX_AMOUNT = 0xffff_ffff_ffff_ffffn;

/** Options for {@linkcode priceJob}. */
export interface JobPricingOptions {
  /** The request (its id and author name the feedback; its kind the result's). */
  request: NostrEvent;
  manifest: SkillManifest;
  pricePerByte: bigint;
  blobPricePerMiB: bigint;
  /** The provider's pubkey (the author of its writes). */
  providerPubkey: string;
  /** The invoice text an amount would give (InvoiceDesk.previewText). */
  invoiceText: (amount: bigint) => string;
  asset: { assetCode: string; assetScale: number };
}

/**
 * The quote for a job.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { finalizeEvent, generateSecretKey, getPublicKey } from "nostr-tools/pure";
 * import { priceJob } from "./job_pricing.ts";
 * import { InvoiceDesk } from "../payments/invoice_desk.ts";
 * import { parseSkillManifest } from "../skills/skill_manifest.ts";
 *
 * const skillDir = new URL("../../../skills/echo", import.meta.url).pathname;
 * const manifest = parseSkillManifest(await Deno.readTextFile(`${skillDir}/SKILL.md`)); // price 100
 * const desk = new InvoiceDesk({ address: () => "g.town.provider", assetCode: "USD", assetScale: 6 });
 * const request = finalizeEvent({
 *   kind: 5601,
 *   created_at: Math.floor(Date.now() / 1000),
 *   tags: [["i", "hello", "text"]],
 *   content: "",
 * }, generateSecretKey());
 * const expiryMs = 60_000;
 * const quote = priceJob({
 *   request,
 *   manifest,
 *   pricePerByte: 10n,
 *   blobPricePerMiB: 200n,
 *   providerPubkey: getPublicKey(generateSecretKey()),
 *   invoiceText: (a) => desk.previewText({ jobId: request.id, amount: a, expiryMs }),
 *   asset: desk.asset,
 * });
 * assert.equal(quote.price, 100n);
 * assert.equal(quote.amount, quote.price + quote.writes + quote.blobs); // the skill and its writes
 * assert(quote.firstWrite > 0n && quote.firstWrite <= quote.writes);
 * ```
 */
export function priceJob(o: JobPricingOptions): JobQuote {
  const bytes = (t: EventTemplate, more: string[][] = []) =>
    new TextEncoder().encode(encodeEventToon({
      ...t,
      tags: [...t.tags, ...more],
      id: "0".repeat(64),
      pubkey: o.providerPubkey,
      sig: "0".repeat(128),
    })).byteLength;
  const request = { id: o.request.id, pubkey: o.request.pubkey };
  const max = String(MAX_AMOUNT);
  // The invoice's parts, each as wide as an amount can be (protocol/bill_tag.ts).
  const bill = billTag({ price: max, writes: max, blobs: max });
  const blobTag = (name: string) =>
    blobOutputTag({
      name,
      url: `http://${"x".repeat(48)}/${"0".repeat(64)}`,
      sha256: "0".repeat(64),
      size: Number.MAX_SAFE_INTEGER,
    });
  return quoteJob({
    price: o.manifest.price,
    pricePerByte: o.pricePerByte,
    blobPricePerMiB: o.blobPricePerMiB,
    paymentRequiredBytes: bytes(
      buildJobFeedback({
        request,
        status: "payment-required",
        extraInfo: paymentRequiredInfo(MAX_AMOUNT, o.asset),
        amount: { amount: max, paymentRequest: o.invoiceText(MAX_AMOUNT) },
      }),
      [bill],
    ),
    processingBytes: bytes(buildJobFeedback({
      request,
      status: "processing",
      extraInfo: processingInfo(o.manifest.name),
    })) + (o.manifest.runner === "agent" ? MAX_SPEND_REPORTS * spendFeedbackBytes(bytes) : 0) +
      (o.manifest.runner === "model" ? partialsBytes(bytes, o.manifest.resultBytes) : 0),
    resultEnvelopeBytes: bytes(buildJobResult({
      request: o.request,
      content: "",
      // Paid on delivery: the result carries its invoice (docs/PROTOCOL.md "Paid on delivery").
      amount: o.manifest.onDeliveryPercent > 0
        ? { amount: max, paymentRequest: o.invoiceText(MAX_AMOUNT) }
        : { amount: max },
      maxQuotedRequestBytes: 0,
      extraTags: [
        blobTag(RESULT_BLOB_NAME),
        ...Array.from(
          { length: o.manifest.outputFiles },
          (_, i) => blobTag(`o${i}`.padEnd(32, "x")),
        ),
        ["encrypted"],
        bill,
      ],
    })),
    resultBytes: o.manifest.resultBytes,
    outputBytes: o.manifest.outputBytes,
  });
}

/**
 * A text-generation's partials at their most: {@linkcode MAX_PARTIALS} envelopes, and the answer
 * once in all (each carries the text since the one before).
 */
function partialsBytes(bytes: (t: EventTemplate) => number, answerBytes: number): number {
  const envelope = bytes(buildJobFeedback({
    request: { id: "0".repeat(64), pubkey: "0".repeat(64) },
    status: "partial",
    extraInfo: `part ${MAX_PARTIALS}`,
  }));
  return MAX_PARTIALS * envelope + answerBytes;
}

/** The largest spend report of an agent-task (docs/PROTOCOL.md "Live spend"), in bytes. */
function spendFeedbackBytes(bytes: (t: EventTemplate) => number): number {
  const most = "9".repeat(30);
  const spend = {
    cost: most,
    budget: most,
    calls: 2 ** 53,
    inputTokens: 2 ** 53,
    outputTokens: 2 ** 53,
  };
  const template = buildJobFeedback({
    request: { id: "0".repeat(64), pubkey: "0".repeat(64) },
    status: "processing",
    extraInfo: spendInfo(spend),
  });
  template.tags.push(spendTag(spend));
  return bytes(template);
}

/**
 * The `payment-required` feedback's human line.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { paymentRequiredInfo } from "./job_pricing.ts";
 *
 * assert.equal(
 *   paymentRequiredInfo(5000n, { assetCode: "USD", assetScale: 6 }),
 *   "pay 0.005 USD by ILP to the invoice in the amount tag",
 * );
 * ```
 */
export function paymentRequiredInfo(
  amount: bigint,
  asset: { assetCode: string; assetScale: number },
): string {
  return `pay ${formatAssetAmount(amount, asset)} by ILP to the invoice in the amount tag`;
}

/**
 * The `processing` feedback's human line.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { processingInfo } from "./job_pricing.ts";
 *
 * assert.equal(processingInfo("ci-run"), "running ci-run");
 * ```
 */
export function processingInfo(skill: string): string {
  return `running ${skill}`;
}
