/**
 * A job request's way in (docs/ARCHITECTURE.md, "Provider"): the admission rules
 * (job_admission.ts) applied with the node's load, the town's debt, the request's inputs checked
 * before anyone pays, a slot in the unpaid pool, and the job recorded already billed; or the
 * request dropped (counted, logged, and answered when the requester can act on it), or parked
 * until its requester has room (parked_requests.ts). Kind 5 deletions cancel their requester's
 * jobs here too.
 *
 * @module
 */
import type { NostrEvent } from "../../../protocol/nostr_event.ts";
import type { NodeSigner } from "../../../protocol/node_signer.ts";
import { buildJobFeedback } from "../../../protocol/nip90_job.ts";
import type { JobQuote } from "../../../protocol/provider_quote.ts";
import { decodeEventToon } from "../../../protocol/toon_codec.ts";
import type { ProviderJobRecord } from "../../../state/jobs/provider_job_record.ts";
import type { ProviderJobStore } from "../../../state/jobs/provider_job_store.ts";
import type { TownClients } from "../../town_client/town_clients.ts";
import { decideAdmission } from "./job_admission.ts";
import { admitParts, billFields } from "./admitted_bill.ts";
import { splitJobBill } from "../../../protocol/job_bill.ts";
import { DropNotices } from "./drop_notice.ts";
import { ParkedRequests } from "./parked_requests.ts";
import type { PaymentDesk } from "../payments/payment_desk.ts";
import type { RunQueue } from "./run_queue.ts";
import type { SkillEntry } from "../skills/skill_catalog.ts";
import { missingParams } from "../skills/skill_manifest.ts";
import { BlobInputError, checkBlobInputs } from "./blob_inputs.ts";
import { checkDockerBuildRequest, DockerBuildRequestError } from "../docker/docker_build_runner.ts";
import { skillInput } from "./job_run.ts";
import type { JobPublisher } from "./job_publisher.ts";
import type { ProviderSkills } from "../skills/provider_skills.ts";
import { countDrop, type ProviderCounters, type ProviderDropReason } from "../provider_counters.ts";
import type { BackgroundWork } from "../background_work.ts";
import type { ProviderNodeOptions } from "../provider_options.ts";
import { DEFAULT_MAX_INPUT_BYTES } from "./blob_inputs.ts";
import {
  TextGenerationRefusedError,
  textGenerationRequest,
  tokenBudgetOf,
} from "../models/text_generation_request.ts";
import { AGENT_TASK_PARAM } from "../../agent_work/agent_task_wire.ts";
import { depositMaxOf, depositRefusal } from "../../../protocol/deposit_bound.ts";

/** Options for {@linkcode RequestAdmission}. */
export interface RequestAdmissionOptions extends
  Pick<
    ProviderNodeOptions,
    | "maxAgeSec"
    | "maxInFlight"
    | "maxInFlightPerRequester"
    | "maxUnpaidPerRequester"
    | "maxInputBytes"
  > {
  pubkey: string;
  signer: NodeSigner;
  store: Pick<ProviderJobStore, "unfinished" | "getUnfinished" | "get" | "has" | "put">;
  skills: Pick<ProviderSkills, "servableFor" | "engine" | "agentPrice" | "models">;
  /** What a job costs its requester (job_pricing.ts). */
  quote: (event: NostrEvent, entry: SkillEntry) => JobQuote;
  /** The payment desk, once open. */
  desk: () => PaymentDesk | undefined;
  /** Every town's client, once open. */
  towns: () => TownClients | undefined;
  /** The town a request was first found on, when not the home town. */
  foundOn: (jobId: string) => string | undefined;
  /** Why new paid jobs are refused for the town's debt, or undefined. */
  townDebtRefusal: () => Promise<string | undefined>;
  publisher: Pick<JobPublisher, "finishWithError">;
  /** After the billed record is on disk: run a free job, or publish the payment request. */
  announceBill: (billed: ProviderJobRecord) => Promise<void>;
  runs: Pick<RunQueue, "cancel">;
  counters: ProviderCounters;
  work: Pick<BackgroundWork, "track" | "stopped">;
  log: (line: string) => void;
  markStatus: () => void;
}

const nowIso = () => new Date().toISOString();

/**
 * Admits, drops or parks job requests and cancels jobs; see the module doc.
 *
 * It needs a provider's desk, store and town: no example that runs here:
 * tests/e2e/provider_admission_test.ts.
 */
export class RequestAdmission {
  #o: RequestAdmissionOptions;
  #notices: DropNotices;
  #dropped = new Map<string, true>();
  #cancelledEarly = new Map<string, string>();
  #parked = new ParkedRequests();

  constructor(options: RequestAdmissionOptions) {
    this.#o = options;
    this.#notices = new DropNotices({ pubkey: options.pubkey });
  }

  /** Requests parked until their requester has room here. */
  get parked(): number {
    return this.#parked.size;
  }

  /** Paid jobs not finished, of everyone or of one requester: unpaid ones are not counted. */
  #paidInFlight(pubkey?: string): number {
    let n = 0;
    for (const r of this.#o.store.unfinished()) {
      if (r.status === "admitted" || r.status === "invoiced") continue;
      if (pubkey === undefined || r.customer === pubkey) n++;
    }
    return n;
  }

  #drop(event: NostrEvent, reason: ProviderDropReason, detail: string): void {
    const o = this.#o;
    countDrop(o.counters, reason);
    o.markStatus();
    if (reason !== "duplicate") {
      this.#dropped.set(event.id, true);
      if (this.#dropped.size > 100_000) this.#dropped.delete(this.#dropped.keys().next().value!);
      // A duplicate is the relay replaying a request already handled (every re-subscription:
      // a reconnect, a skills change): counted in the status, not logged once per past job.
      o.log(`drop ${event.id} kind ${event.kind}: ${reason} (${detail})`);
    }
    o.markStatus();
    const notice = this.#notices.noticeFor(event, reason, detail);
    const towns = o.towns();
    if (notice !== undefined && towns !== undefined) {
      o.work.track(
        towns.publishTo(
          towns.targetsFor(event, o.foundOn(event.id)),
          buildJobFeedback({
            request: { id: event.id, pubkey: event.pubkey },
            status: "error",
            extraInfo: notice,
          }),
        ).catch((err) => o.log(`notice of ${event.id} not sent: ${(err as Error).message}`)),
      );
    }
  }

  /** A job request from the feed: admitted (recorded, billed), dropped or parked. */
  async onRequest(event: NostrEvent, toon: string): Promise<void> {
    const o = this.#o;
    const entry = o.skills.servableFor(event.kind);
    const quote = entry === undefined ? undefined : o.quote(event, entry);
    const decision = decideAdmission(event, {
      nowSec: Math.floor(Date.now() / 1000),
      maxAgeSec: o.maxAgeSec ?? 600,
      providerPubkey: o.pubkey,
      price: quote?.amount,
      seen: (id) => o.store.has(id) || this.#dropped.has(id) || this.#parked.has(id),
      cancelled: (id, author) => this.#cancelledEarly.get(id) === author,
      inFlight: this.#paidInFlight(),
      inFlightOf: (p) => this.#paidInFlight(p),
      maxInFlight: o.maxInFlight ?? 32,
      maxInFlightPerRequester: o.maxInFlightPerRequester ?? 8,
    });
    if (!decision.admit) {
      if (decision.reason === "over-requester-capacity" && this.#park(event, toon)) return;
      return this.#drop(event, decision.reason, decision.detail);
    }
    // Paid through the town: not while it owes more than this provider's limit.
    const owed = quote!.amount > 0n ? await o.townDebtRefusal() : undefined;
    if (owed !== undefined) return this.#drop(event, "town-debt", owed);
    // Paid on delivery: the price's share and the writes made, invoiced with the result; the
    // deposit billed now (protocol/job_bill.ts).
    const bill = splitJobBill({
      quote: quote!,
      extra: 0n,
      onDeliveryPercent: entry!.manifest.onDeliveryPercent,
    });
    const record: ProviderJobRecord = {
      id: event.id,
      kind: event.kind,
      customer: event.pubkey,
      skill: entry!.manifest.name,
      status: "admitted",
      ...billFields(bill),
      requestToon: toon,
      encrypted: event.tags.some((t) => t[0] === "encrypted"),
      admittedAt: nowIso(),
      updatedAt: nowIso(),
      attempts: 0,
    };
    // Inputs too large or missing are refused before anyone pays (a HEAD per blob input).
    const refusal = await this.#checkRequest(record, entry!, event, quote!);
    if (refusal !== undefined) {
      await o.store.put(record);
      o.counters.admitted++;
      return await o.publisher.finishWithError(record, "error", refusal);
    }
    const desk = o.desk()!;
    if (record.price !== "0") {
      const slot = desk.reserve(record);
      if (!slot.ok) {
        return this.#park(event, toon) ? undefined : this.#drop(event, slot.reason, slot.detail);
      }
    }
    // Persisted before anything else happens. The invoice is made first, in memory only
    // (nothing leaves this process before the record is on disk), so admission and billing
    // are one durable write instead of two on the job's critical path.
    const billed = await desk.bill(record);
    try {
      await o.store.put(billed);
    } catch (err) {
      desk.release(record.id); // never announced: nobody can pay it
      throw err;
    }
    o.counters.admitted++;
    o.log(`admit ${event.id} kind ${event.kind} skill ${record.skill} ${admitParts(record)}`);
    o.markStatus();
    o.work.track(o.announceBill(billed));
  }

  /** A kind 5 deletion: its author's jobs it names are cancelled (or refused when they come). */
  async onDeletion(event: NostrEvent): Promise<void> {
    const o = this.#o;
    for (const tag of event.tags) {
      if (tag[0] !== "e" || tag[1] === undefined) continue;
      if (!o.store.has(tag[1])) {
        this.#cancelledEarly.set(tag[1], event.pubkey);
        if (this.#cancelledEarly.size > 10_000) {
          this.#cancelledEarly.delete(this.#cancelledEarly.keys().next().value!);
        }
        continue;
      }
      // Only a job not ended is cancelled: an ended one's row is not read (a deletion may name
      // hundreds of ended jobs).
      const record = o.store.getUnfinished(tag[1]);
      if (record === undefined || record.customer !== event.pubkey) continue;
      o.log(`cancel ${record.id} (kind 5 from its requester)`);
      if (o.runs.cancel(record.id, new Error("cancelled by the requester")) === "running") {
        continue; // the job runner records the outcome
      }
      o.desk()!.release(record.id);
      await o.publisher.finishWithError(record, "cancelled", "cancelled by the requester (kind 5)");
    }
  }

  /** Parks a request refused for its requester's room (parked_requests.ts). */
  #park(event: NostrEvent, toon: string): boolean {
    return this.#parked.park(event, toon, this.#o.maxAgeSec ?? 600);
  }

  /**
   * Admits `requester`'s parked requests as far as it has room again: called when it paid an
   * invoice or one of its paid jobs ended, never for another requester's progress or a
   * withdrawal.
   */
  wakeParked(requester: string): void {
    const o = this.#o;
    if (!this.#parked.hasRequester(requester) || o.work.stopped || !o.desk()) return;
    queueMicrotask(() => {
      this.#parked.release(
        requester,
        () =>
          Math.min(
            o.desk()!.unpaidShareOf(requester) - o.desk()!.unpaidOf(requester),
            (o.maxInFlightPerRequester ?? 8) - this.#paidInFlight(requester),
          ),
        (event, toon) => o.work.track(this.onRequest(event, toon)),
      );
    });
  }

  /**
   * Why the job cannot be taken before anyone pays (an unusable blob input, a docker-build
   * request this engine will not build), or undefined.
   */
  /** Adds `extra` to a record's price, split between deposit and delivery as the skill's is. */
  #addPrice(record: ProviderJobRecord, quote: JobQuote, extra: bigint, entry: SkillEntry): void {
    const bill = splitJobBill({
      quote,
      extra,
      onDeliveryPercent: entry.manifest.onDeliveryPercent,
    });
    Object.assign(record, billFields(bill));
  }

  async #checkRequest(
    record: ProviderJobRecord,
    entry: SkillEntry,
    event: NostrEvent,
    quote: JobQuote,
  ): Promise<string | undefined> {
    try {
      const needsTags = entry.manifest.runner === "docker" ||
        entry.manifest.runner === "model" || entry.manifest.requiredParams.length > 0;
      let tags: string[][] = event.tags;
      if (needsTags) {
        tags = decodeEventToon(await skillInput(record, this.#o.signer), { verify: false })
          .tags;
        const missing = missingParams(tags, entry.manifest.requiredParams);
        if (missing.length > 0) {
          return `refused: missing param ${
            missing.join(", ")
          } (the ${entry.manifest.name} skill needs it)`;
        }
        if (entry.manifest.runner === "docker") {
          checkDockerBuildRequest(tags, this.#o.skills.engine!);
        }
        // An agent-task names a preset this provider has, or it is refused before any payment;
        // the preset's price is added to the job's (docs/OPERATIONS.md "Agent presets").
        const agent = tags.find((t) => t[0] === "param" && t[1] === AGENT_TASK_PARAM.agent)?.[2] ??
          "";
        const extra = entry.manifest.runner === "agent" ? this.#o.skills.agentPrice(agent) : 0n;
        if (extra === undefined) return `refused: no agent preset ${JSON.stringify(agent)} here`;
        if (extra > 0n) this.#addPrice(record, quote, extra, entry);
        if (entry.manifest.runner === "model") {
          // The preset's price added, then its tokens within what the bid leaves (cut or refused
          // before any payment: docs/PROTOCOL.md "text-generation (kind 5050)").
          const models = this.#o.skills.models;
          const { preset } = textGenerationRequest(tags, models, undefined);
          if (preset.price > 0n) this.#addPrice(record, quote, preset.price, entry);
          textGenerationRequest(tags, models, tokenBudgetOf(record, tags));
        }
      }
      // A deposit over the requester's bound is refused before it is asked (docs/PROTOCOL.md
      // "The deposit bound"): nothing paid, nothing run, and the requester told why.
      const overBound = depositRefusal(BigInt(record.price), depositMaxOf(tags));
      if (overBound !== undefined) return `refused: ${overBound}`;
      // Blob inputs name their hash in an `x` tag, public even in an encrypted request.
      if (event.tags.some((t) => t[0] === "x")) await this.#blobInputs(record);
      return undefined;
    } catch (err) {
      if (err instanceof BlobInputError) return err.message;
      if (err instanceof DockerBuildRequestError) return `${err.status}: ${err.message}`;
      if (err instanceof TextGenerationRefusedError) return err.message;
      throw err;
    }
  }

  /** The request's blob inputs (its tags after decryption, for an encrypted request). */
  async #blobInputs(record: ProviderJobRecord) {
    const tags = decodeEventToon(await skillInput(record, this.#o.signer), { verify: false }).tags;
    return await checkBlobInputs(tags, {
      maxBytes: this.#o.maxInputBytes ?? DEFAULT_MAX_INPUT_BYTES,
    });
  }
}
