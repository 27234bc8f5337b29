/**
 * Correlator stage: SummaryChunk -> CorrelatedChunk for events that refer to a job this node
 * posted, with the callback skill recorded for the job.
 *
 * Which events and which job id:
 * - 6000-6999 (NIP-90 results): the first `e` tag, role "result";
 * - 7000 (NIP-90 feedback): the first `e` tag, role "feedback";
 * - 5 (NIP-09 deletion, i.e. a job cancellation): the first `e` tag naming a known job, role
 *   "other".
 *
 * Unmatched events (other kinds, no `e` tag, a malformed id, or a job the store does not know)
 * are an everyday occurrence on a shared relay, not failures: by default they are dropped (the
 * pipeline metrics show them as chunks in minus chunks out); with `passUnmatched` the
 * SummaryChunk itself is emitted unchanged, for a caller that wants to see them. Input that is
 * not a SummaryChunk, and a job file that exists but is unusable, become FailedChunks.
 *
 * @module
 */
import { StagesError } from "./stages_error.ts";
import type { Chunk, CorrelatedChunk, FailedChunk, SummaryChunk } from "./chunks.ts";
import {
  DirectoryJobStore,
  isJobId,
  type JobRoute,
  type JobStore,
  MemoryJobStore,
} from "./job_store.ts";
import { NO_PERMISSIONS, StageOptionsError, type TransformStage } from "./stage.ts";
import { isJobResultKind, JOB_FEEDBACK_KIND } from "../protocol/nip90_job.ts";
import { stageMain } from "./stage_runner.ts";
import { jobIndexFiles } from "../state/jobs/job_text_reader.ts";

/** Options for {@linkcode createCorrelator}; give exactly one of `store`, `jobs`, `stateDir`. */
export interface CorrelatorOptions {
  /** Any store (in-thread only: a store object cannot be sent to a worker). */
  store?: JobStore;
  /** Jobs known up front (plain data, fine for workers). */
  jobs?: JobRoute[];
  /** Read jobs from `<stateDir>/jobs/<id>.toml`. */
  stateDir?: string;
  /** Emit unmatched SummaryChunks unchanged instead of dropping them. */
  passUnmatched?: boolean;
}

/** The correlator got a chunk that is not a SummaryChunk. */
export class CorrelatorInputError extends StagesError {
  /** `"CorrelatorInputError"`: explicit so it survives bundling and worker messages. */
  override name = "CorrelatorInputError";
}

/**
 * The job id an event refers to and its role, or undefined when the kind never refers to one.
 * For kind 5 every `e` tag is a candidate, so all are returned.
 *
 * @example
 * ```ts
 * import type { SummaryChunk } from "./chunks.ts";
 *
 * import assert from "node:assert/strict";
 * assert.deepEqual(jobReferences({ kind: 6050, e: ["ab".repeat(32)] } as SummaryChunk), { role: "result", candidates: ["ab".repeat(32)] });
 * ```
 */
export function jobReferences(
  summary: Pick<SummaryChunk, "kind" | "e">,
): { role: CorrelatedChunk["role"]; candidates: string[] } | undefined {
  const first = summary.e.length > 0 ? [summary.e[0]] : [];
  if (isJobResultKind(summary.kind)) return { role: "result", candidates: first };
  if (summary.kind === JOB_FEEDBACK_KIND) return { role: "feedback", candidates: first };
  if (summary.kind === 5) return { role: "other", candidates: summary.e };
  return undefined;
}

function storeFrom(options: CorrelatorOptions): JobStore {
  const given = [options.store, options.jobs, options.stateDir].filter((x) => x !== undefined);
  if (given.length !== 1) {
    throw new StageOptionsError("correlator needs exactly one of store, jobs, stateDir");
  }
  if (options.store) return options.store;
  if (options.jobs) return new MemoryJobStore(options.jobs);
  return new DirectoryJobStore({ stateDir: options.stateDir! });
}

/**
 * Creates the correlator transform.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * const jobId = "ab".repeat(32);
 * const correlator = createCorrelator({ jobs: [{ jobId, skill: "echo" }] });
 * const result = { type: "summary" as const, kind: 6050, id: "cd".repeat(32), pubkey: "ef".repeat(32), created_at: 1700000000, e: [jobId], p: [], toon: "" };
 * const [out] = await Array.fromAsync(ReadableStream.from([result]).pipeThrough(correlator));
 * assert.deepEqual(out.type === "correlated" && [out.jobId, out.skill, out.role], [jobId, "echo", "result"]);
 * ```
 */
export function createCorrelator(options: CorrelatorOptions): TransformStream<Chunk, Chunk> {
  const store = storeFrom(options);
  const failed = (error: Error, input: unknown): FailedChunk => ({
    type: "failed",
    stage: "correlator",
    error: error.name,
    message: error.message,
    input,
  });
  return new TransformStream<Chunk, Chunk>({
    async transform(chunk, controller) {
      if (chunk.type !== "summary") {
        const error = new CorrelatorInputError(`expected a summary chunk, got "${chunk.type}"`);
        controller.enqueue(failed(error, { type: chunk.type }));
        return;
      }
      const refs = jobReferences(chunk);
      let job: JobRoute | undefined;
      try {
        for (const id of refs?.candidates ?? []) {
          if (!isJobId(id)) continue;
          const found = store.lookup(id);
          // Stay synchronous for synchronous stores: an await per event costs at 50k events/s.
          job = found instanceof Promise ? await found : found;
          if (job !== undefined) break;
        }
      } catch (err) {
        controller.enqueue(
          failed(err as Error, { type: "summary", id: chunk.id, kind: chunk.kind }),
        );
        return;
      }
      if (refs !== undefined && job !== undefined) {
        controller.enqueue({
          type: "correlated",
          summary: chunk,
          jobId: job.jobId,
          skill: job.skill,
          role: refs.role,
        });
      } else if (options.passUnmatched) {
        controller.enqueue(chunk);
      }
    },
  });
}

/** Reads `--jobs id=skill,id=skill`, `--state-dir DIR`, `--pass-unmatched`. */
function parseCorrelatorFlags(flags: Record<string, string>): CorrelatorOptions {
  const options: CorrelatorOptions = {};
  if (flags["state-dir"] !== undefined) options.stateDir = flags["state-dir"];
  if (flags.jobs !== undefined) {
    options.jobs = flags.jobs.split(",").filter((s) => s !== "").map((pair) => {
      const [jobId, skill] = pair.split("=");
      if (!isJobId(jobId ?? "") || !skill) {
        throw new StageOptionsError(`--jobs expects id=skill pairs, got "${pair}"`);
      }
      return { jobId, skill };
    });
  }
  if (flags["pass-unmatched"] !== undefined) {
    options.passUnmatched = flags["pass-unmatched"] !== "false";
  }
  if ((options.stateDir === undefined) === (options.jobs === undefined)) {
    throw new StageOptionsError("correlator needs --state-dir DIR or --jobs id=skill,...");
  }
  return options;
}

/** The correlator stage. Permissions: none, or read of the job index's files only. */
export const correlatorStage: TransformStage<Chunk, Chunk, CorrelatorOptions> = {
  name: "correlator",
  role: "transform",
  description: "matches results (6xxx), feedback (7000) and cancellations (5) to posted jobs",
  parseOptions: parseCorrelatorFlags,
  permissions: (options) =>
    options.stateDir === undefined
      ? NO_PERMISSIONS
      : { ...NO_PERMISSIONS, read: jobIndexFiles(options.stateDir) },
  create: createCorrelator,
};

if (import.meta.main) await stageMain(correlatorStage);
