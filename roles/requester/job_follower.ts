/**
 * The requester's follower: the jobs a requester follows until they end. It keeps each followed
 * job's sidecar (`job_sidecar.ts`) and its place in a chain, runs the events and writes of one
 * job one at a time (a queue per job), moves a job's status forward (never backwards, never out
 * of a terminal status), times jobs out, and ends them: the next job of a chain created and sent
 * first (found again by its `chain.prev` after a crash, so it is never posted twice), then the
 * callback (`callback_runner.ts`, exactly once), then the terminal status, then whoever waits
 * is told. A job ended by another process (`job cancel` in another shell) is seen by a poll of
 * the files of the jobs someone waits for.
 *
 * What an event tells (provider, newest `created_at`, {@linkcode JobFollower.see}) is written
 * with that event's status change: one record write per received event.
 *
 * @module
 */
import type { AgentSpend } from "../../protocol/agent_spend.ts";
import type {
  JobRepository,
  JobSummary,
  JobWriteOptions,
} from "../../state/jobs/job_repository.ts";
import {
  IN_FLIGHT_JOB_STATUSES,
  type JobStatus,
  type RequesterJobRecord,
  TERMINAL_JOB_STATUSES,
} from "../../state/jobs/job_record.ts";
import { CallbackInDoubtError, type CallbackRunner } from "./callback_runner.ts";
import { type JobSidecar, readJobSidecar } from "./job_sidecar.ts";
import type { JobSlots } from "./job_slots.ts";
import type { JobSpec } from "./job_spec.ts";
import { RequesterJobError } from "./requester_job_error.ts";
import { AfterCancel } from "./after_cancel.ts";
import { JOB_KIND_NAMES } from "../../protocol/job_kind_names.ts";
import { KeyedTurns } from "../../state/keyed_turns.ts";

/** A progress line. */
export interface JobProgress {
  jobId: string;
  status: JobStatus | "feedback" | "result";
  detail?: string;
  /** An agent-task's model spend so far (a `processing` feedback's, docs/PROTOCOL.md "Live spend"). */
  spend?: AgentSpend;
  /** The job's provider (pubkey), once known: the one it was sent to, or the first to answer. */
  provider?: string;
  /** A `paid` line's amount, base units: what this payment cost. */
  paid?: string;
}

/** What an event of a job told (its provider, its newest `created_at`), not yet written. */
export interface JobSeen {
  provider: string;
  lastSeenCreatedAt: number;
}

/** Options for {@linkcode JobFollower}. */
export interface JobFollowerOptions {
  /** The profile's state dir (the sidecars). */
  stateDir: string;
  /** The job records (opened with the node: read when a job is followed). */
  repo: () => Pick<
    JobRepository,
    "read" | "update" | "listInFlight" | "versionOf" | "sidecarText"
  >;
  /** Runs a job's callback skill, exactly once. */
  callbacks: Pick<CallbackRunner, "run">;
  /** Creates and sends the next job of a chain (`prev`: the job whose result it takes). */
  submitNext: (spec: JobSpec, prev: string) => Promise<unknown>;
  /** The slots of the jobs followed at once, when bounded. */
  jobSlots?: Pick<JobSlots, "take" | "release">;
  /** Progress lines (job id, status, detail). */
  onProgress?: (progress: JobProgress) => void;
}

/** How often the records of waited jobs are checked for an end written by another process. */
const JOB_FILE_POLL_MS = 1000;

/**
 * Follows jobs until they end; see the module doc.
 *
 * It follows jobs a town answers: no example that runs here: tests/e2e/requester_job_flow_test.ts.
 */
export class JobFollower {
  #o: JobFollowerOptions;
  #sidecars = new Map<string, JobSidecar>();
  #active = new Set<string>();
  /** When this node last wrote each followed job's record (the file poll skips those). */
  #wroteAtMs = new Map<string, number>();
  #nextOf = new Map<string, string>();
  readonly #queues = new KeyedTurns();
  #timers = new Map<string, ReturnType<typeof setTimeout>>();
  #waiters = new Map<string, PromiseWithResolvers<RequesterJobRecord>[]>();
  #seen = new Map<string, JobSeen>();
  /** Each followed job's provider, once known: named on its progress lines. */
  #providers = new Map<string, string>();
  /** Jobs whose end (a cancel, the timeout) is queued behind their events, or may be. */
  #ending = new Map<string, AbortController>();
  #closed = false;
  #watchTimer?: ReturnType<typeof setInterval>;
  /** The cancelled agent tasks whose transcript may still come (after_cancel.ts). */
  readonly afterCancel: AfterCancel = new AfterCancel();

  constructor(options: JobFollowerOptions) {
    this.#o = options;
  }

  /** How many jobs are followed. */
  get count(): number {
    return this.#active.size;
  }

  /** Whether a job is followed (it has not ended here). */
  isFollowed(id: string): boolean {
    return this.#active.has(id);
  }

  /** A followed job's sidecar. */
  sidecarOf(id: string): JobSidecar | undefined {
    return this.#sidecars.get(id);
  }

  /** Keeps a job's sidecar (written to disk by the caller). */
  keepSidecar(id: string, sidecar: JobSidecar): void {
    this.#sidecars.set(id, sidecar);
  }

  /** The job before `id` in its chain (`--then`), if any. */
  previousInChain(id: string): string | undefined {
    return this.#sidecars.get(id)?.prev;
  }

  /** The job after `id` in its chain, once it was created. */
  nextInChain(id: string): string | undefined {
    return this.#nextOf.get(id);
  }

  /** `next` is the job after `prev` in its chain. */
  chain(prev: string, next: string): void {
    this.#nextOf.set(prev, next);
  }

  /** This node just wrote the job's record (the file poll skips it for a while). */
  wrote(id: string): void {
    this.#wroteAtMs.set(id, Date.now());
  }

  /** What an event of the job told, written with the job's next record write. */
  see(id: string, seen: JobSeen): void {
    this.#seen.set(id, seen);
    this.#providers.set(id, seen.provider);
  }

  /** What an event told and no status write took: written on its own (dropped if it ended). */
  async writeSeen(id: string): Promise<void> {
    if (this.#seen.has(id)) {
      if (this.#active.has(id)) await this.update(id, (r) => r);
      else this.#seen.delete(id);
    }
  }

  /** In-flight jobs from the index plus their sidecars (the records are read lazily). */
  async loadInFlight(): Promise<JobSummary[]> {
    const repo = this.#o.repo();
    const summaries = repo.listInFlight();
    const found: JobSummary[] = [];
    // Parallel batches: at 10k jobs one-by-one reads dominate the restart time.
    for (let i = 0; i < summaries.length; i += 512) {
      const batch = summaries.slice(i, i + 512);
      const sidecars = await Promise.all(
        batch.map((s) => readJobSidecar(this.#o.stateDir, s.id, repo).catch(() => undefined)),
      );
      batch.forEach((summary, k) => {
        const sidecar = sidecars[k];
        if (!sidecar) return; // unreadable: left for `job status` to show, not followed
        this.#sidecars.set(summary.id, sidecar);
        if (sidecar.prev) this.#nextOf.set(sidecar.prev, summary.id);
        found.push(summary);
      });
    }
    return found;
  }

  /** Follows a job: its slot taken, its timeout armed. */
  track(record: { id: string; provider?: string }, sidecar: JobSidecar): void {
    this.#active.add(record.id);
    const provider = record.provider ??
      (sidecar.spec.providers.length === 1 ? sidecar.spec.providers[0] : undefined);
    if (provider !== undefined) this.#providers.set(record.id, provider);
    this.#o.jobSlots?.take(record.id);
    const delay = Math.max(0, sidecar.deadlineMs - Date.now());
    this.#timers.set(
      record.id,
      setTimeout(() => {
        this.#timers.delete(record.id);
        this.endAfterQueued(record.id, "timed-out", "no result before the timeout")
          .catch(() => {});
      }, delay),
    );
  }

  /**
   * Ends a job once what is queued for it is handled (a cancel, the timeout); its
   * {@linkcode endSignal} is aborted meanwhile.
   */
  endAfterQueued(id: string, status: JobStatus, error: string): Promise<RequesterJobRecord> {
    this.beginEnd(id);
    return this.enqueue(id, () => this.finish(id, status, { error }))
      .finally(() => this.#ending.delete(id));
  }

  /** The job is ending (a cancel under way): a wait in its queue is cut short now. */
  beginEnd(id: string): void {
    this.endSignal(id);
    this.#ending.get(id)!.abort();
  }

  /** Aborted when the job's end is queued: a wait in its queue is cut short by it. */
  endSignal(id: string): AbortSignal {
    let ending = this.#ending.get(id);
    if (ending === undefined) this.#ending.set(id, ending = new AbortController());
    return ending.signal;
  }

  /** Runs `fn` after everything queued for the job (the job's events, one at a time). */
  enqueue<T>(id: string, fn: () => Promise<T>): Promise<T> {
    return this.#queues.run(id, fn);
  }

  /**
   * Moves a job forward (never backwards, never out of a terminal status). `current`: the
   * record as the caller just read it in this job's queue (saves a read; docs/SCALE.md).
   */
  async advance(
    id: string,
    status: JobStatus,
    options: { quiet?: boolean; current?: RequesterJobRecord } = {},
  ): Promise<RequesterJobRecord> {
    const current = options.current ?? (await this.#o.repo().read(id))!;
    const from = IN_FLIGHT_JOB_STATUSES.indexOf(current.status);
    const to = IN_FLIGHT_JOB_STATUSES.indexOf(status);
    if (from < 0 || to <= from) return current;
    if (!options.quiet) this.progress(id, status);
    return await this.update(id, (r) => ({ ...r, status }), { action: status });
  }

  /** `repo.update` that also writes what the job's events told ({@linkcode see}). */
  update(
    id: string,
    change: (current: RequesterJobRecord) => RequesterJobRecord,
    options?: JobWriteOptions,
  ): Promise<RequesterJobRecord> {
    const seen = this.#seen.get(id);
    this.#seen.delete(id);
    if (this.#active.has(id)) this.#wroteAtMs.set(id, Date.now());
    return this.#o.repo().update(id, (r) =>
      change(
        seen === undefined ? r : {
          ...r,
          provider: seen.provider,
          lastSeenCreatedAt: Math.max(r.lastSeenCreatedAt ?? 0, seen.lastSeenCreatedAt),
        },
      ), options);
  }

  /**
   * Ends a job: the next job of its chain sent first, then its callback, then its status;
   * whoever waits is told. `known`: the record as the caller just read it (saves a read).
   */
  async finish(
    id: string,
    status: JobStatus,
    detail: { toon?: string; resultId?: string; error?: string },
    known?: RequesterJobRecord,
  ): Promise<RequesterJobRecord> {
    const current = known ?? (await this.#o.repo().read(id))!;
    // Ended here before, or by another process (a `job cancel` in another shell): stop
    // following it and tell whoever waits.
    if (TERMINAL_JOB_STATUSES.includes(current.status)) return this.settle(id, current);
    const sidecar = this.#sidecars.get(id);
    if (status === "done" && sidecar && sidecar.spec.then.length > 0 && !this.#nextOf.has(id)) {
      const [next, ...rest] = sidecar.spec.then;
      const input = { data: detail.resultId!, type: "job" as const };
      // A failed send of the next link marks it `error`; the chain stops there.
      await this.#o.submitNext({ ...next, inputs: [input, ...next.inputs], then: rest }, id)
        .catch(() => {});
    }
    let error = detail.error;
    try {
      await this.#o.callbacks.run({ jobId: id, skill: current.skill, status, toon: detail.toon });
    } catch (err) {
      error = `${error ? `${error}; ` : ""}callback: ${(err as Error).message}`;
      if (err instanceof CallbackInDoubtError) status = "error";
    }
    const final = await this.update(id, (r) => ({ ...r, status, error }), { action: status });
    // Cancelled here (`job cancel`): its agent's transcript comes with the provider's error,
    // after this end (after_cancel.ts).
    if (final.status === "cancelled" && final.kind === JOB_KIND_NAMES["agent-task"]) {
      this.afterCancel.keep(id);
    }
    this.progress(id, status, error);
    return this.settle(id, final);
  }

  /** Stops following a job that ended and resolves its waiters. */
  settle(id: string, final: RequesterJobRecord): RequesterJobRecord {
    const wasActive = this.#active.delete(id);
    this.#providers.delete(id);
    // The bound hears how it ended: a done job's latency, a timeout (adaptive_job_limit.ts).
    this.#o.jobSlots?.release(
      id,
      final.status === "done" || final.status === "timed-out" ? final.status : "other",
    );
    this.#wroteAtMs.delete(id);
    this.#ending.delete(id);
    clearTimeout(this.#timers.get(id));
    this.#timers.delete(id);
    const waiters = this.#waiters.get(id) ?? [];
    if (wasActive && waiters.length > 0 && final.status === "cancelled") {
      this.progress(id, final.status, final.error ?? "cancelled elsewhere");
    }
    for (const w of waiters) w.resolve(final);
    this.#waiters.delete(id);
    return final;
  }

  /** A progress line. */
  progress(
    jobId: string,
    status: JobProgress["status"],
    detail?: string,
    more: Pick<JobProgress, "spend" | "paid"> = {},
  ): void {
    const provider = this.#providers.get(jobId);
    this.#o.onProgress?.({ jobId, status, detail, ...more, ...(provider ? { provider } : {}) });
  }

  /** Resolves when the job reaches a terminal status. */
  async waitFor(id: string): Promise<RequesterJobRecord> {
    // A job this node follows has not ended here (its end and the waiters' release are one
    // step, settle), and an end by another process is the poll's to see: no read.
    const followed = this.#active.has(id);
    if (!followed) {
      const record = await this.#o.repo().read(id);
      if (!record) throw new RequesterJobError(`no job ${id}`);
      if (TERMINAL_JOB_STATUSES.includes(record.status)) return record;
    }
    const waiter = Promise.withResolvers<RequesterJobRecord>();
    this.#waiters.set(id, [...(this.#waiters.get(id) ?? []), waiter]);
    this.#watchJobFiles();
    if (!followed) {
      // Ended between the read above and the watch: seen by this second read.
      const again = await this.#o.repo().read(id);
      if (again && TERMINAL_JOB_STATUSES.includes(again.status)) this.settle(id, again);
    }
    return await waiter.promise;
  }

  /**
   * Follows a chain from its first job to its last; resolves with the last job's record
   * (a failure anywhere stops the chain: that job's status is the chain's).
   */
  async waitForChain(id: string): Promise<RequesterJobRecord[]> {
    const links: RequesterJobRecord[] = [];
    let current: string | undefined = id;
    while (current) {
      const done = await this.waitFor(current);
      links.push(done);
      if (done.status !== "done") break;
      current = this.#nextOf.get(current);
    }
    return links;
  }

  /** Stops the timeouts and the file poll (the node is closing). */
  stop(): void {
    this.#closed = true;
    clearInterval(this.#watchTimer);
    this.afterCancel.stop();
    for (const t of this.#timers.values()) clearTimeout(t);
    this.#timers.clear();
  }

  /** Resolves once everything queued for the jobs has run. */
  async drain(): Promise<void> {
    await this.#queues.idle();
  }

  /**
   * Checks the records of the jobs someone waits for, so a job ended by another process (`job
   * cancel` in another shell) ends the wait within a poll instead of at the timeout. A poll
   * (one look at each waited job's row version, a read only when it rose: every write raises
   * it) rather than a watch of the index's files: a watch wakes on every write of every job
   * (docs/SCALE.md).
   */
  #watchJobFiles(): void {
    if (this.#watchTimer !== undefined || this.#closed) return;
    const versions = new Map<string, number | undefined>();
    this.#watchTimer = setInterval(() => {
      if (this.#waiters.size === 0) {
        clearInterval(this.#watchTimer);
        this.#watchTimer = undefined;
        return;
      }
      for (const id of [...this.#waiters.keys()]) {
        let version: number | undefined;
        try {
          version = this.#o.repo().versionOf(id);
        } catch {
          continue; // the index closing with the node
        }
        if (versions.get(id) === version) continue;
        // Changed, and this node wrote it within the last poll: most likely its own write, read
        // on a later poll once the job is quiet (or not at all, when it ends here first). A
        // write by another process then is seen at most a poll or two later.
        if (Date.now() - (this.#wroteAtMs.get(id) ?? 0) < JOB_FILE_POLL_MS) continue;
        versions.set(id, version);
        this.enqueue(id, async () => {
          const record = await this.#o.repo().read(id).catch(() => undefined);
          if (record && TERMINAL_JOB_STATUSES.includes(record.status)) {
            this.settle(id, record);
          }
        }).catch(() => {});
      }
      for (const id of versions.keys()) if (!this.#waiters.has(id)) versions.delete(id);
    }, JOB_FILE_POLL_MS);
  }
}
