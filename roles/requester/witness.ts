/**
 * The Witness of a requester profile's remote workers (docs/AGENTS.md "The Witness"): a patrol
 * over the profile's agent tasks at work (deposit paid, result due). A worker whose job has
 * beaten in none of its last three periods (docs/PROTOCOL.md "Agent heartbeat") is `stalled`: its
 * job is cancelled and the same task slung again to another provider, under the sling's
 * idempotency key (roles/requester/witness_book.ts), so that one bead is delivered and paid at
 * most once however many times it is slung:
 *
 * - the old job is cancelled before the new one is posted, and a cancelled job is never paid
 *   again (its late result included: only a timed-out job's is looked up, late_result.ts);
 * - a job the cancel finds delivered (`done`: its result came first) ends the sling: nothing is
 *   slung again;
 * - the re-sling is written `pending` before the post: a Witness restarted in between adopts the
 *   job it posted (same task, same provider, posted after) instead of posting another.
 *
 * Cancelling, posting and reading go through what the options give (`turnpike witness` passes
 * the profile's node: cli/witness_command.ts).
 *
 * @module
 */
import { JOB_KIND_NAMES } from "../../protocol/job_kind_names.ts";
import { type RequesterJobRecord, TERMINAL_JOB_STATUSES } from "../../state/jobs/job_record.ts";
import type { JobSpec } from "./job_spec.ts";
import { isStalled, type JobBeats, readJobBeats } from "./witness_beats.ts";
import {
  readWitnessBook,
  type Sling,
  type WitnessBook,
  type WitnessWorker,
  writeWitnessBook,
} from "./witness_book.ts";

/** The beat period (s) assumed for a job whose provider has not said one. */
export const DEFAULT_WITNESS_PERIOD_S = 60;

/** Options for {@linkcode Witness}. */
export interface WitnessOptions {
  /** The profile's state dir (the book). */
  stateDir: string;
  /** The towns' relay URLs (the jobs' feedback). */
  relays: readonly string[];
  /** The ids of the profile's jobs in flight. */
  inFlight: () => Promise<string[]>;
  /** The profile's jobs posted at or after a time (unix ms), for a re-sling's recovery. */
  postedSince: (ms: number) => Promise<string[]>;
  read: (id: string) => Promise<RequesterJobRecord | undefined>;
  /** A job's spec as it was posted (its sidecar). */
  specOf: (id: string) => Promise<JobSpec | undefined>;
  /** Cancels a job; the record after (ended, or `done` when its result came first). */
  cancel: (id: string) => Promise<RequesterJobRecord>;
  /** Posts a spec slung again from job `from`; the new job's record. */
  submit: (spec: JobSpec, from: string) => Promise<RequesterJobRecord>;
  /** Providers to sling a task of `kind` to, in order of preference. */
  providers: (kind: number) => Promise<string[]>;
  /** Reads the towns' feedback (default: one query, witness_beats.ts). */
  beats?: (records: RequesterJobRecord[]) => Promise<Map<string, JobBeats>>;
  /** The last line of a job's transcript, when asked for (undefined: not had). */
  transcript?: (id: string) => Promise<string | undefined>;
  /** Beat period (s) of a job whose provider said none. Default {@linkcode DEFAULT_WITNESS_PERIOD_S}. */
  periodS?: number;
  /** Unix ms (tests). */
  now?: () => number;
  log?: (line: string) => void;
}

const AGENT_TASK = JOB_KIND_NAMES["agent-task"];

/**
 * Patrols the profile's remote workers; see the module doc.
 *
 * It reads towns: no example that runs here: tests/e2e/witness_resling_test.ts.
 */
export class Witness {
  #o: WitnessOptions;

  constructor(options: WitnessOptions) {
    this.#o = options;
  }

  /** One patrol: the book brought up to date, stalled workers slung again; the workers. */
  async patrol(): Promise<WitnessWorker[]> {
    const o = this.#o;
    const book = await readWitnessBook(o.stateDir);
    for (const sling of Object.values(book.slings)) {
      if (sling.pending) await this.#recover(book, sling);
    }
    const running: RequesterJobRecord[] = [];
    for (const id of await o.inFlight()) {
      const r = await o.read(id);
      if (r?.kind === AGENT_TASK && r.provider && atWork(r)) running.push(r);
    }
    const beats = await (o.beats ?? ((rs) => readJobBeats(o.relays, rs)))(running);
    const nowMs = (o.now ?? Date.now)();
    const workers = new Map<string, WitnessWorker>();
    for (const r of running) {
      const sling = slingOf(book, r);
      const b = beats.get(r.id) ?? {};
      const periodS = b.periodS ?? o.periodS ?? DEFAULT_WITNESS_PERIOD_S;
      const silentS = b.lastBeat === undefined
        ? undefined
        : Math.max(0, Math.floor(nowMs / 1000) - b.lastBeat);
      const stalled = silentS !== undefined && isStalled(silentS, periodS);
      const worker: WitnessWorker = {
        job: r.id,
        key: sling.key,
        state: stalled ? "stalled" : "alive",
        status: r.status,
        provider: r.provider,
        periodS,
        ...(b.lastBeat ? { lastBeatAt: new Date(b.lastBeat * 1000).toISOString() } : {}),
        ...(silentS !== undefined ? { silentS } : {}),
        ...(b.spend ? { spend: b.spend } : {}),
      };
      workers.set(r.id, worker);
      if (stalled) await this.#resling(book, sling, r, worker);
    }
    await this.#settle(book, workers);
    book.workers = [...workers.values()];
    book.at = new Date(nowMs).toISOString();
    await writeWitnessBook(o.stateDir, book);
    return book.workers;
  }

  /** Cancels a stalled worker's job and posts its task to another provider. */
  async #resling(book: WitnessBook, sling: Sling, r: RequesterJobRecord, w: WitnessWorker) {
    const o = this.#o;
    if (sling.delivered !== undefined) return;
    const spec = await o.specOf(r.id);
    if (!spec) return;
    const tried = new Set(sling.providers);
    const next = (await o.providers(r.kind).catch(() => [])).find((p) => !tried.has(p));
    if (next === undefined) {
      o.log?.(`witness: ${short(r.id)} stalled; no other provider to sling it to`);
      return;
    }
    const ended = await o.cancel(r.id).catch(async () => await o.read(r.id) ?? r);
    w.status = ended.status;
    if (ended.status === "done") {
      // Its result came before the cancel: delivered, nothing is slung again.
      sling.delivered = r.id;
      w.state = "delivered";
      return;
    }
    if (!TERMINAL_JOB_STATUSES.includes(ended.status)) return; // not cancelled: next patrol
    sling.pending = { provider: next, from: r.id, atMs: (o.now ?? Date.now)() };
    await writeWitnessBook(o.stateDir, book);
    const posted = await o.submit({ ...spec, providers: [next] }, r.id);
    this.#adopt(sling, posted.id, next);
    await writeWitnessBook(o.stateDir, book);
    w.reslungTo = posted.id;
    w.state = "reslung";
    o.log?.(
      `witness: ${short(r.id)} stalled at ${short(r.provider!)}: cancelled, slung again ` +
        `as ${short(posted.id)} to ${short(next)} (${sling.key})`,
    );
  }

  /** A re-sling a restart cut short: the job it posted adopted, else posted now. */
  async #recover(book: WitnessBook, sling: Sling) {
    const o = this.#o;
    const { provider, from, atMs } = sling.pending!;
    const spec = await o.specOf(from);
    for (const id of await o.postedSince(atMs)) {
      const mine = await o.specOf(id);
      if (id !== from && mine && samePost(mine, spec, provider)) {
        this.#adopt(sling, id, provider);
        return await writeWitnessBook(o.stateDir, book);
      }
    }
    if (spec && sling.delivered === undefined) {
      const posted = await o.submit({ ...spec, providers: [provider] }, from);
      this.#adopt(sling, posted.id, provider);
    } else delete sling.pending;
    await writeWitnessBook(o.stateDir, book);
  }

  #adopt(sling: Sling, job: string, provider: string) {
    if (!sling.jobs.includes(job)) sling.jobs.push(job);
    sling.providers.push(provider);
    delete sling.pending;
  }

  /** The workers of the book's slings no longer at work: delivered, slung again or ended. */
  async #settle(book: WitnessBook, workers: Map<string, WitnessWorker>) {
    const before = new Map(book.workers.map((w) => [w.job, w]));
    for (const sling of Object.values(book.slings)) {
      for (const [i, job] of sling.jobs.entries()) {
        const r = await this.#o.read(job);
        if (!r) continue;
        if (r.status === "done") sling.delivered ??= job;
        const seen = workers.get(job);
        const reslungTo = sling.jobs[i + 1];
        if (seen && seen.state !== "stalled") continue;
        const state = r.status === "done"
          ? "delivered"
          : reslungTo !== undefined
          ? "reslung"
          : seen?.state ?? (TERMINAL_JOB_STATUSES.includes(r.status) ? "ended" : "alive");
        const last = before.get(job);
        const transcript = state === "delivered"
          ? await this.#o.transcript?.(job).catch(() => undefined)
          : undefined;
        workers.set(job, {
          ...(last ?? { key: sling.key, periodS: this.#o.periodS ?? DEFAULT_WITNESS_PERIOD_S }),
          ...seen,
          job,
          key: sling.key,
          status: r.status,
          state,
          ...(r.provider ? { provider: r.provider } : {}),
          ...(reslungTo ? { reslungTo } : {}),
          ...(transcript !== undefined ? { transcript } : {}),
        });
      }
    }
  }
}

/**
 * Deposit paid, result due: the agent is at work. (A job `paying` after its deposit has its
 * result: the delivery is being paid.)
 */
function atWork(r: RequesterJobRecord): boolean {
  return r.status === "paid" && r.payments.some((p) => p.status === "paid");
}

/** The sling a job belongs to, made (`bead:<id>`, else `job:<id>`) when the book has none. */
function slingOf(book: WitnessBook, r: RequesterJobRecord): Sling {
  const known = Object.values(book.slings).find((s) => s.jobs.includes(r.id));
  if (known) return known;
  const key = r.bead ? `bead:${r.bead.id}` : `job:${r.id}`;
  const sling = book.slings[key] ??= { key, jobs: [], providers: [] };
  sling.jobs.push(r.id);
  sling.providers.push(r.provider!);
  return sling;
}

/** Whether `mine` is `spec` posted to `provider` (a re-sling's job). */
function samePost(mine: JobSpec, spec: JobSpec | undefined, provider: string): boolean {
  if (!spec || mine.providers.length !== 1 || mine.providers[0] !== provider) return false;
  const strip = (s: JobSpec) => JSON.stringify({ ...s, providers: [], bid: String(s.bid) });
  return strip(mine) === strip(spec);
}

function short(id: string): string {
  return id.slice(0, 12);
}
