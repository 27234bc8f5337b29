/**
 * Every ended agent-task keeps its transcript on the provider (docs/SKILLS.md "agent-task"):
 * a failed, declined, cancelled or timed-out job delivers nothing, so without this its agent's
 * output (the tool calls of `claude --output-format stream-json`, `codex exec --json`) would be
 * gone with the job's `out/`. A delivered job's transcript also goes to the requester, sealed
 * (agent_task_runner.ts); the copy kept here is the operator's.
 *
 * The copy is read as the delivered one is (`transcriptOf`: no link followed, at most
 * {@linkcode TRANSCRIPT_MAX_KEPT_BYTES}), written to `<dir>/<job id>.log`, mode 0600, and read
 * back with {@linkcode readKeptTranscript}.
 *
 * @module
 */
import { TRANSCRIPT_MAX_KEPT_BYTES, transcriptOf } from "./job_out_files.ts";

export { TRANSCRIPT_MAX_KEPT_BYTES };

/** Options for {@linkcode keepTranscript}. */
export interface KeepTranscriptOptions {
  /** Where transcripts are kept (the provider's `<state>/agent-transcripts`). */
  dir: string;
  jobId: string;
  /** The agent's log the job left (`out/agent.log`, or a host preset's log). */
  log: string;
}

/** A kept transcript. */
export interface KeptTranscript {
  path: string;
  /** Bytes kept. */
  bytes: number;
  /** Bytes the agent wrote. */
  totalBytes: number;
  truncated: boolean;
}

const JOB_ID = /^[A-Za-z0-9_-]{1,128}$/;

/**
 * Copies the agent's log of an ended job to `<dir>/<job id>.log`; undefined when the job left
 * none (it never ran its agent) or the log is a link.
 *
 * @example
 * ```ts
 * import { keepTranscript } from "./kept_transcript.ts";
 *
 * const work = await Deno.makeTempDir();
 * await Deno.writeTextFile(`${work}/agent.log`, '{"type":"tool_use"}\n');
 * const kept = await keepTranscript({ dir: `${work}/kept`, jobId: "job-1", log: `${work}/agent.log` });
 * if (kept?.bytes !== 20) throw new Error();
 * await Deno.remove(work, { recursive: true });
 * ```
 */
export async function keepTranscript(
  options: KeepTranscriptOptions,
): Promise<KeptTranscript | undefined> {
  if (!JOB_ID.test(options.jobId)) return undefined;
  const read = await transcriptOf(options.log);
  if (read.totalBytes === 0) return undefined;
  await Deno.mkdir(options.dir, { recursive: true, mode: 0o700 });
  const path = `${options.dir}/${options.jobId}.log`;
  await Deno.writeFile(path, read.bytes, { mode: 0o600 });
  return { path, bytes: read.bytes.length, totalBytes: read.totalBytes, truncated: read.truncated };
}

/**
 * The transcript kept for a job, as text; undefined when none was kept.
 *
 * @example
 * ```ts
 * import { readKeptTranscript } from "./kept_transcript.ts";
 *
 * const text = await readKeptTranscript("/nonexistent", "job-1");
 * if (text !== undefined) throw new Error();
 * ```
 */
export async function readKeptTranscript(dir: string, jobId: string): Promise<string | undefined> {
  if (!JOB_ID.test(jobId)) return undefined;
  return await Deno.readTextFile(`${dir}/${jobId}.log`).catch(() => undefined);
}

/**
 * At a restart, the transcript a job cut off by a crash left (a host preset's log in
 * `<jobsRoot>/<job>.agent/`, else the sandbox's `<jobsRoot>/<job>/out/agent.log`), kept before
 * the job's files go (roles/provider/jobs/job_recovery.ts).
 *
 * @example
 * ```ts
 * import { keepLeftTranscript } from "./kept_transcript.ts";
 *
 * const state = await Deno.makeTempDir();
 * await Deno.mkdir(`${state}/work/job-1/out`, { recursive: true });
 * await Deno.writeTextFile(`${state}/work/job-1/out/agent.log`, "working\n");
 * const kept = await keepLeftTranscript(state, "job-1");
 * if (kept?.path !== `${state}/agent-transcripts/job-1.log`) throw new Error();
 * await Deno.remove(state, { recursive: true });
 * ```
 */
export async function keepLeftTranscript(
  stateDir: string,
  jobId: string,
): Promise<KeptTranscript | undefined> {
  const dir = `${stateDir}/agent-transcripts`;
  for (
    const log of [
      `${stateDir}/work/${jobId}.agent/agent.log`,
      `${stateDir}/work/${jobId}/out/agent.log`,
    ]
  ) {
    const kept = await keepTranscript({ dir, jobId, log }).catch(() => undefined);
    if (kept !== undefined) return kept;
  }
  return undefined;
}
