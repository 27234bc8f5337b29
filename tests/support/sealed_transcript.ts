/**
 * Test helper: what a third party reading a town finds of an agent task's error and its
 * transcript (docs/PROTOCOL.md "Errors of an encrypted job"): the job's public error feedback
 * names a `transcript.log.sealed` blob, the blob the town serves has the size the tag says, and
 * neither the feedback nor the blob holds the words given.
 *
 * @module
 */
import { assert, assertEquals } from "../../harness/assert.ts";
import { readPublicFrames } from "../../harness/public_frames.ts";
import { blobServerOf } from "../../transport/relay_info.ts";

/**
 * Asserts that the town at `relayUrl` shows job `jobId`'s error with its transcript sealed: the
 * public feedback frames hold none of `hidden`, and the blob its error names holds none of
 * `hidden` nor `sealed` (words of the transcript that are not secret: the blob is not in the
 * clear).
 *
 * It reads a town, so it has no example that runs here:
 * tests/e2e/agent_task_error_transcript_test.ts.
 */
export async function assertTranscriptSealed(
  relayUrl: string,
  jobId: string,
  options: { hidden: string; sealed: string },
): Promise<void> {
  // The public feedback says a code and names a blob; the blob is ciphertext.
  const frames = await readPublicFrames(relayUrl, { kinds: [7000], "#e": [jobId] });
  const error = frames.map((f) => JSON.parse(f)).find((m) =>
    m[0] === "EVENT" && m[2].tags.some((t: string[]) => t[0] === "status" && t[1] === "error")
  )?.[2] as { tags: string[][] } | undefined;
  assert(error !== undefined, frames.join("\n"));
  for (const frame of frames) assert(!frame.includes(options.hidden), `public: ${frame}`);
  const blob = error.tags.find((t) => t[0] === "blob" && t[1] === "transcript.log.sealed");
  assert(blob !== undefined, JSON.stringify(error.tags));
  const stored = await fetch(`${blobServerOf(relayUrl)}/${blob[3]}`);
  assertEquals(stored.status, 200);
  const bytes = new Uint8Array(await stored.arrayBuffer());
  assertEquals(bytes.length, Number(blob[4]));
  const text = new TextDecoder("utf-8", { fatal: false }).decode(bytes);
  assert(
    !text.includes(options.hidden) && !text.includes(options.sealed),
    "the stored blob is in the clear",
  );
}
