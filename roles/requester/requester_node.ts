/**
 * The requester: posts paid NIP-90 jobs through its town, follows their feedback and results,
 * pays providers' ILP invoices within the bid and the spend policy, runs each job's callback
 * skill exactly once, runs chains, times jobs out and resumes everything after a crash.
 *
 * Order of writes for one job (so a SIGKILL at any instant is recoverable):
 *
 * 1. sign the request; sidecar (`job_sidecar.ts`) then `jobs/<id>.toml` as `pending-send`;
 * 2. paid write to the town; record `sent` (a restart resends `pending-send` jobs: same event;
 *    a write that failed for a passing reason is sent again, the same event, until the job's
 *    deadline: a town that stored it the first time answers `duplicate`);
 * 3. feedback/results arrive on one subscription `{"#p": [me], since}` (one subscription for
 *    all jobs: towns cap subscriptions per connection; events are routed by their `e` tag);
 * 4. invoices are paid with the payment log's never-pay-twice protocol (`state/payments/payment_log.ts`);
 * 5. on the result: the next chain job is created and sent first (found again by its
 *    `chain.prev` after a crash, so it is never posted twice), then the callback runs
 *    (`callback_runner.ts`, exactly once), then the job is marked terminal.
 *
 * One record write per received event: what an event tells (provider, newest `created_at`) is
 * written with that event's status change, and a `payment-required` with an invoice goes straight
 * to `paying` (still on disk before the payment log's intent and the PREPARE).
 *
 * Everything received is replayed idempotently after a restart (the subscription starts at the
 * oldest in-flight job's last seen time): statuses only move forward, invoices are checked in
 * the payment log, callbacks in their marker files.
 *
 * The parts, each in its module: what is written to the towns (`job_sender.ts`), the feed
 * (`job_feed.ts`), the payments (`job_payer.ts`), the jobs followed until they end
 * (`job_follower.ts`); this one opens the state and the towns, wires them and closes them.
 *
 * @module
 */
import { undoOnFailure } from "../undo_on_failure.ts";
import type { RequesterTownSettings } from "../../config/requester_settings.ts";
import type { SpendPolicy } from "../../protocol/spend_policy.ts";
import type { NodeSigner } from "../../protocol/node_signer.ts";
import type { JobBlobInput } from "../../protocol/job_blobs.ts";
import type { TransferProgress } from "../../transport/blossom_client.ts";
import { type AuditLog, openAuditLog } from "../../state/audit/audit_log.ts";
import { type JobRepository, openJobRepository } from "../../state/jobs/job_repository.ts";
import type { RequesterJobRecord } from "../../state/jobs/job_record.ts";
import { openPaymentLog, type PaymentLog } from "../../state/payments/payment_log.ts";
import type { EventFeed, EventFeedOptions } from "../event_feed.ts";
import { type AlertKind, createNodeAlerts, type NodeAlerts } from "../node_alerts.ts";
import { type NodeKeyOptions, nodeSignerOf } from "../../identity/local_node_signer.ts";
import { CallbackRunner } from "./callback_runner.ts";
import { type JobFeedOptions, openJobFeed } from "./job_feed.ts";
import { type LateResults, lateResultsOf } from "./late_result.ts";
import { JobFollower, type JobProgress } from "./job_follower.ts";
import { JobPayer } from "./job_payer.ts";
import { JobSender, type SubmitOptions } from "./job_sender.ts";
import type { WorkerDesk } from "./worker_desk.ts";
import { type JobBound, type JobSlots, jobSlotsFor } from "./job_slots.ts";
import type { JobSpec } from "./job_spec.ts";
import type { TownLink } from "./town_link.ts";
import { bringPaymentsToLog } from "./payments_from_log.ts";
import { JobRefunds } from "./job_refunds.ts";
import { connectTownLinks, type TownLinks, townLinksOptionsOf } from "./town_links.ts";

export type { JobProgress } from "./job_follower.ts";
export { JobEndedError, RequesterJobError } from "./requester_job_error.ts";

/** Options for {@linkcode startRequester}. */
export interface RequesterOptions extends RequesterTownSettings, NodeKeyOptions {
  priceCeiling?: bigint;
  spendPolicy?: SpendPolicy;
  /** Where callback skills live. Default `<state dir>/skills`. */
  skillsDir?: string;
  /** Progress lines (job id, status, detail). */
  onProgress?: (progress: JobProgress) => void;
  /** Warnings (price ceiling...). */
  warn?: (line: string) => void;
  /** Resume in-flight jobs on start (default true; read-only commands pass false). */
  resume?: boolean;
  /** fsync state (default true; false only in benchmarks). */
  durable?: boolean;
  /** Audit group commit window (ms). Default 1000 (docs/SCALE.md "Where a no-op job's CPU goes"). */
  auditWindowMs?: number;
  /** How the feed's stages run: "workers" (default) or "inline" (benchmarks comparing). */
  feedMode?: EventFeedOptions["mode"];
  /** Called once `close()` is done (the CLI closes its signer there). */
  onClosed?: () => void;
  /**
   * The jobs this node (or every requester sharing it: a host) follows at once; past it `submit`
   * refuses at once with `RequesterBusyError` (roles/requester/job_slots.ts). Default: no bound.
   */
  jobSlots?: JobSlots;
  /**
   * Without `jobSlots`: this node's own bound, a count or `auto` (`max_jobs`,
   * roles/requester/adaptive_job_limit.ts). Default: no bound.
   */
  maxJobs?: JobBound;
  /** With `maxJobs: "auto"`: the done jobs' median latency it aims at, ms (default 2,000). */
  maxJobsTargetMs?: number;
}

/**
 * Starts a requester: opens the state, connects to the town, resumes in-flight jobs.
 *
 * It needs a town: no example that runs here: tests/e2e/requester_job_flow_test.ts.
 */
export async function startRequester(options: RequesterOptions): Promise<Requester> {
  const req = new Requester(options);
  await undoOnFailure(() => req.open(), () => req.close());
  return req;
}

/** A running requester; see the module doc. */
export class Requester {
  readonly pubkey: string;
  readonly stateDir: string;
  repo!: JobRepository;
  payments!: PaymentLog;
  /** The Gas Town workers' desk: `gt roster` and `gt rotate` (roles/requester/worker_desk.ts). */
  readonly workers: WorkerDesk;
  /** Requests' paid writes sent again after a passing failure (see the module doc), so far. */
  sendRetries = 0;
  #o: RequesterOptions;
  #audit?: AuditLog;
  /** Every town of the profile, the home town's first; docs/ARCHITECTURE.md, "Several towns". */
  #links?: TownLinks;
  #alerts?: NodeAlerts;
  /** The jobs followed, what is written to the towns, the invoices paid: see each module. */
  #follower: JobFollower;
  #sender: JobSender;
  #payer: JobPayer;
  #feed?: Promise<EventFeed>;
  #lateResults?: LateResults;
  /** Resolved once the jobs on record are followed (or the node closes): events wait for it. */
  #following = Promise.withResolvers<void>();
  readonly #signer: NodeSigner;
  #feedOptions?: JobFeedOptions;
  #closed = false;
  /** Aborted by close: cuts a request's retry wait short. */
  #closing = new AbortController();

  constructor(options: RequesterOptions) {
    this.#o = options;
    this.stateDir = options.stateDir.replace(/\/+$/, "");
    this.#signer = nodeSignerOf(options);
    this.pubkey = this.#signer.pubkey;
    const closed = () => this.#closed;
    const jobSlots = options.jobSlots ?? jobSlotsFor(options.maxJobs, {
      targetMs: options.maxJobsTargetMs,
    });
    this.#follower = new JobFollower({
      stateDir: this.stateDir,
      repo: () => this.repo,
      callbacks: new CallbackRunner({
        stateDir: this.stateDir,
        skillsDir: options.skillsDir ?? `${this.stateDir}/skills`,
      }),
      submitNext: (spec, prev) => this.submit(spec, { prev }),
      jobSlots,
      onProgress: options.onProgress,
    });
    this.#payer = new JobPayer({
      payments: () => this.payments,
      links: () => this.#links!,
      read: (id) => this.repo.read(id),
      jobs: this.#follower,
      spendPolicy: options.spendPolicy,
      asset: options.asset,
      closed,
      closing: this.#closing.signal,
    });
    this.#sender = new JobSender({
      signer: this.#signer,
      stateDir: this.stateDir,
      durable: options.durable,
      asset: options.asset,
      relayUrl: options.relayUrl,
      btpUrl: options.btpUrl,
      links: () => this.#links,
      townReachable: () => this.townReachable,
      repo: () => this.repo,
      payments: () => this.payments,
      jobs: this.#follower,
      jobSlots,
      onRetry: () => this.sendRetries++,
      warn: options.warn,
      closed,
      closing: this.#closing.signal,
      feed: () => this.#feedOptions,
    });
    this.workers = this.#sender.workers;
  }

  /** Opens state, connects, resumes; called by {@linkcode startRequester}. */
  async open(): Promise<void> {
    await Deno.mkdir(this.stateDir, { recursive: true });
    // callbacks/ (the exactly-once marker files) is in STATE_DIR_IGNORE (state/audit/state_dir_ignore.ts).
    const { auditWindowMs: windowMs = 1000, durable = true } = this.#o;
    this.#audit = await openAuditLog({ dir: this.stateDir, windowMs });
    // A lost index is rebuilt from the audit's HEAD, with a warning (state/jobs/job_index_recovery.ts).
    this.repo = await openJobRepository({
      stateDir: this.stateDir,
      audit: this.#audit,
      durable,
      warn: this.#o.warn,
    });
    this.payments = await openPaymentLog({ stateDir: this.stateDir, audit: this.#audit });
    const { alertWebhook: webhook, warn: log } = this.#o;
    const alerts = this.#alerts = createNodeAlerts({ webhook, node: this.pubkey, log });
    // The feed's workers start while the town link connects (docs/ARCHITECTURE.md "Pipelines
    // and their permissions"); events wait until jobs are followed.
    const feedOptions: JobFeedOptions = this.#feedOptions = {
      relays: [this.#o.relayUrl, ...(this.#o.moreTowns ?? []).map((t) => t.relayUrl)],
      plainRelays: this.#o.plainRelays,
      pubkey: this.pubkey,
      inFlight: this.#o.resume === false ? [] : this.repo.listInFlight(),
      following: this.#following.promise,
      mode: this.#o.feedMode,
      stateDir: this.stateDir,
      closed: () => this.#closed,
      read: (id) => this.repo.read(id),
      jobs: this.#follower,
      payer: this.#payer,
      alert: (kind, message, details) => this.#alerts?.raise(kind, message, details),
      warn: this.#o.warn,
      signer: this.#signer,
      refunds: new JobRefunds({ node: this, signer: this.#signer, links: () => this.#links }),
    };
    this.#feed = openJobFeed(feedOptions);
    // The sidecar it replaces is a row: as durable as the repository's writes.
    this.#lateResults = lateResultsOf(feedOptions, { repo: this.repo, jobs: this.#follower });
    this.#feed.catch(() => {}); // awaited below, or closed with the node
    this.#links = await connectTownLinks(townLinksOptionsOf(this.#o, {
      signer: this.#signer,
      audit: this.#audit,
      alert: (kind, message, details) => alerts.raise(kind, message, details),
      payments: this.payments,
      home: () => this.#links?.home,
      onPrepare: (prepare) => feedOptions.refunds!.onPrepare(prepare),
    }));
    await this.#sender.publishRelayList();
    const inFlight = this.#o.resume === false ? [] : await this.#follower.loadInFlight();
    // A SIGKILL between a payment's outcome line and its record write: the record is brought to
    // the log before any event of the job is handled (roles/requester/payments_from_log.ts).
    await bringPaymentsToLog({
      inFlight,
      log: this.payments,
      read: (id) => this.repo.read(id),
      update: (id, change, options) => this.repo.update(id, change, options),
      onBrought: (r) =>
        this.#follower.progress(r.id, r.status, "payment brought to the payment log"),
    });
    await this.#feed;
    for (const record of inFlight) this.#sender.resume(record);
    this.#following.resolve();
  }

  /** The town link (price, address). */
  get town(): TownLink {
    return this.#links!.home;
  }

  /**
   * The job before `id` in its chain (`--then`), if any.
   *
   * It needs a running requester: no example that runs here: tests/e2e/requester_job_flow_test.ts.
   */
  previousInChain(id: string): string | undefined {
    return this.#follower.previousInChain(id);
  }

  /**
   * Raises an alert through the node's alert channels (stderr, `node status`, the webhook).
   *
   * It needs a running requester: no example that runs here: tests/e2e/requester_job_flow_test.ts.
   */
  raiseAlert(kind: AlertKind, message: string, details?: Record<string, string>): void {
    this.#alerts?.raise(kind, message, details);
  }

  /** Whether a town of the profile can be written to now: a link's connection is open. */
  get townReachable(): boolean {
    return this.#links?.all.some((l) => l.btp.state === "open") ?? false;
  }

  /** How many jobs are followed, cancelled agent tasks whose transcript may come among them. */
  get activeJobs(): number {
    return this.#follower.count + this.#follower.afterCancel.count;
  }

  /**
   * Posts a job: persisted before anything is sent, then paid for at the town.
   *
   * It needs a town: no example that runs here: tests/e2e/requester_job_flow_test.ts.
   * @throws {TownRejectedError} when the town refuses the paid write (the job is `error`).
   */
  submit(spec: JobSpec, options: SubmitOptions = {}): Promise<RequesterJobRecord> {
    return this.#sender.submit(spec, options);
  }

  /**
   * Publishes a file as a blob on every town of the profile at once (paid at each, logged as
   * `blob:<sha256>`), for a job input in `JobSpec.blobs` (docs/PROTOCOL.md "Blobs in jobs").
   * Resolves once at least one town stored it.
   *
   * It needs a town: no example that runs here: tests/e2e/town_blob_test.ts.
   * @throws {BlobPublishError} when the town refuses it (every town, with several).
   */
  publishBlob(
    path: string,
    onProgress?: TransferProgress,
  ): Promise<JobBlobInput & { size: number; paid: bigint; towns: string[]; invoices: string[] }> {
    return this.#sender.publishBlob(path, onProgress);
  }

  /**
   * Sends a private message (NIP-17, sealed and gift-wrapped to `recipient`) as a paid write;
   * returns the wrap's id. Only the recipient can read it or tell who sent it.
   *
   * It needs a town: no example that runs here: tests/e2e/dm_send_test.ts.
   * @throws {TownRejectedError} when the town refuses the paid write.
   */
  sendDirectMessage(o: { recipient: string; text: string; replyTo?: string }): Promise<string> {
    return this.#sender.sendDirectMessage(o);
  }

  /**
   * Resolves when the job reaches a terminal status.
   *
   * It needs a town: no example that runs here: tests/e2e/requester_job_flow_test.ts.
   */
  waitFor(id: string): Promise<RequesterJobRecord> {
    return this.#follower.waitFor(id);
  }

  /**
   * Gets a `timed-out` agent task's late result, handled as the feed's (late_result.ts, docs/AGENTS.md
   * "A result that came after the timeout"). Resolves with the job's record: unchanged without one.
   *
   * It needs a town: no example that runs here: tests/e2e/agent_task_late_result_test.ts.
   */
  lateResult(id: string): Promise<RequesterJobRecord> {
    return this.#lateResults!.get(id);
  }

  /**
   * Follows a chain from its first job to its last; resolves with the last job's record
   * (a failure anywhere stops the chain: that job's status is the chain's).
   *
   * It needs a town: no example that runs here: tests/e2e/requester_job_flow_test.ts.
   */
  waitForChain(id: string): Promise<RequesterJobRecord[]> {
    return this.#follower.waitForChain(id);
  }

  /**
   * Cancels a job: a kind 5 deletion of the request (the provider is told; a paid write, its fee
   * on the job's costs), no more payments, the callback told `cancelled`. Sent once: a cancel of
   * a job that has ended, or while another cancel of it is on its way, sends nothing and fails
   * {@linkcode JobEndedError} (docs/AGENTS.md "Cancelling a job").
   *
   * It needs a town: no example that runs here: tests/e2e/requester_job_flow_test.ts.
   * @throws {RequesterJobError} for an unknown job; {@linkcode JobEndedError} for an ended one.
   */
  cancel(
    id: string,
    options: { onDeletion?: (eventId: string) => void } = {},
  ): Promise<RequesterJobRecord> {
    return this.#sender.cancel(id, options);
  }

  /** Stops following, flushes the audit log, closes the town link and the index. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.#closing.abort();
    this.#follower.stop();
    // Maybe still opening (a start that failed): closed once open; an event waiting is dropped.
    this.#following.resolve();
    await this.#feed?.then((feed) => feed.close()).catch(() => {});
    await this.#sender.closeWorkers();
    await this.#follower.drain();
    await this.#links?.close().catch(() => {});
    await this.#alerts?.close().catch(() => {});
    await this.payments?.flush().catch(() => {});
    await this.#audit?.close().catch(() => {});
    this.repo?.close();
    this.#o.onClosed?.();
  }
}
