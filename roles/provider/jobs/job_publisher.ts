/**
 * What a provider publishes for its jobs (docs/ARCHITECTURE.md, "One job, from `job submit` to
 * the skill and back"): feedback (payment-required, processing, error), the result with its
 * output files as paid blobs, and a job's end in error or cancelled, each recorded before or
 * after its write as the job's states say (state/jobs/provider_job_record.ts). Every write goes to
 * the towns the request names (roles/town_client/town_clients.ts).
 *
 * @module
 */
import { nip44 } from "nostr-tools";
import { hexToBytes } from "@noble/hashes/utils.js";
import { sealResultContent } from "../../../protocol/delivery_key.ts";
import type { NodeSigner } from "../../../protocol/node_signer.ts";
import {
  buildJobFeedback,
  buildJobResult,
  type FeedbackStatus,
} from "../../../protocol/nip90_job.ts";
import { decodeEventToon, encodeEventToon } from "../../../protocol/toon_codec.ts";
import type { EventTemplate } from "../../../protocol/nostr_event.ts";
import { billDelivery } from "../../../protocol/job_bill.ts";
import { billTag, type InvoiceParts } from "../../../protocol/bill_tag.ts";
import { blobOutputTag } from "../../../protocol/job_blobs.ts";
import type { ProviderJobRecord } from "../../../state/jobs/provider_job_record.ts";
import type { ProviderJobStore } from "../../../state/jobs/provider_job_store.ts";
import type { TownClients } from "../../town_client/town_clients.ts";
import { publishOnResultTown } from "./result_blob_town.ts";
import type { ProviderCounters } from "../provider_counters.ts";
import { liftCommitment } from "../../../protocol/delivery_commitment.ts";
import { jobResultsDir } from "./job_run.ts";
import type { ProviderNodeOptions } from "../provider_options.ts";
import type { PaymentDesk } from "../payments/payment_desk.ts";
import { encodeErrorContent, type ErrorTranscriptKey } from "../../agent_work/error_transcript.ts";
import { SEALED_TRANSCRIPT_NAME } from "../../agent_work/agent_task_wire.ts";
import { sealErrorTranscript } from "../../agent_work/provider/error_transcript_blob.ts";
import type { BackgroundWork } from "../background_work.ts";

/**
 * How long a feedback or result write that failed for a passing reason (the town restarting:
 * no answer, T03 while it stops) is sent again, the same event (docs/OPERATIONS.md "Stopping a
 * town"), unless `writeRetryMs` says otherwise.
 */
const WRITE_RETRY_MS = 30_000;
/**
 * A result still not out after that is published again while the node runs, first after this
 * long, then twice as long each time up to {@linkcode RESULT_RETRY_MAX_MS}: a paid job's result
 * must reach its requester without waiting for the provider's next start.
 */
const RESULT_RETRY_FIRST_MS = 1_000;
const RESULT_RETRY_MAX_MS = 60_000;

/** Options for {@linkcode JobPublisher}. */
export interface JobPublisherOptions
  extends Pick<ProviderNodeOptions, "stateDir" | "relayUrl" | "writeRetryMs"> {
  store: Pick<ProviderJobStore, "put" | "get">;
  /** The payment desk, once open: a result paid on delivery carries its invoice. */
  desk?: () => Pick<PaymentDesk, "billDelivery" | "armDelivery" | "previewText"> | undefined;
  /** Every town's client (once open). */
  towns: () => TownClients;
  /** The town a request was first found on, when not the home town (its writes' fallback). */
  foundOn: (jobId: string) => string | undefined;
  signer: NodeSigner;
  /** The town's blob price per MiB. */
  blobPricePerMiB: () => bigint;
  counters: ProviderCounters;
  log: (line: string) => void;
  markStatus: () => void;
  /** A requester's job ended: its parked requests may come in. */
  wakeParked: (requester: string) => void;
  /** Where a result not yet out is published again from. */
  work: Pick<BackgroundWork, "later" | "stopped">;
}

/**
 * Publishes jobs' feedback and results; see the module doc.
 *
 * It publishes on a town: no example that runs here: tests/e2e/provider_fail_fast_test.ts.
 */
export class JobPublisher {
  #o: JobPublisherOptions;
  /** What each job's feedback since its deposit cost (billed with its delivery). */
  #written = new Map<string, bigint>();

  constructor(options: JobPublisherOptions) {
    this.#o = options;
  }

  /** Publishes the kept output files as blobs; their `blob` tags for the result, and the paid. */
  async #publishOutputs(record: ProviderJobRecord): Promise<{ tags: string[][]; paid: bigint }> {
    // All at once (an agent-task's result bundle and transcript), their tags in the files' order.
    const published = await Promise.all((record.resultFiles ?? []).map(async (name) => ({
      name,
      // On a town the result goes to: the requester fetches from its own towns only.
      ...await publishOnResultTown({
        path: `${jobResultsDir(this.#o.stateDir, record.id)}/${name}`,
        targets: this.#townTargetsOf(record),
        home: this.#o.towns().home.relayUrl,
        homePricePerMiB: this.#o.blobPricePerMiB(),
        signer: this.#o.signer,
        pay: async (relay, auth, amount) =>
          await (await this.#o.towns().clientOf(relay)).sendPaid(auth, amount, record.id),
      }),
    })));
    return {
      tags: published.map((p) => blobOutputTag({ name: p.name, ...p.descriptor })),
      paid: published.reduce((sum, p) => sum + p.paid, 0n),
    };
  }

  /**
   * Publishes a computed result (its outputs first, then its delivery billed for the writes
   * they and the result make), then records the job `published`. When it cannot go out (its
   * town out of reach past the write's retries), it is published again later, the record read
   * afresh each time, until it is out or the node stops (the next start publishes it then).
   */
  publishResult(computed: ProviderJobRecord): Promise<void> {
    return this.#publishResult(computed, 0);
  }

  async #publishResult(computed: ProviderJobRecord, attempt: number): Promise<void> {
    try {
      await this.#publishResultOnce(computed);
    } catch (err) {
      if (this.#o.work.stopped) throw err;
      const delay = Math.min(RESULT_RETRY_FIRST_MS * 2 ** attempt, RESULT_RETRY_MAX_MS);
      this.#o.log(
        `result of ${computed.id} not published (${(err as Error).message}): again in ${delay} ms`,
      );
      this.#o.work.later(delay, async () => {
        const now = this.#o.store.get(computed.id);
        if (now?.status === "result-computed") await this.#publishResult(now, attempt + 1);
      });
    }
  }

  async #publishResultOnce(computed: ProviderJobRecord): Promise<void> {
    const outputs = await this.#publishOutputs(computed);
    const record = await this.#billDelivery(computed, outputs);
    const template = await this.#resultTemplate(record, outputs.tags, {
      fulfillment: record.deliveryFulfillment,
      amount: record.deliveryInvoice !== undefined
        ? { amount: record.deliveryPrice!, paymentRequest: record.deliveryInvoice }
        : record.price === "0"
        ? undefined
        : { amount: record.price },
      parts: deliveryParts(record),
    });
    // No `success` feedback: the result is the success (NIP-90 makes feedback optional), and
    // each write is a paid one the quote would have to cover. A restart before `published` is
    // recorded republishes the result.
    const event = await this.#o.towns().publishTo(this.#targetsOf(record), template, {
      retryUntil: Date.now() + (this.#o.writeRetryMs ?? WRITE_RETRY_MS),
    });
    this.#written.delete(record.id);
    // Read again: a delivery may have been paid while the result was going out.
    const now = this.#o.store.get(record.id) ?? record;
    const awaiting = now.deliveryInvoice !== undefined && now.deliveryPaidAt === undefined;
    const published: ProviderJobRecord = {
      ...now,
      status: awaiting ? "delivered" : "published",
      resultEventId: event.id,
    };
    await this.#o.store.put(published);
    if (awaiting) this.#o.desk?.()?.armDelivery(published);
    if (record.resultFiles !== undefined) {
      await Deno.remove(jobResultsDir(this.#o.stateDir, record.id), { recursive: true })
        .catch(() => {});
    }
    this.#o.counters.published++;
    this.#o.log(`published result ${event.id} for ${record.id}`);
    this.#o.markStatus();
    this.#o.wakeParked(record.customer);
  }

  /** The result event's template: its content sealed with `fulfillment` when paid on delivery. */
  async #resultTemplate(
    record: ProviderJobRecord,
    blobTags: string[][],
    o: {
      fulfillment?: string;
      amount?: { amount: string; paymentRequest?: string };
      parts?: InvoiceParts;
    },
  ): Promise<EventTemplate> {
    const request = decodeEventToon(record.requestToon, { verify: false });
    // Paid on delivery: the result's key goes out sealed with the delivery's fulfillment.
    const sealed = o.fulfillment === undefined
      ? record.result!
      : await sealResultContent(record.result!, hexToBytes(o.fulfillment));
    // What the key opens goes in the public tags, signed before the delivery is paid.
    const { content: plain, tags: commitment } = o.fulfillment === undefined
      ? { content: sealed, tags: [] }
      : liftCommitment(sealed);
    const content = record.encrypted
      ? nip44.v2.encrypt(plain, await this.#o.signer.conversationKey(record.customer))
      : plain;
    const template = buildJobResult({
      request,
      content,
      amount: o.amount,
      // The requester has its request: quoting it would cost the provider its bytes again.
      maxQuotedRequestBytes: 0,
      extraTags: blobTags,
    });
    template.tags.push(...commitment);
    if (o.parts !== undefined) template.tags.push(billTag(o.parts));
    if (record.encrypted) template.tags.push(["encrypted"]);
    return template;
  }

  /**
   * A job paid on delivery gets its delivery invoice, on disk before the result that carries
   * it goes out (the same one again after a restart); any other job is returned as it is. The
   * invoice asks the price's delivery share plus the writes the job made: its feedback since
   * the deposit, its blobs as paid, and the result event itself, measured as it will be sent
   * with an invoice of the same amount (protocol/job_bill.ts).
   */
  async #billDelivery(
    record: ProviderJobRecord,
    outputs: { tags: string[][]; paid: bigint },
  ): Promise<ProviderJobRecord> {
    if (record.deliveryPrice === undefined) return record;
    // The desk opens (IL-DCP) before any job runs or is recovered.
    const desk = this.#o.desk!()!;
    let billed = record;
    if (record.deliveryInvoice === undefined && record.writesReserved !== undefined) {
      const share = BigInt(record.deliveryPrice);
      const before = this.#written.get(record.id) ?? 0n;
      const perByte = await this.#perByteOf(record);
      const writesReserved = BigInt(record.writesReserved);
      let bill = billDelivery({ share, writes: before, blobs: outputs.paid, writesReserved });
      // The invoice's amount is in the event it prices: two rounds settle its width.
      for (let round = 0; round < 3; round++) {
        const amount = String(bill.amount);
        const result = await this.#resultTemplate(record, outputs.tags, {
          fulfillment: "00".repeat(32),
          amount: { amount, paymentRequest: desk.previewText(record.id, bill.amount) },
          parts: { price: String(share), writes: String(bill.writes), blobs: String(bill.blobs) },
        });
        const next = billDelivery({
          share,
          writes: before +
            perByte * BigInt(eventBytes({ ...result, pubkey: this.#o.signer.pubkey })),
          blobs: outputs.paid,
          writesReserved,
        });
        if (next.amount === bill.amount) break;
        bill = next;
      }
      billed = {
        ...record,
        deliveryPrice: String(bill.amount),
        deliveryWrites: String(bill.writes),
        deliveryBlobs: String(bill.blobs),
      };
    }
    billed = await desk.billDelivery(billed);
    if (billed !== record) await this.#o.store.put(billed);
    return billed;
  }

  /** What one byte of the job's events costs on all the towns they go to. */
  async #perByteOf(record: ProviderJobRecord): Promise<bigint> {
    let sum = 0n;
    for (const relay of this.#townTargetsOf(record)) {
      sum += (await this.#o.towns().clientOf(relay)).pricePerByte;
    }
    return sum;
  }

  /** The towns a job's feedback and result go to (roles/town_client/town_clients.ts). */
  #targetsOf(record: ProviderJobRecord): string[] {
    const request = decodeEventToon(record.requestToon, { verify: false });
    return this.#o.towns().targetsFor(request, this.#o.foundOn(record.id));
  }

  /** The towns among them: a plain relay's writes are free, it hosts no blob. */
  #townTargetsOf(record: ProviderJobRecord): string[] {
    return this.#targetsOf(record).filter((r) => !this.#o.towns().isPlain(r));
  }

  /**
   * Ends a job in error or cancelled: recorded, counted, then its requester told; `code` is
   * what an encrypted job's public feedback says instead of `reason` (see `notifyError`).
   */
  async finishWithError(
    record: ProviderJobRecord,
    status: "error" | "cancelled",
    reason: string,
    code?: string,
  ): Promise<void> {
    const failed: ProviderJobRecord = {
      ...record,
      status,
      error: reason,
      ...(code === undefined ? {} : { errorCode: code }),
      notified: false,
    };
    await this.#o.store.put(failed);
    this.#written.delete(record.id);
    if (status === "cancelled") this.#o.counters.cancelled++;
    else this.#o.counters.errors++;
    this.#o.log(`${status} ${record.id}: ${reason}`);
    this.#o.markStatus();
    // A paid job that ended frees its requester's room; a withdrawn invoice does not: parked
    // requests wait for their requester to pay, not for the pool to churn.
    if (record.status !== "admitted" && record.status !== "invoiced") {
      this.#o.wakeParked(record.customer);
    }
    await this.notifyError(failed);
  }

  /**
   * Sends an ended job's `error` feedback, then records it `notified`. An encrypted job's reason
   * can carry what the request hid (a line of an agent's output over the requester's repository):
   * its feedback says only a code in public and the reason goes NIP-44 encrypted to the requester
   * in the content, with `["encrypted"]` (docs/PROTOCOL.md "Errors of an encrypted job"). With it
   * goes the transcript an agent task kept, sealed, as a blob the feedback names, its key in the
   * encrypted content (roles/agent_work/error_transcript.ts).
   */
  async notifyError(record: ProviderJobRecord): Promise<void> {
    const reason = (record.error ?? "error").slice(0, 1000);
    if (!record.encrypted) await this.feedback(record, "error", { extraInfo: reason });
    else {
      const sent = await this.#errorTranscript(record);
      const content = encodeErrorContent({ reason, transcript: sent?.transcript });
      await this.feedback(record, "error", {
        extraInfo: record.errorCode ?? (record.status === "cancelled" ? "cancelled" : "error"),
        content: nip44.v2.encrypt(content, await this.#o.signer.conversationKey(record.customer)),
        tags: [["encrypted"], ...(sent ? [sent.tag] : [])],
      });
    }
    await this.#o.store.put({ ...record, notified: true });
  }

  /**
   * An encrypted job's kept agent transcript sealed and published on a town its error goes to;
   * undefined when it kept none, or when the upload failed (the error goes without it, said in
   * the log: the requester's error never waits on a blob).
   */
  async #errorTranscript(
    record: ProviderJobRecord,
  ): Promise<{ transcript: ErrorTranscriptKey; tag: string[] } | undefined> {
    const to = `${jobResultsDir(this.#o.stateDir, record.id)}.${SEALED_TRANSCRIPT_NAME}`;
    try {
      await Deno.mkdir(`${this.#o.stateDir}/results`, { recursive: true, mode: 0o700 });
      const sealed = await sealErrorTranscript({
        stateDir: this.#o.stateDir,
        jobId: record.id,
        to,
      });
      if (sealed === undefined) return undefined;
      const published = await publishOnResultTown({
        path: sealed.path,
        targets: this.#townTargetsOf(record),
        home: this.#o.towns().home.relayUrl,
        homePricePerMiB: this.#o.blobPricePerMiB(),
        signer: this.#o.signer,
        pay: async (relay, auth, amount) =>
          await (await this.#o.towns().clientOf(relay)).sendPaid(auth, amount, record.id),
      });
      const tag = blobOutputTag({ name: SEALED_TRANSCRIPT_NAME, ...published.descriptor });
      return { transcript: sealed.transcript, tag };
    } catch (err) {
      this.#o.log(
        `${record.status} ${record.id}: its transcript not sent: ${(err as Error).message}`,
      );
      return undefined;
    } finally {
      await Deno.remove(to).catch(() => {});
    }
  }

  /** Publishes a feedback of the job to its towns (sent again while a town restarts). */
  async feedback(
    record: ProviderJobRecord,
    status: FeedbackStatus,
    extra: {
      extraInfo?: string;
      amount?: { amount: string; paymentRequest?: string };
      /** More tags (an agent-task's `spend`). */
      tags?: string[][];
      /** The content (an encrypted job's error reason, encrypted). */
      content?: string;
    },
  ): Promise<void> {
    const template = buildJobFeedback({
      request: { id: record.id, pubkey: record.customer },
      status,
      extraInfo: extra.extraInfo,
      amount: extra.amount,
      content: extra.content,
    });
    template.tags.push(...(extra.tags ?? []));
    const event = await this.#o.towns().publishTo(
      this.#targetsOf(record),
      template,
      // A town restarting under the write: the same feedback again until the town is back (an
      // invoice the requester never sees is a job that times out unpaid).
      { retryUntil: Date.now() + (this.#o.writeRetryMs ?? WRITE_RETRY_MS) },
    );
    // Written after the deposit (its own payment-required is in it): billed with the delivery.
    if ((status === "processing" || status === "partial") && record.deliveryPrice !== undefined) {
      const cost = (await this.#perByteOf(record)) * BigInt(eventBytes(event));
      this.#written.set(record.id, (this.#written.get(record.id) ?? 0n) + cost);
    }
  }
}

/** An event's TOON bytes, as the town prices its write (a template sized as signed). */
function eventBytes(event: EventTemplate & { pubkey: string; id?: string; sig?: string }): number {
  return new TextEncoder().encode(encodeEventToon({
    id: "0".repeat(64),
    sig: "0".repeat(128),
    ...event,
  })).byteLength;
}

/** A billed delivery's parts (protocol/bill_tag.ts), or undefined for a job without them. */
function deliveryParts(record: ProviderJobRecord): InvoiceParts | undefined {
  if (record.deliveryInvoice === undefined || record.deliveryWrites === undefined) return undefined;
  const writes = BigInt(record.deliveryWrites), blobs = BigInt(record.deliveryBlobs ?? "0");
  return {
    price: String(BigInt(record.deliveryPrice!) - writes - blobs),
    writes: String(writes),
    blobs: String(blobs),
  };
}
