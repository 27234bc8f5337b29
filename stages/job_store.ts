/**
 * Where the correlator looks up the jobs this node posted: job id -> callback skill. An
 * in-memory store (tests, pipelines fed from code) and a directory store reading
 * `<state dir>/jobs/<id>.toml`, the files the requester writes when it posts a job.
 *
 * Job file format (TOML; other keys are kept in `extra` and ignored here):
 *
 * ```toml
 * id = "<64 lowercase hex: the job request's event id>"   # optional, must match the file name
 * skill = "summarize"                                    # the callback skill (or callback_skill)
 * status = "open"                                        # optional
 * ```
 *
 * @module
 */
import { StagesError } from "./stages_error.ts";
import { JobRecordFormatError, parseJobRoute } from "../state/jobs/job_record.ts";

/** What the correlator needs to know about a job: where its results go. */
export interface JobRoute {
  /** The job request's event id (64 lowercase hex). */
  jobId: string;
  /** Callback skill its results and feedback go to. */
  skill: string;
  /** Job status as written by the requester (`open`, ...); informational here. */
  status?: string;
  /** Any other keys of the job file. */
  extra?: Record<string, unknown>;
}

/** A job store: `lookup` may answer synchronously or with a promise. */
export interface JobStore {
  /** The job with this id (64 lowercase hex), or undefined when this node did not post it. */
  lookup(jobId: string): JobRoute | undefined | Promise<JobRoute | undefined>;
}

/** A job file exists but cannot be used (too large, bad TOML, no skill, id mismatch). */
export class JobRouteError extends StagesError {
  /** `"JobRouteError"`: explicit so it survives bundling. */
  override name = "JobRouteError";
}

/** Largest job file read (a job file is a few hundred bytes). */
export const MAX_JOB_FILE_BYTES = 64 * 1024;

const JOB_ID = /^[0-9a-f]{64}$/;
const SKILL_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;

/**
 * True for a well-formed job id: 64 lowercase hex, so it is also a safe file name.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * assert.equal(isJobId("ab".repeat(32)), true);
 * assert.equal(isJobId("../../etc/passwd"), false);
 * ```
 */
export function isJobId(value: string): boolean {
  return JOB_ID.test(value);
}

/**
 * True for a usable skill name (a single path segment, no dots first).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * assert.equal(isSkillName("summarize"), true);
 * assert.equal(isSkillName("../bin"), false);
 * ```
 */
export function isSkillName(value: string): boolean {
  return SKILL_NAME.test(value) && value !== "." && value !== "..";
}

/**
 * Jobs held in memory.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * const store = new MemoryJobStore([{ jobId: "ab".repeat(32), skill: "echo" }]);
 * assert.equal(store.lookup("ab".repeat(32))?.skill, "echo");
 * ```
 */
export class MemoryJobStore implements JobStore {
  #jobs = new Map<string, JobRoute>();

  /** Validates and adds each of `jobs` (throws JobRouteError on a bad id or skill). */
  constructor(jobs: Iterable<JobRoute> = []) {
    for (const job of jobs) this.add(job);
  }

  /** Adds or replaces a job. */
  add(job: JobRoute): void {
    if (!isJobId(job.jobId)) throw new JobRouteError(`job id "${job.jobId}" is not 64 hex`);
    if (!isSkillName(job.skill)) throw new JobRouteError(`skill name "${job.skill}" is not valid`);
    this.#jobs.set(job.jobId, job);
  }

  /** The job with this id, or undefined when it was never added. */
  lookup(jobId: string): JobRoute | undefined {
    return this.#jobs.get(jobId);
  }
}

/** Options for {@linkcode DirectoryJobStore}. */
export interface DirectoryJobStoreOptions {
  /** The node's state dir; jobs are read from `<stateDir>/jobs/<id>.toml`. */
  stateDir: string;
  /** Most found jobs kept in memory. Default 10,000. */
  cacheSize?: number;
}

/**
 * Jobs read from `<stateDir>/jobs/<id>.toml`. Found jobs are cached (a job's skill never
 * changes); misses are not, since the requester may write the file after the first event.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * const stateDir = await Deno.makeTempDir(); // e.g. /home/me/.turnpike/default
 * await Deno.mkdir(`${stateDir}/jobs`);
 * await Deno.writeTextFile(`${stateDir}/jobs/${"ab".repeat(32)}.toml`, 'skill = "echo"\n');
 * const store = new DirectoryJobStore({ stateDir });
 * assert.equal((await store.lookup("ab".repeat(32)))?.skill, "echo");
 * assert.equal(await store.lookup("cd".repeat(32)), undefined);
 * await Deno.remove(stateDir, { recursive: true });
 * ```
 */
export class DirectoryJobStore implements JobStore {
  /** Directory of the job files, `<stateDir>/jobs`. */
  readonly jobsDir: string;
  #cache = new Map<string, JobRoute>();
  #cacheSize: number;

  /** Reads nothing yet; files are read on lookup. */
  constructor(options: DirectoryJobStoreOptions) {
    this.jobsDir = `${options.stateDir.replace(/\/+$/, "")}/jobs`;
    this.#cacheSize = options.cacheSize ?? 10_000;
  }

  /**
   * Reads `<jobsDir>/<jobId>.toml`; undefined for a malformed id or a missing file.
   * Throws JobRouteError when the file exists but is unusable.
   */
  async lookup(jobId: string): Promise<JobRoute | undefined> {
    if (!isJobId(jobId)) return undefined;
    const cached = this.#cache.get(jobId);
    if (cached !== undefined) return cached;
    const path = `${this.jobsDir}/${jobId}.toml`;
    let text: string;
    try {
      const file = await Deno.open(path, { read: true });
      try {
        const info = await file.stat();
        if (info.size > MAX_JOB_FILE_BYTES) {
          throw new JobRouteError(`${path} is over ${MAX_JOB_FILE_BYTES} bytes`);
        }
        text = new TextDecoder().decode(await new Response(file.readable).arrayBuffer());
      } finally {
        try {
          file.close();
        } catch { /* already closed by reading its stream to the end */ }
      }
    } catch (err) {
      if (err instanceof Deno.errors.NotFound) return undefined;
      throw err;
    }
    const job = parseJobFile(text, jobId, path);
    if (this.#cache.size >= this.#cacheSize) {
      this.#cache.delete(this.#cache.keys().next().value!);
    }
    this.#cache.set(jobId, job);
    return job;
  }
}

/**
 * Reads one job file's text.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * assert.equal(parseJobFile('skill = "echo"', "ab".repeat(32), "jobs/ab.toml").skill, "echo");
 * ```
 */
export function parseJobFile(text: string, jobId: string, path: string): JobRoute {
  let route;
  try {
    route = parseJobRoute(text);
  } catch (err) {
    if (err instanceof JobRecordFormatError) throw new JobRouteError(`${path}: ${err.message}`);
    throw err;
  }
  if (!isSkillName(route.skill)) throw new JobRouteError(`${path}: no valid "skill"`);
  if (route.id !== undefined && route.id !== jobId) {
    throw new JobRouteError(`${path}: id ${route.id} does not match the file name`);
  }
  const job: JobRoute = { jobId, skill: route.skill, extra: route.extra };
  if (route.status !== undefined) job.status = route.status;
  return job;
}
