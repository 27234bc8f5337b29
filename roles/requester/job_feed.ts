/**
 * The requester's feed: the feedback and results addressed to it, on one subscription
 * `{"#p": [me], since}` per town for all its jobs (towns cap subscriptions per connection),
 * each event routed to its job by its `e` tag and handled in that job's queue: feedback moves
 * the job forward, ends it (a provider's error) or has its invoice paid; a result (its invoice
 * paid first, when it carries one) ends the job `done`. After a restart the subscription starts
 * at the oldest in-flight job's last seen time, and what arrives again is replayed idempotently
 * (docs/ARCHITECTURE.md, "Pipelines and their permissions").
 *
 * @module
 */
import { depositDeadline } from "../../protocol/deposit_deadline.ts";
import { type InvoiceParts, readBillTag } from "../../protocol/bill_tag.ts";
import { parseSpendTag } from "../../protocol/agent_spend.ts";
import type { NostrEvent } from "../../protocol/nostr_event.ts";
import {
  isJobResultKind,
  JOB_FEEDBACK_KIND,
  parseJobFeedback,
  parseJobResult,
} from "../../protocol/nip90_job.ts";
import { decodeEventToon } from "../../protocol/toon_codec.ts";
import { isBusyFeedback } from "../../protocol/busy_feedback.ts";
import type { JobSummary } from "../../state/jobs/job_repository.ts";
import { type RequesterJobRecord, TERMINAL_JOB_STATUSES } from "../../state/jobs/job_record.ts";
import { JOB_KIND_NAMES } from "../../protocol/job_kind_names.ts";
import { checkAfterPaying, checkBeforePaying } from "./delivery_check.ts";
import type { EventFeed, EventFeedOptions } from "../event_feed.ts";
import { openMultiTownFeed } from "../multi_town_feed.ts";
import type { AlertKind } from "../node_alerts.ts";
import type { JobFollower } from "./job_follower.ts";
import type { JobRefunds } from "./job_refunds.ts";
import type { JobPayer } from "./job_payer.ts";
import { fetchResultBlob, keepDecryptedResult, nip44Opener } from "./result_content.ts";
import type { NodeSigner } from "../../protocol/node_signer.ts";
import { authenticateWith } from "../../protocol/nip42_auth.ts";
import { blobServerOf } from "../../transport/relay_info.ts";
import { SeenEventIds } from "../../protocol/seen_event_ids.ts";

import { decodeErrorContent } from "../agent_work/error_transcript.ts";
import { saveErrorTranscript } from "../agent_work/requester/error_transcript_save.ts";
import { depositOverBound } from "../../protocol/deposit_bound.ts";

/** Options for {@linkcode openJobFeed}. */
export interface JobFeedOptions {
  /** The towns' relay URLs, the home town's first. */
  relays: string[];
  /**
   * Plain relays (not towns): followed too, without NIP-42, messages up to 64 KiB; an event
   * that came from a town already is not handed on again (docs/PROTOCOL.md "Plain relays").
   */
  plainRelays?: string[];
  /** The requester's pubkey: events addressed to it (`#p`) are the feed. */
  pubkey: string;
  /** The jobs on record still in flight: the subscription starts at the oldest one's. */
  inFlight: JobSummary[];
  /** Resolves once the jobs on record are followed: events wait for it. */
  following: Promise<void>;
  /** How the feed's stages run: "workers" (default) or "inline". */
  mode?: EventFeedOptions["mode"];
  /** The profile's state dir (a result's blob is fetched into it). */
  stateDir: string;
  /** Whether the node is closing: nothing new is acted on then. */
  closed: () => boolean;
  /** A job's record as it is on disk. */
  read: (id: string) => Promise<RequesterJobRecord | undefined>;
  /** The jobs followed: their queues, sidecars and record writes. */
  jobs: Pick<
    JobFollower,
    | "isFollowed"
    | "sidecarOf"
    | "enqueue"
    | "settle"
    | "see"
    | "writeSeen"
    | "advance"
    | "finish"
    | "progress"
    | "afterCancel"
  >;
  /** Pays a job's invoice. */
  payer: Pick<JobPayer, "pay" | "settleAtResult">;
  /** Raises a node alert (a relay disconnected). */
  alert: (kind: AlertKind, message: string, details?: Record<string, string>) => void;
  /** Warnings (a stage of the feed failed, an event's handling failed). */
  warn?: (line: string) => void;
  /**
   * Opens an encrypted result's content (NIP-44 from its provider), to keep it readable; and
   * answers a town's NIP-42 challenge (`signEvent`), for results and feedback it keeps private.
   */
  signer?: Pick<NodeSigner, "conversationKey" | "signEvent">;
  /** Asks a failed job's provider for its deposit back (roles/requester/job_refunds.ts). */
  refunds?: Pick<JobRefunds, "ask" | "onPrepare">;
}

/** Seconds before the oldest in-flight job's last seen event the subscription starts at. */
const RESUME_OVERLAP_S = 5;
/**
 * Seconds before the newest event seen that a reconnect asks from: a provider sends the same
 * signed feedback or result again for up to 30 s while its town is out of reach (its
 * `writeRetryMs`), so an event can reach the town that long after its `created_at`, after this
 * feed reconnected (docs/PROTOCOL.md "Events that arrive late").
 */
export const RECONNECT_OVERLAP_S = 60;
/** Largest message read from a plain relay (a result bigger than this is not read there). */
const PLAIN_MAX_MESSAGE_BYTES = 256 * 1024;

/**
 * Opens the requester's feed; see the module doc.
 *
 * It subscribes to towns: no example that runs here: tests/e2e/requester_job_flow_test.ts.
 */
export async function openJobFeed(options: JobFeedOptions): Promise<EventFeed> {
  const router = new JobEventRouter(options);
  let since = Math.floor(Date.now() / 1000);
  for (const r of options.inFlight) {
    since = Math.min(since, r.lastSeenCreatedAt ?? Math.floor(r.createdAtMs / 1000));
  }
  const seen = new SeenEventIds({ max: 100_000 });
  const feed = (relays: string[], plain: boolean) =>
    openMultiTownFeed({
      relays,
      seen,
      filters: [{ "#p": [options.pubkey], since: since - RESUME_OVERLAP_S }],
      initialBackoffMs: 200,
      maxBackoffMs: 5_000,
      overlapSeconds: RECONNECT_OVERLAP_S,
      mode: options.mode,
      ...(plain ? { maxMessageBytes: PLAIN_MAX_MESSAGE_BYTES } : {
        // A town may keep result and feedback kinds private: the feed answers its challenge with
        // the node's key (signed in this thread, roles/event_feed.ts) and its REQ naming no kind
        // goes again once authenticated, so they are served (docs/PROTOCOL.md "Private events").
        authenticate: options.signer === undefined ? undefined : authenticateWith(options.signer),
      }),
      onEvent: async (summary) => {
        await options.following;
        // Once closing, nothing new is acted on: the next start resumes from the records.
        if (!options.closed()) router.onToon(summary.toon);
      },
      onLog: (e, relay) => {
        if (e.type !== "disconnected") return;
        options.alert("relay-disconnected", `relay ${relay} disconnected`, {
          code: String(e.code),
          reason: e.reason,
        });
      },
      onFailure: (f) => options.warn?.(`feed: ${f.stage}: ${f.message}`),
    });
  const towns = await feed(options.relays, false);
  if (!options.plainRelays?.length) return towns;
  const plain = await feed(options.plainRelays, true).catch(async (err) => {
    await towns.close();
    throw err;
  });
  return {
    ...towns,
    errors: () => [...towns.errors(), ...plain.errors()],
    // The feed of requests ends with its towns'; the plain relays' is closed with it.
    done: towns.done.then(() => plain.close()),
    close: async () => {
      await Promise.allSettled([towns.close(), plain.close()]);
    },
  };
}

/**
 * Routes the feed's events to their jobs and handles them, one job's at a time; also handed a
 * late result looked up on the towns (`late_result.ts`).
 *
 * It is the feed's router, fed by a town: no example that runs here:
 * tests/e2e/requester_job_flow_test.ts.
 */
export class JobEventRouter {
  #o: JobFeedOptions;

  constructor(options: JobFeedOptions) {
    this.#o = options;
  }

  /** Handles one event (as TOON) in its job's queue; one of no followed job is dropped. */
  onToon(toon: string): void {
    let event: NostrEvent;
    try {
      event = decodeEventToon(toon);
    } catch {
      return; // not a valid signed event: nothing to act on
    }
    const isResult = isJobResultKind(event.kind);
    if (!isResult && event.kind !== JOB_FEEDBACK_KIND) return;
    const jobId = event.tags.find((t) => t[0] === "e" && /^[0-9a-f]{64}$/.test(t[1] ?? ""))?.[1];
    if (!jobId) return;
    const after = !this.#o.jobs.isFollowed(jobId);
    if (after && !(event.kind === JOB_FEEDBACK_KIND && this.#o.jobs.afterCancel.has(jobId))) return;
    const handle = after
      ? () => this.#afterCancel(jobId, event)
      : () => this.#onJobEvent(jobId, event, toon);
    this.#o.jobs.enqueue(jobId, handle).catch((err) =>
      this.#o.warn?.(`job ${jobId.slice(0, 12)}: ${(err as Error).message}`)
    );
  }

  async #onJobEvent(
    id: string,
    event: NostrEvent,
    toon: string,
  ): Promise<RequesterJobRecord | void> {
    const jobs = this.#o.jobs;
    if (!jobs.isFollowed(id)) return;
    let record = await this.#o.read(id);
    const sidecar = jobs.sidecarOf(id);
    if (record && TERMINAL_JOB_STATUSES.includes(record.status)) return jobs.settle(id, record);
    if (!record || !sidecar) return;
    const targets = sidecar.spec.providers;
    if (targets.length > 0 && !targets.includes(event.pubkey)) return;
    if (record.provider && record.provider !== event.pubkey) return;
    if (!record.provider || (record.lastSeenCreatedAt ?? 0) < event.created_at) {
      // Written with this event's own status write (one record write per event, not two), or
      // on its own below when the event changes nothing else. Events of one job are handled one
      // at a time (enqueue), so no other handler sees the record in between.
      const seen = {
        provider: event.pubkey,
        lastSeenCreatedAt: Math.max(record.lastSeenCreatedAt ?? 0, event.created_at),
      };
      jobs.see(id, seen);
      record = { ...record, ...seen };
    }
    try {
      return await this.#handleJobEvent(id, event, toon, record);
    } finally {
      await jobs.writeSeen(id);
    }
  }

  async #handleJobEvent(
    id: string,
    event: NostrEvent,
    toon: string,
    record: RequesterJobRecord,
  ): Promise<RequesterJobRecord | void> {
    const jobs = this.#o.jobs;
    if (event.kind === JOB_FEEDBACK_KIND) {
      const feedback = parseJobFeedback(event);
      const spend = feedback.status === "processing" ? parseSpendTag(event.tags) : undefined;
      // An agent-task's spend so far: one `processing` line with it (docs/AGENTS.md).
      if (spend) jobs.progress(id, "processing", feedback.extraInfo, { spend });
      else {
        jobs.progress(
          id,
          "feedback",
          `${feedback.status}${feedback.extraInfo ? `: ${feedback.extraInfo}` : ""}`,
        );
      }
      if (feedback.status === "processing" || feedback.status === "partial") {
        return await jobs.advance(id, "processing", { current: record, quiet: !!spend });
      }
      if (feedback.status === "error") {
        // `busy` before anything was paid: a temporary refusal (protocol/busy_feedback.ts), said
        // so in the reason, which keeps its `busy:` prefix for the caller that sends it again.
        const busy = isBusyFeedback(feedback) &&
          record.payments.every((p) => p.status === "rejected");
        // An encrypted job's reason comes encrypted, its public status a code only (docs/PROTOCOL.md
        // "Errors of an encrypted job").
        const sealed = event.tags.some((t) => t[0] === "encrypted") && event.content !== "";
        const opened = sealed && this.#o.signer
          ? await nip44Opener(this.#o.signer)(event.pubkey, event.content).catch(() => undefined)
          : undefined;
        const said = opened === undefined
          ? undefined
          : await this.#keepErrorTranscript(id, event, opened);
        // Before the job ends, so whoever waits for it sees the refund a provider's own failure
        // gives back (docs/PROTOCOL.md "Refunds: the provider's own failures").
        const refund = busy
          ? undefined
          : await this.#o.refunds?.ask({ ...record, provider: event.pubkey });
        if (refund !== undefined) jobs.progress(id, "feedback", `refund: ${refund}`);
        return await jobs.finish(id, "error", {
          error: busy
            ? `${feedback.extraInfo}: nothing was paid; send the job again later or elsewhere`
            : `provider error: ${said ?? feedback.extraInfo ?? ""}`,
        }, record);
      }
      if (feedback.status === "payment-required") {
        const invoice = feedback.amount?.paymentRequest;
        // With an invoice the record goes straight to `paying` (one write before the PREPARE);
        // `pay` writes `payment-required` itself when it does not pay now.
        // A deposit over the bound the request stated is declined before paying, for a provider
        // that did not read it (docs/PROTOCOL.md "The deposit bound").
        const overBound = invoice && depositOverBound(invoice, jobs.sidecarOf(id)?.spec.params);
        if (overBound) {
          return await jobs.finish(id, "payment-refused", { error: overBound }, record);
        }
        if (invoice) {
          const sidecar = jobs.sidecarOf(id);
          await this.#o.payer.pay(id, invoice, event.pubkey, {
            fromFeedback: true,
            current: record,
            parts: partsOf(event),
            // Not paid when the job's timeout is too close for the provider to answer.
            deadline: sidecar &&
              depositDeadline({
                deadlineMs: sidecar.deadlineMs,
                timeoutMs: sidecar.spec.timeoutMs,
              }),
          });
        } else await jobs.advance(id, "payment-required", { current: record });
      }
      return;
    }
    if (event.kind !== record.kind + 1000) return;
    const result = parseJobResult(event);
    // A result's blobs come by hash from the profile's towns, never from the URL it names.
    const towns = [...new Set(this.#o.relays.map(blobServerOf))];
    const blob = await fetchResultBlob(this.#o.stateDir, id, event, towns);
    const opened = this.#o.signer &&
      await keepDecryptedResult(this.#o.stateDir, id, event, nip44Opener(this.#o.signer));
    jobs.progress(
      id,
      "result",
      blob === "none"
        ? `${result.content.length} chars from ${event.pubkey.slice(0, 12)}`
        : `result blob ${blob} from ${event.pubkey.slice(0, 12)}`,
    );
    const invoice = result.amount?.paymentRequest;
    const spec = jobs.sidecarOf(id)?.spec;
    const touched = invoice && !spec?.allowProtected
      ? protectedChanged(opened ?? event.content)
      : [];
    if (touched.length > 0) {
      // The agent changed the requester's protected paths (docs/PROTOCOL.md "Protected paths"):
      // not paid without --allow-protected; the provider keeps the deposit.
      const error = `${PROTECTED_CHANGED}: the result changed protected paths ` +
        `${touched.join(", ")}; its delivery was not paid (--allow-protected pays it)`;
      return await jobs.finish(id, "error", { toon, resultId: event.id, error }, record);
    }
    if (invoice && spec?.declineFailed && failedVerdict(opened ?? event.content)) {
      // Declined (docs/PROTOCOL.md "Paid on delivery"): the delivery is not paid, its key stays
      // sealed, the provider keeps the deposit.
      const error = "declined: the result's verdict is fail; its delivery was not paid";
      return await jobs.finish(id, "error", { toon, resultId: event.id, error }, record);
    }
    // An agent-task's delivery sells its key: what the key opens is checked against the
    // provider's signed commitment before paying, and after (roles/requester/delivery_check.ts).
    const committed = invoice !== undefined && record.kind === JOB_KIND_NAMES["agent-task"];
    if (committed) {
      const refused = await checkBeforePaying({ stateDir: this.#o.stateDir, id, event, towns });
      if (refused !== undefined) {
        const error = `undelivered: ${refused}; its delivery was not paid`;
        return await jobs.finish(id, "error", { toon, resultId: event.id, error }, record);
      }
    }
    if (invoice) {
      const paid = await this.#o.payer.pay(id, invoice, event.pubkey, {
        current: record,
        parts: partsOf(event),
      });
      if (!paid) return;
    }
    if (committed) {
      const proof = await checkAfterPaying({
        stateDir: this.#o.stateDir,
        id,
        event,
        towns,
        content: opened ?? event.content,
        fulfillments: (await this.#o.read(id))?.payments.flatMap((p) => p.fulfillment ?? []) ?? [],
      }).catch((err: Error) => {
        this.#o.warn?.(`job ${id.slice(0, 12)}: the delivery's check failed: ${err.message}`);
        return undefined;
      });
      if (proof !== undefined) {
        jobs.progress(id, "result", `the delivery breaks its commitment: the proof is ${proof}`);
      }
    }
    // A payment still in doubt (a crash between its PREPARE and its outcome's line; replayed
    // newest first, the result comes before the invoice's feedback): the provider's result says
    // it was paid, so its receipt is asked now and logged; without one the job says so
    // (docs/PROTOCOL.md "The receipt question").
    const asked = record.payments.some((p) => p.status === "paying");
    const doubts = asked
      ? await this.#o.payer.settleAtResult(id, invoice ? (await this.#o.read(id))! : record)
      : [];
    const error = doubts.length === 0 ? undefined : inDoubtNote(doubts);
    // Without a payment here nothing wrote the record since #onJobEvent read it.
    return await jobs.finish(
      id,
      "done",
      { toon, resultId: event.id, error },
      invoice || asked ? undefined : record,
    );
  }

  /**
   * A cancelled agent task's `error` feedback from its provider: only its transcript is kept
   * (roles/requester/after_cancel.ts); the job stays ended, nothing is paid or asked back.
   */
  async #afterCancel(id: string, event: NostrEvent): Promise<void> {
    const record = await this.#o.read(id);
    const targets = this.#o.jobs.sidecarOf(id)?.spec.providers ?? [];
    const from = record?.provider ?? (targets.length === 1 ? targets[0] : undefined);
    if (from !== event.pubkey || parseJobFeedback(event).status !== "error") return;
    if (!event.tags.some((t) => t[0] === "encrypted") || !this.#o.signer) return;
    const opened = await nip44Opener(this.#o.signer)(event.pubkey, event.content)
      .catch(() => undefined);
    if (opened === undefined) return;
    this.#o.jobs.afterCancel.drop(id);
    await this.#keepErrorTranscript(id, event, opened);
  }

  /**
   * An encrypted error's reason, its agent's transcript (when the provider sent one) written to
   * the profile first (roles/agent_work/error_transcript.ts); a transcript that cannot be fetched
   * or opened is a warning, never in the way of the job's end.
   */
  async #keepErrorTranscript(id: string, event: NostrEvent, opened: string): Promise<string> {
    const { reason, transcript } = decodeErrorContent(opened);
    if (transcript === undefined) return reason;
    const saved = await saveErrorTranscript({
      stateDir: this.#o.stateDir,
      jobId: id,
      tags: event.tags,
      transcript,
      towns: [...new Set(this.#o.relays.map(blobServerOf))],
    }).catch((err: Error) => {
      this.#o.warn?.(`job ${id.slice(0, 12)}: its transcript did not come: ${err.message}`);
      return undefined;
    });
    if (saved !== undefined) this.#o.jobs.progress(id, "feedback", `transcript: ${saved}`);
    return reason;
  }
}

/** What a job done with payments still in doubt says (its record's `error`, `job status`). */
function inDoubtNote(invoices: string[]): string {
  const list = invoices.map((i) => i.slice(0, 12)).join(", ");
  return `payment in doubt: no receipt for invoice ${list} (its answer was lost); the result ` +
    `came, so the provider was most likely paid; never paid again (see the payment log)`;
}

/** The error's code of a result declined for changing protected paths. */
const PROTECTED_CHANGED = "protected-changed";

/** The protected paths a result's JSON report says its commits changed (none: not a report). */
function protectedChanged(content: string): string[] {
  try {
    const listed = (JSON.parse(content) as { protectedChanged?: unknown }).protectedChanged;
    return Array.isArray(listed) ? listed.map(String) : [];
  } catch {
    return [];
  }
}

/** Whether a result's content is a JSON report whose `verdict` is `fail`. */
function failedVerdict(content: string): boolean {
  try {
    return (JSON.parse(content) as { verdict?: unknown }).verdict === "fail";
  } catch {
    return false;
  }
}

/** The parts of the invoice an event carries (its `bill` tag, when it adds up to its amount). */
function partsOf(event: NostrEvent): InvoiceParts | undefined {
  const amount = event.tags.find((t) => t[0] === "amount")?.[1];
  return amount !== undefined && /^\d{1,20}$/.test(amount)
    ? readBillTag(event.tags, BigInt(amount))
    : undefined;
}
