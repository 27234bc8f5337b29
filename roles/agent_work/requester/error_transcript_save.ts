/**
 * The requester's half of an undelivered agent task's transcript (roles/agent_work/error_transcript.ts,
 * docs/PROTOCOL.md "Errors of an encrypted job"): the error feedback's `transcript.log.sealed`
 * blob fetched by hash from the profile's own towns (never from the URL it names), opened with the
 * key its encrypted content carried, and written where `job results --apply` writes a delivered
 * one (`<profile>/agent-tasks/<job>.transcript.log`, state/jobs/agent_task_record.ts).
 *
 * @module
 */
import { hexToBytes } from "@noble/hashes/utils.js";
import { blobOutputsOf } from "../../../protocol/job_blobs.ts";
import { fetchBlobFromTowns } from "../../requester/town_blob_fetch.ts";
import { openBlob } from "../sealed_blob.ts";
import { SEALED_TRANSCRIPT_NAME } from "../agent_task_wire.ts";
import type { ErrorTranscriptKey } from "../error_transcript.ts";
import { agentTranscriptFile } from "../../../state/jobs/agent_task_record.ts";
import { sealedBlobMax } from "./sealed_result.ts";

/** Options for {@linkcode saveErrorTranscript}. */
export interface SaveErrorTranscriptOptions {
  /** The requester's profile dir. */
  stateDir: string;
  jobId: string;
  /** The error feedback's tags (its `blob` tag names the sealed transcript). */
  tags: string[][];
  /** The key and size the feedback's encrypted content carried. */
  transcript: ErrorTranscriptKey;
  /** The profile's towns' Blossom servers. */
  towns: readonly string[];
}

/**
 * Fetches, opens and writes the transcript; its path, or undefined when the feedback names no
 * transcript blob. Throws when the blob cannot be fetched or does not open with the key.
 *
 * It fetches from towns: no example that runs here: tests/e2e/agent_task_error_transcript_test.ts.
 */
export async function saveErrorTranscript(
  o: SaveErrorTranscriptOptions,
): Promise<string | undefined> {
  const blob = blobOutputsOf(o.tags).find((b) => b.name === SEALED_TRANSCRIPT_NAME);
  if (blob === undefined) return undefined;
  const max = sealedBlobMax(SEALED_TRANSCRIPT_NAME) ?? 0;
  const dir = `${o.stateDir}/agent-tasks`;
  await Deno.mkdir(dir, { recursive: true, mode: 0o700 });
  const sealedPath = `${dir}/${o.jobId}.transcript.sealed`;
  try {
    await fetchBlobFromTowns({
      servers: o.towns,
      sha256: blob.sha256,
      maxBytes: Math.min(blob.size, max),
      to: sealedPath,
    });
    const plain = await openBlob(await Deno.readFile(sealedPath), hexToBytes(o.transcript.key));
    const path = agentTranscriptFile(o.stateDir, o.jobId);
    await Deno.writeFile(path, plain, { mode: 0o600 });
    return path;
  } finally {
    await Deno.remove(sealedPath).catch(() => {});
  }
}
