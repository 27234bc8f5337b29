/**
 * What a requester keeps next to a job record so it can resume after a crash:
 * `<state dir>/requester/<id>.json` with the signed request (TOON, to resend a job whose send
 * was interrupted), the spec (for the rest of a chain) and the deadline. Written atomically
 * before the job record is created, i.e. before anything is sent.
 *
 * @module
 */
import { RoleError } from "../role_error.ts";
import { writeFileAtomic } from "../../state/atomic_file.ts";
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
 * Path of a job's sidecar.
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
 * Writes a sidecar atomically (fsync, rename).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { readJobSidecar, writeJobSidecar } from "./job_sidecar.ts";
 *
 * const stateDir = await Deno.makeTempDir();
 * const id = "ab".repeat(32);
 * const spec = { kind: 5600, inputs: [], params: [], providers: [], skill: "none", timeoutMs: 30_000, encrypt: false, then: [] };
 * await writeJobSidecar(stateDir, id, { requestToon: "toon", spec, deadlineMs: 30_000 });
 * assert.deepEqual((await readJobSidecar(stateDir, id))?.spec, spec);
 * await Deno.remove(stateDir, { recursive: true });
 * ```
 */
export async function writeJobSidecar(
  stateDir: string,
  id: string,
  sidecar: JobSidecar,
  options: { durable?: boolean } = {},
): Promise<void> {
  await Deno.mkdir(`${stateDir}/requester`, { recursive: true });
  const text = JSON.stringify({ ...sidecar, spec: jobSpecToJson(sidecar.spec) });
  const durable = options.durable ?? true;
  await writeFileAtomic(sidecarPath(stateDir, id), text, {
    skipFileSync: !durable,
    skipDirSync: !durable,
  });
}

/**
 * Reads a sidecar (undefined when absent).
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
): Promise<JobSidecar | undefined> {
  const text = await readOptionalTextFile(sidecarPath(stateDir, id));
  if (text === undefined) return undefined;
  if (text.length > MAX_SIDECAR_BYTES) throw new JobSidecarError(`sidecar of ${id} is too large`);
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
