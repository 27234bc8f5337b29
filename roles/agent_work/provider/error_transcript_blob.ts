/**
 * The provider's half of an undelivered agent task's transcript (roles/agent_work/error_transcript.ts,
 * docs/PROTOCOL.md "Errors of an encrypted job"): the transcript kept for the job
 * (kept_transcript.ts, `<state>/agent-transcripts/<job>.log`) sealed with a fresh key into a file,
 * ready to publish as the blob `transcript.log.sealed` with the job's error feedback.
 *
 * @module
 */
import { bytesToHex } from "@noble/hashes/utils.js";
import { sealBlob } from "../sealed_blob.ts";
import type { ErrorTranscriptKey } from "../error_transcript.ts";
import { transcriptOf } from "./job_out_files.ts";

/** Options for {@linkcode sealErrorTranscript}. */
export interface SealErrorTranscriptOptions {
  /** The provider's state dir (its `agent-transcripts/`). */
  stateDir: string;
  jobId: string;
  /** Where the sealed file is written (created, mode 0600). */
  to: string;
}

/** A sealed transcript: its file, and the key and size the requester gets encrypted. */
export interface SealedErrorTranscript {
  path: string;
  transcript: ErrorTranscriptKey;
}

/**
 * Seals the job's kept transcript to `to`; undefined when none was kept (a job that ended before
 * its agent ran, or a skill with no agent) or it is empty.
 *
 * @example
 * ```ts
 * import { sealErrorTranscript } from "./error_transcript_blob.ts";
 *
 * const state = await Deno.makeTempDir();
 * await Deno.mkdir(`${state}/agent-transcripts`);
 * await Deno.writeTextFile(`${state}/agent-transcripts/job-1.log`, "exit 3\n");
 * const sealed = await sealErrorTranscript({ stateDir: state, jobId: "job-1", to: `${state}/t` });
 * if (sealed?.transcript.bytes !== 7) throw new Error();
 * await Deno.remove(state, { recursive: true });
 * ```
 */
export async function sealErrorTranscript(
  o: SealErrorTranscriptOptions,
): Promise<SealedErrorTranscript | undefined> {
  if (!/^[0-9a-zA-Z_-]{1,128}$/.test(o.jobId)) return undefined;
  const read = await transcriptOf(`${o.stateDir}/agent-transcripts/${o.jobId}.log`);
  if (read.bytes.length === 0) return undefined;
  const { sealed, key } = await sealBlob(read.bytes);
  await Deno.writeFile(o.to, sealed, { mode: 0o600 });
  return { path: o.to, transcript: { key: bytesToHex(key), bytes: read.bytes.length } };
}
