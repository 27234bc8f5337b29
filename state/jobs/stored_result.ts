/**
 * A job's result as the requester keeps it, read back: the result event
 * (`callbacks/<id>.in.payload`, raw TOON) and, when the provider sent its output as a blob
 * (docs/PROTOCOL.md "Blobs in jobs"), that blob kept as `results/<id>/result`. Reading only: the
 * blob is fetched by roles/requester/result_content.ts as the result arrives. Here in the state
 * layer so the commands that only read (`job list`, `job status`, `job wait` of a job that has
 * ended) load no role's code (docs/SCALE.md "A command's start").
 *
 * @module
 */
import type { NostrEvent } from "../../protocol/nostr_event.ts";
import { DEFAULT_MAX_TOON_BYTES } from "../../protocol/kind_extractor.ts";
import { parseEventToon } from "../../protocol/toon_event_parse.ts";
import { readOptionalTextFile } from "../optional_text_file.ts";

/** A kept result: its event, raw TOON and content (the `result` blob's when it had one). */
export interface StoredResult {
  toon: string;
  event: NostrEvent;
  content: string;
}

/**
 * Where a job's `result` blob is kept in the state dir.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 *
 * const path = resultBlobPath("/home/a/.turnpike/default", "ab".repeat(32));
 * assert.equal(path, `/home/a/.turnpike/default/results/${"ab".repeat(32)}/result`);
 * ```
 */
export function resultBlobPath(stateDir: string, id: string): string {
  return `${stateDir}/results/${id}/result`;
}

/**
 * The kept result of a job, or undefined when there is none yet.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { finalizeEvent, generateSecretKey } from "nostr-tools/pure";
 * import { encodeEventToon } from "../../protocol/toon_codec.ts";
 *
 * const stateDir = await Deno.makeTempDir();
 * const jobId = "ab".repeat(32);
 * assert.equal(await readStoredResult(stateDir, jobId), undefined); // none yet
 * const template = { kind: 6100, created_at: 1, tags: [["e", jobId]], content: "42" };
 * await Deno.mkdir(`${stateDir}/callbacks`);
 * const toon = encodeEventToon(finalizeEvent(template, generateSecretKey()));
 * await Deno.writeTextFile(`${stateDir}/callbacks/${jobId}.in.payload`, toon);
 * assert.equal((await readStoredResult(stateDir, jobId))?.content, "42");
 * await Deno.remove(stateDir, { recursive: true });
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
  // Checked when it came in (roles/requester/): read back without the verifier's WebAssembly.
  const event = parseEventToon(toon, DEFAULT_MAX_TOON_BYTES);
  const fromBlob = event.content === "" || isEncryptedResult(event)
    ? await readOptionalTextFile(resultBlobPath(stateDir, id), read)
    : undefined;
  return { toon, event, content: fromBlob ?? event.content };
}

/**
 * Whether a result's content is encrypted to its requester (its `encrypted` tag): the profile's
 * node keeps it opened as `results/<id>/result`.
 * @example
 * ```ts
 * import { isEncryptedResult } from "./stored_result.ts";
 * if (!isEncryptedResult({ tags: [["encrypted"]] })) throw new Error();
 * ```
 */
export function isEncryptedResult(event: { tags: string[][] }): boolean {
  return event.tags.some((t) => t[0] === "encrypted");
}
