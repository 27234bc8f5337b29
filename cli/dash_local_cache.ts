/**
 * The dashboard's copy of the state dir, kept current by re-reading only what a change
 * touched: the job records written since the last read when the job index changed (its rows'
 * versions, `state/jobs/job_text_reader.ts`), the payment log's costs, the channels or the
 * provider's status file. Re-reading everything on each change costs tens of milliseconds once
 * a node has a few hundred jobs; the changed rows cost well under one.
 *
 * @module
 */
import type { RequesterJobRecord } from "../state/jobs/job_record.ts";
import { PROVIDER_STATUS_FILE } from "../roles/provider/provider_status.ts";
import { JobTextReader } from "../state/jobs/job_text_reader.ts";
import {
  assembleLocalView,
  type DashChannel,
  type DashProvider,
  type LocalView,
  parseJobTexts,
  type ProviderJob,
  readChannels,
  readJobCosts,
  readProvider,
  readProviderJobs,
} from "./dash_model.ts";

/** Most job records held (the newest). */
const MAX_JOBS = 2000;
/** The job index and its WAL, where a record write lands. */
const JOB_INDEX = /\/index\.sqlite(-wal)?$/;
/** The provider's job index and its WAL, where its record writes land. */
const PROVIDER_JOB_INDEX = /\/provider\.sqlite(-wal)?$/;

/** A state dir's view, updated path by path; see the module doc. */
export class LocalViewCache {
  readonly stateDir: string;
  #records = new Map<string, RequesterJobRecord>();
  #jobs: JobTextReader;
  /** The job index as last read: its rows' count and highest version. */
  #jobsMark = { count: 0, version: 0 };
  #costs = new Map<string, string>();
  #channels: DashChannel[] = [];
  #provider: DashProvider | undefined;
  #providerJobs = new Map<string, ProviderJob>();

  private constructor(stateDir: string) {
    this.stateDir = stateDir.replace(/\/+$/, "");
    this.#jobs = new JobTextReader(this.stateDir);
  }

  /**
   * Reads the whole state dir once.
   *
   * @example
   * ```ts
   * import assert from "node:assert/strict";
   * import { LocalViewCache } from "./dash_local_cache.ts";
   *
   * const stateDir = await Deno.makeTempDir(); // a node's state dir; empty: nothing to show
   * const cache = await LocalViewCache.open(stateDir);
   * assert.equal(cache.view().counts.done, 0);
   * await Deno.remove(stateDir, { recursive: true });
   * ```
   */
  static async open(stateDir: string): Promise<LocalViewCache> {
    const cache = new LocalViewCache(stateDir);
    const dir = cache.stateDir;
    const [records, costs, channels, provider, providerJobs] = await Promise.all([
      cache.#readAllJobs(),
      readJobCosts(dir),
      readChannels(dir),
      readProvider(dir),
      readProviderJobs(dir),
    ]);
    for (const j of providerJobs) cache.#providerJobs.set(j.id, j);
    for (const r of records) cache.#records.set(r.id, r);
    cache.#costs = costs;
    cache.#channels = channels;
    cache.#provider = provider;
    return cache;
  }

  /** The current view. */
  view(): LocalView {
    return assembleLocalView({
      records: [...this.#records.values()],
      costs: this.#costs,
      channels: this.#channels,
      provider: this.#provider,
      providerJobs: [...this.#providerJobs.values()],
    });
  }

  /**
   * Re-reads what the changed paths (absolute, as `Deno.watchFs` reports them) touch; true when
   * one of them mattered to the view.
   *
   * @example
   * ```ts
   * import assert from "node:assert/strict";
   * import { LocalViewCache } from "./dash_local_cache.ts";
   *
   * const stateDir = await Deno.makeTempDir();
   * const cache = await LocalViewCache.open(stateDir);
   * assert.equal(await cache.apply([`${stateDir}/notes.txt`]), false); // not a file the view reads
   * await Deno.remove(stateDir, { recursive: true });
   * ```
   */
  async apply(paths: readonly string[]): Promise<boolean> {
    let jobs = false, providerJobs = false, costs = false, channels = false, provider = false;
    for (const p of paths) {
      if (JOB_INDEX.test(p)) jobs = true;
      // Its income rows too: the payment log's costs are read again with the records.
      else if (PROVIDER_JOB_INDEX.test(p)) providerJobs = costs = true;
      else if (p.includes("/payment_log")) costs = true;
      else if (p.includes("/channels/")) channels = true;
      else if (p.endsWith(`/${PROVIDER_STATUS_FILE}`)) provider = true;
    }
    const jobsChanged = jobs && this.#rereadJobs();
    await Promise.all([
      providerJobs && this.#rereadProviderJobs(),
      costs && readJobCosts(this.stateDir).then((c) => this.#costs = c),
      channels && readChannels(this.stateDir).then((c) => this.#channels = c),
      provider && readProvider(this.stateDir).then((p) => this.#provider = p),
    ]);
    return jobsChanged || providerJobs || costs || channels || provider;
  }

  /** The provider's unfinished jobs, all read again (a few: the finished are left out). */
  async #rereadProviderJobs(): Promise<void> {
    const jobs = await readProviderJobs(this.stateDir);
    this.#providerJobs.clear();
    for (const j of jobs) this.#providerJobs.set(j.id, j);
  }

  /** The newest records, all read again; the index's mark taken first (a later write is read next time). */
  #readAllJobs(): RequesterJobRecord[] {
    this.#jobsMark = this.#jobs.mark();
    return parseJobTexts(this.#jobs.newest(MAX_JOBS));
  }

  /**
   * The rows written since the last read; all read again when rows went (a prune) or the
   * index is another (its versions fell). True when anything changed.
   */
  #rereadJobs(): boolean {
    const before = this.#jobsMark;
    const mark = this.#jobs.mark();
    if (mark.count === before.count && mark.version === before.version) return false;
    const changed = this.#jobs.changedSince(before.version);
    const added = parseJobTexts(changed.texts).filter((r) => !this.#records.has(r.id));
    if (mark.version < before.version || mark.count < before.count + added.length) {
      this.#records.clear();
      this.#jobsMark = mark;
      for (const r of parseJobTexts(this.#jobs.newest(MAX_JOBS))) this.#records.set(r.id, r);
      return true;
    }
    this.#jobsMark = { count: mark.count, version: changed.version };
    for (const record of parseJobTexts(changed.texts)) {
      this.#records.set(record.id, record);
      if (this.#records.size > MAX_JOBS) this.#dropOldest();
    }
    return true;
  }

  #dropOldest(): void {
    let oldest: RequesterJobRecord | undefined;
    for (const r of this.#records.values()) {
      if (oldest === undefined || r.updatedAtMs < oldest.updatedAtMs) oldest = r;
    }
    if (oldest !== undefined) this.#records.delete(oldest.id);
  }
}
