/**
 * Where the correlator looks up the jobs this node posted: job id -> callback skill. An
 * in-memory store (tests, pipelines fed from code) and a directory store reading the records
 * the requester writes when it posts a job, rows of its job index `<state dir>/index.sqlite`
 * (`state/jobs/job_text_reader.ts`, read-only).
 *
 * Job record format (TOML; other keys are kept in `extra` and ignored here):
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
import { JobTextReader } from "../state/jobs/job_text_reader.ts";

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

/** Largest job record read (a record is a few hundred bytes). */
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
  /** The node's state dir; jobs are read from the rows of `<stateDir>/index.sqlite`. */
  stateDir: string;
  /** Most found jobs kept in memory. Default 10,000. */
  cacheSize?: number;
}

/**
 * Jobs read from the requester's job index (`<stateDir>/index.sqlite`, read-only). Found jobs
 * are cached (a job's skill never changes); misses are not, since the requester may write the
 * record after the first event.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { openJobRepository } from "../state/jobs/job_repository.ts";
 *
 * const stateDir = await Deno.makeTempDir(); // e.g. /home/me/.turnpike/default
 * const repo = await openJobRepository({ stateDir }); // the requester's records
 * const job = await repo.create({ id: "ab".repeat(32), kind: 5100, skill: "echo", status: "sent" as const,
 *   createdAtMs: 1, updatedAtMs: 1, payments: [] });
 * const store = new DirectoryJobStore({ stateDir });
 * assert.equal((await store.lookup(job.id))?.skill, "echo");
 * assert.equal(await store.lookup("cd".repeat(32)), undefined);
 * store.close();
 * repo.close();
 * await Deno.remove(stateDir, { recursive: true });
 * ```
 */
export class DirectoryJobStore implements JobStore {
  /** The index read, `<stateDir>/index.sqlite`. */
  readonly indexPath: string;
  #reader: JobTextReader;
  #cache = new Map<string, JobRoute>();
  #cacheSize: number;

  /** Reads nothing yet; rows are read on lookup. */
  constructor(options: DirectoryJobStoreOptions) {
    this.#reader = new JobTextReader(options.stateDir);
    this.indexPath = this.#reader.indexPath;
    this.#cacheSize = options.cacheSize ?? 10_000;
  }

  /**
   * Reads the job's row; undefined for a malformed id or a job not there.
   * Throws JobRouteError when its record is unusable.
   */
  // deno-lint-ignore require-await
  async lookup(jobId: string): Promise<JobRoute | undefined> {
    if (!isJobId(jobId)) return undefined;
    const cached = this.#cache.get(jobId);
    if (cached !== undefined) return cached;
    const text = this.#reader.text(jobId);
    if (text === undefined) return undefined;
    const where = `job ${jobId}`;
    if (text.length > MAX_JOB_FILE_BYTES) {
      throw new JobRouteError(`${where} is over ${MAX_JOB_FILE_BYTES} bytes`);
    }
    const job = parseJobFile(text, jobId, where);
    if (this.#cache.size >= this.#cacheSize) {
      this.#cache.delete(this.#cache.keys().next().value!);
    }
    this.#cache.set(jobId, job);
    return job;
  }

  /** Closes the index's connection. */
  close(): void {
    this.#reader.close();
  }
}

/**
 * Reads one job record's text (`path`: where it came from, for the errors).
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
