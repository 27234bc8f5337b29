/**
 * The dashboard's copy of the state dir, kept current by re-reading only what a change
 * touched: one job file when `jobs/<id>.toml` changed, the payment log's costs, the channels or
 * the provider's status file. Re-reading everything on each change costs tens of milliseconds
 * once a node has a few hundred jobs; one file costs well under one.
 *
 * @module
 */
import type { RequesterJobRecord } from "../state/jobs/job_record.ts";
import { PROVIDER_STATUS_FILE } from "../roles/provider/provider_status.ts";
import {
  assembleLocalView,
  type DashChannel,
  type DashProvider,
  type LocalView,
  type ProviderJob,
  readChannels,
  readJobCosts,
  readJobFile,
  readJobFiles,
  readProvider,
  readProviderJobFile,
  readProviderJobs,
} from "./dash_model.ts";

/** Most job files held (the newest). */
const MAX_JOBS = 2000;
const JOB_FILE = /\/jobs\/([0-9a-f]{64})\.toml$/;
const PROVIDER_JOB_FILE = /\/provider-jobs\/([0-9a-f]{64})\.toml$/;

/** A state dir's view, updated path by path; see the module doc. */
export class LocalViewCache {
  readonly stateDir: string;
  #records = new Map<string, RequesterJobRecord>();
  #costs = new Map<string, string>();
  #channels: DashChannel[] = [];
  #provider: DashProvider | undefined;
  #providerJobs = new Map<string, ProviderJob>();

  private constructor(stateDir: string) {
    this.stateDir = stateDir.replace(/\/+$/, "");
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
      readJobFiles(`${dir}/jobs`, MAX_JOBS),
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
    const jobs = new Set<string>();
    const providerJobs = new Set<string>();
    let costs = false, channels = false, provider = false;
    for (const p of paths) {
      const job = JOB_FILE.exec(p);
      const providerJob = PROVIDER_JOB_FILE.exec(p);
      if (job !== null) jobs.add(job[1]);
      else if (providerJob !== null) providerJobs.add(providerJob[1]);
      else if (p.includes("/payment_log")) costs = true;
      else if (p.includes("/channels/")) channels = true;
      else if (p.endsWith(`/${PROVIDER_STATUS_FILE}`)) provider = true;
    }
    await Promise.all([
      ...[...jobs].map((id) => this.#rereadJob(id)),
      ...[...providerJobs].map((id) => this.#rereadProviderJob(id)),
      costs && readJobCosts(this.stateDir).then((c) => this.#costs = c),
      channels && readChannels(this.stateDir).then((c) => this.#channels = c),
      provider && readProvider(this.stateDir).then((p) => this.#provider = p),
    ]);
    return jobs.size > 0 || providerJobs.size > 0 || costs || channels || provider;
  }

  async #rereadProviderJob(id: string): Promise<void> {
    const job = await readProviderJobFile(`${this.stateDir}/provider-jobs/${id}.toml`);
    if (job === undefined) this.#providerJobs.delete(id);
    else this.#providerJobs.set(id, job);
  }

  async #rereadJob(id: string): Promise<void> {
    const record = await readJobFile(`${this.stateDir}/jobs/${id}.toml`);
    if (record === undefined) {
      // Gone, or caught mid-write by a reader racing the rename: keep what was there unless gone.
      const exists = await Deno.stat(`${this.stateDir}/jobs/${id}.toml`).then(
        () => true,
        () => false,
      );
      if (!exists) this.#records.delete(id);
      return;
    }
    this.#records.set(id, record);
    if (this.#records.size > MAX_JOBS) this.#dropOldest();
  }

  #dropOldest(): void {
    let oldest: RequesterJobRecord | undefined;
    for (const r of this.#records.values()) {
      if (oldest === undefined || r.updatedAtMs < oldest.updatedAtMs) oldest = r;
    }
    if (oldest !== undefined) this.#records.delete(oldest.id);
  }
}
