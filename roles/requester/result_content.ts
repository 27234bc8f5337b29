/**
 * A job's result as the requester keeps it: the result event (`callbacks/<id>.in.payload`, raw
 * TOON) and, when the provider sent its output as a blob because it was over the skill's inline
 * budget (docs/PROTOCOL.md "Blobs in jobs"), that blob: fetched and verified as the result
 * arrives, kept as `results/<id>/result`, and read back as the result's content.
 *
 * @module
 */
import { blobOutputsOf, RESULT_BLOB_NAME } from "../../protocol/job_blobs.ts";
import type { NostrEvent } from "../../protocol/nostr_event.ts";
import { decodeEventToon } from "../../protocol/toon_codec.ts";
import { downloadBlob } from "../../transport/blossom_client.ts";
import { readOptionalTextFile } from "../../state/optional_text_file.ts";

/** Largest `result` blob fetched with the result (the skill's own output cap is 1 MiB). */
export const MAX_RESULT_BLOB_BYTES = 1024 * 1024;

/** A kept result: its event, raw TOON and content (the `result` blob's when it had one). */
export interface StoredResult {
  toon: string;
  event: NostrEvent;
  content: string;
}

function resultBlobPath(stateDir: string, id: string): string {
  return `${stateDir}/results/${id}/result`;
}

/**
 * Fetches the result event's `result` blob when its content is empty; does nothing otherwise or
 * when it is there already. A blob that cannot be had is left: the content stays the event's.
 *
 * @example
 * ```ts
 * import type { NostrEvent } from "../../protocol/nostr_event.ts";
 *
 * declare const stateDir: string;
 * declare const jobId: string;
 * declare const resultEvent: NostrEvent;
 * await fetchResultBlob(stateDir, jobId, resultEvent);
 * ```
 */
export async function fetchResultBlob(
  stateDir: string,
  id: string,
  event: NostrEvent,
): Promise<"none" | "fetched" | "failed"> {
  const blob = blobOutputsOf(event.tags).find((b) => b.name === RESULT_BLOB_NAME);
  if (blob === undefined || event.content !== "") return "none";
  const to = resultBlobPath(stateDir, id);
  if (await Deno.stat(to).then(() => true, () => false)) return "fetched";
  await Deno.mkdir(`${stateDir}/results/${id}`, { recursive: true, mode: 0o700 });
  try {
    await downloadBlob({
      url: blob.url,
      sha256: blob.sha256,
      maxBytes: Math.min(blob.size, MAX_RESULT_BLOB_BYTES),
      to,
    });
    return "fetched";
  } catch {
    return "failed";
  }
}

/**
 * The kept result of a job, or undefined when there is none yet.
 *
 * @example
 * ```ts
 * declare const stateDir: string;
 * declare const jobId: string;
 * const result = await readStoredResult(stateDir, jobId);
 * console.log(result?.content);
 * ```
 */
export async function readStoredResult(
  stateDir: string,
  id: string,
): Promise<StoredResult | undefined> {
  // Only shown, never written back: what cannot be read is shown as not there yet.
  const read = { unreadableAsMissing: true };
  const toon = await readOptionalTextFile(`${stateDir}/callbacks/${id}.in.payload`, read);
  if (toon === undefined || toon.length === 0) return undefined;
  const event = decodeEventToon(toon, { verify: false });
  const fromBlob = event.content === ""
    ? await readOptionalTextFile(resultBlobPath(stateDir, id), read)
    : undefined;
  return { toon, event, content: fromBlob ?? event.content };
}
