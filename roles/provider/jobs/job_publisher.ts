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
import { decodeEventToon } from "../../../protocol/toon_codec.ts";
import { blobOutputTag } from "../../../protocol/job_blobs.ts";
import { blobServerOf } from "../../../transport/relay_info.ts";
import type { ProviderJobRecord } from "../../../state/jobs/provider_job_record.ts";
import type { ProviderJobStore } from "../../../state/jobs/provider_job_store.ts";
import type { TownClients } from "../../town_client/town_clients.ts";
import { publishBlob } from "../../blob_publisher.ts";
import type { ProviderCounters } from "../provider_counters.ts";
import { liftCommitment } from "../../../protocol/delivery_commitment.ts";
import { jobResultsDir } from "./job_run.ts";
import type { ProviderNodeOptions } from "../provider_options.ts";
import type { PaymentDesk } from "../payments/payment_desk.ts";

/**
 * How long a feedback or result write that failed for a passing reason (the town restarting:
 * no answer, T03 while it stops) is sent again, the same event (docs/OPERATIONS.md "Stopping a
 * town"); past it a result is published again at the next start.
 */
const WRITE_RETRY_MS = 30_000;

/** Options for {@linkcode JobPublisher}. */
export interface JobPublisherOptions extends Pick<ProviderNodeOptions, "stateDir" | "relayUrl"> {
  store: Pick<ProviderJobStore, "put" | "get">;
  /** The payment desk, once open: a result paid on delivery carries its invoice. */
  desk?: () => Pick<PaymentDesk, "billDelivery" | "armDelivery"> | undefined;
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
}

/**
 * Publishes jobs' feedback and results; see the module doc.
 *
 * @example
 * ```ts
 * import { JobPublisher } from "./job_publisher.ts";
 * import { newProviderCounters } from "../provider_counters.ts";
 * import type { NodeSigner } from "../../../protocol/node_signer.ts";
 * import type { ProviderJobRecord } from "../../../state/jobs/provider_job_record.ts";
 * import type { ProviderJobStore } from "../../../state/jobs/provider_job_store.ts";
 * import type { TownClients } from "../../town_client/town_clients.ts";
 *
 * declare const store: ProviderJobStore;
 * declare const towns: TownClients;
 * declare const signer: NodeSigner;
 * declare const record: ProviderJobRecord; // a job whose skill failed
 * const publisher = new JobPublisher({
 *   store,
 *   towns: () => towns,
 *   foundOn: () => undefined,
 *   signer,
 *   stateDir: "/var/lib/turnpike",
 *   relayUrl: "ws://127.0.0.1:7777",
 *   blobPricePerMiB: () => 200n,
 *   counters: newProviderCounters(),
 *   log: console.log,
 *   markStatus: () => {},
 *   wakeParked: () => {},
 * });
 * await publisher.finishWithError(record, "error", "the skill failed");
 * ```
 */
export class JobPublisher {
  #o: JobPublisherOptions;

  constructor(options: JobPublisherOptions) {
    this.#o = options;
  }

  /** Publishes the kept output files as blobs (paid); their `blob` tags for the result. */
  async #publishOutputs(record: ProviderJobRecord): Promise<string[][]> {
    const tags: string[][] = [];
    for (const name of record.resultFiles ?? []) {
      const { descriptor } = await publishBlob({
        path: `${jobResultsDir(this.#o.stateDir, record.id)}/${name}`,
        server: blobServerOf(this.#o.relayUrl),
        pricePerMiB: this.#o.blobPricePerMiB(),
        signer: this.#o.signer,
        pay: (auth, amount) => this.#o.towns().home.sendPaid(auth, amount, record.id),
      });
      tags.push(blobOutputTag({ name, ...descriptor }));
    }
    return tags;
  }

  /** Publishes a computed result (its outputs first), then records the job `published`. */
  async publishResult(computed: ProviderJobRecord): Promise<void> {
    const record = await this.#billDelivery(computed);
    const request = decodeEventToon(record.requestToon, { verify: false });
    // Paid on delivery: the result's key goes out sealed with the delivery's fulfillment.
    const sealed = record.deliveryFulfillment === undefined
      ? record.result!
      : await sealResultContent(record.result!, hexToBytes(record.deliveryFulfillment));
    // What the key opens goes in the public tags, signed before the delivery is paid.
    const { content: plain, tags: commitment } = record.deliveryFulfillment === undefined
      ? { content: sealed, tags: [] }
      : liftCommitment(sealed);
    const content = record.encrypted
      ? nip44.v2.encrypt(plain, await this.#o.signer.conversationKey(record.customer))
      : plain;
    const template = buildJobResult({
      request,
      content,
      amount: record.deliveryInvoice !== undefined
        ? { amount: record.deliveryPrice!, paymentRequest: record.deliveryInvoice }
        : record.price === "0"
        ? undefined
        : { amount: record.price },
      // The requester has its request: quoting it would cost the provider its bytes again.
      maxQuotedRequestBytes: 0,
      extraTags: await this.#publishOutputs(record),
    });
    template.tags.push(...commitment);
    if (record.encrypted) template.tags.push(["encrypted"]);
    // No `success` feedback: the result is the success (NIP-90 makes feedback optional), and
    // each write is a paid one the quote would have to cover. A restart before `published` is
    // recorded republishes the result.
    const event = await this.#o.towns().publishTo(this.#targetsOf(record), template, {
      retryUntil: Date.now() + WRITE_RETRY_MS,
    });
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

  /**
   * A job paid on delivery gets its delivery invoice, on disk before the result that carries
   * it goes out (the same one again after a restart); any other job is returned as it is.
   */
  async #billDelivery(record: ProviderJobRecord): Promise<ProviderJobRecord> {
    if (record.deliveryPrice === undefined) return record;
    // The desk opens (IL-DCP) before any job runs or is recovered.
    const billed = await this.#o.desk!()!.billDelivery(record);
    if (billed.deliveryInvoice !== record.deliveryInvoice) await this.#o.store.put(billed);
    return billed;
  }

  /** The towns a job's feedback and result go to (roles/town_client/town_clients.ts). */
  #targetsOf(record: ProviderJobRecord): string[] {
    const request = decodeEventToon(record.requestToon, { verify: false });
    return this.#o.towns().targetsFor(request, this.#o.foundOn(record.id));
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
   * in the content, with `["encrypted"]` (docs/PROTOCOL.md "Errors of an encrypted job").
   */
  async notifyError(record: ProviderJobRecord): Promise<void> {
    const reason = (record.error ?? "error").slice(0, 1000);
    if (!record.encrypted) await this.feedback(record, "error", { extraInfo: reason });
    else {
      await this.feedback(record, "error", {
        extraInfo: record.errorCode ?? (record.status === "cancelled" ? "cancelled" : "error"),
        content: nip44.v2.encrypt(reason, await this.#o.signer.conversationKey(record.customer)),
        tags: [["encrypted"]],
      });
    }
    await this.#o.store.put({ ...record, notified: true });
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
    await this.#o.towns().publishTo(
      this.#targetsOf(record),
      template,
      // A town restarting under the write: the same feedback again until the town is back (an
      // invoice the requester never sees is a job that times out unpaid).
      { retryUntil: Date.now() + WRITE_RETRY_MS },
    );
  }
}
