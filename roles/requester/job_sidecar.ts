/**
 * What a requester keeps next to a job record so it can resume after a crash: the signed request
 * (TOON, to resend a job whose send was interrupted), the spec (for the rest of a chain) and the
 * deadline. A row of the profile's index written in the job record's first commit, i.e. before
 * anything is sent (`state/jobs/job_repository.ts`), shown by the audit trail as
 * `requester/<id>.json`; an older profile's jobs keep theirs as files of that name.
 *
 * @module
 */
import { RoleError } from "../role_error.ts";
import { readJobSidecarText } from "../../state/jobs/job_repository.ts";
import { readOptionalTextFile } from "../../state/optional_text_file.ts";
import { type JobSpec, jobSpecFromJson, jobSpecToJson } from "./job_spec.ts";

/** The sidecar of one job. */
export interface JobSidecar {
  /** The signed job request as TOON. */
  requestToon: string;
  spec: JobSpec;
  /** Unix ms after which the job times out. */
  deadlineMs: number;
  /** The chain job whose result this job was posted with. */
  prev?: string;
}

/** A sidecar file is unreadable. */
export class JobSidecarError extends RoleError {
  override name = "JobSidecarError";
}

const MAX_SIDECAR_BYTES = 1024 * 1024;

/**
 * Path of a job's sidecar file (an older profile's; a new job's sidecar is a row).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * const id = "ab".repeat(32);
 * assert.equal(sidecarPath("/state", id), `/state/requester/${id}.json`);
 * ```
 */
export function sidecarPath(stateDir: string, id: string): string {
  return `${stateDir}/requester/${id}.json`;
}

/**
 * A sidecar's text as it is kept: a row of the profile's index, written with the job's record
 * (`JobRepository.create`'s `sidecar`), or replaced (`putSidecar`).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { formatJobSidecar, parseJobSidecar } from "./job_sidecar.ts";
 *
 * const spec = { kind: 5600, inputs: [], params: [], providers: [], skill: "none", timeoutMs: 30_000, encrypt: false, then: [] };
 * const text = formatJobSidecar({ requestToon: "toon", spec, deadlineMs: 30_000 });
 * assert.deepEqual(parseJobSidecar(text, "ab".repeat(32)).spec, spec);
 * ```
 */
export function formatJobSidecar(sidecar: JobSidecar): string {
  return JSON.stringify({ ...sidecar, spec: jobSpecToJson(sidecar.spec) });
}

/** Where a sidecar is read from: the profile's job repository (its rows). */
export interface JobSidecarSource {
  sidecarText(id: string): string | undefined;
}

/**
 * Reads a job's sidecar (undefined when it has none): its row in the profile's index (from
 * `repo` when given, else read from the index file beside the node), else an older profile's
 * file, `requester/<id>.json`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { readJobSidecar } from "./job_sidecar.ts";
 *
 * const stateDir = await Deno.makeTempDir();
 * assert.equal(await readJobSidecar(stateDir, "ab".repeat(32)), undefined);
 * await Deno.remove(stateDir);
 * ```
 * @throws {JobSidecarError} when it is corrupt.
 */
export async function readJobSidecar(
  stateDir: string,
  id: string,
  repo?: JobSidecarSource,
): Promise<JobSidecar | undefined> {
  const text = (repo ? repo.sidecarText(id) : readJobSidecarText(stateDir, id)) ??
    await readOptionalTextFile(sidecarPath(stateDir, id));
  if (text === undefined) return undefined;
  if (text.length > MAX_SIDECAR_BYTES) throw new JobSidecarError(`sidecar of ${id} is too large`);
  return parseJobSidecar(text, id);
}

/**
 * A sidecar from its text.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { JobSidecarError, parseJobSidecar } from "./job_sidecar.ts";
 *
 * assert.throws(() => parseJobSidecar("{}", "ab".repeat(32)), JobSidecarError);
 * ```
 * @throws {JobSidecarError} when it is not one.
 */
export function parseJobSidecar(text: string, id: string): JobSidecar {
  try {
    const v = JSON.parse(text) as Record<string, unknown>;
    if (typeof v.requestToon !== "string" || typeof v.deadlineMs !== "number") {
      throw new Error("missing requestToon/deadlineMs");
    }
    return {
      requestToon: v.requestToon,
      deadlineMs: v.deadlineMs,
      spec: jobSpecFromJson(v.spec),
      prev: typeof v.prev === "string" && /^[0-9a-f]{64}$/.test(v.prev) ? v.prev : undefined,
    };
  } catch (err) {
    throw new JobSidecarError(`sidecar of ${id}: ${(err as Error).message}`);
  }
}
