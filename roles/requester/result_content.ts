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
import { fetchBlobFromTowns } from "./town_blob_fetch.ts";
import type { NodeSigner } from "../../protocol/node_signer.ts";
import { nip44 } from "nostr-tools";
import { isEncryptedResult, resultBlobPath } from "../../state/jobs/stored_result.ts";

export { readStoredResult, type StoredResult } from "../../state/jobs/stored_result.ts";

/** Largest `result` blob fetched with the result (the skill's own output cap is 1 MiB). */
export const MAX_RESULT_BLOB_BYTES = 1024 * 1024;

/**
 * Fetches the result event's `result` blob by its hash from the profile's `towns` (Blossom
 * servers; never from the URL the tag names) when its content is empty; does nothing otherwise or
 * when it is there already. A blob that cannot be had is left: the content stays the event's.
 *
 * It fetches from towns: no example that runs here: tests/e2e/town_network_test.ts.
 */
export async function fetchResultBlob(
  stateDir: string,
  id: string,
  event: NostrEvent,
  towns: readonly string[],
): Promise<"none" | "fetched" | "failed"> {
  const blob = blobOutputsOf(event.tags).find((b) => b.name === RESULT_BLOB_NAME);
  if (blob === undefined || event.content !== "") return "none";
  const to = resultBlobPath(stateDir, id);
  if (await Deno.stat(to).then(() => true, () => false)) return "fetched";
  await Deno.mkdir(`${stateDir}/results/${id}`, { recursive: true, mode: 0o700 });
  try {
    await fetchBlobFromTowns({
      servers: towns,
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
 * Keeps an encrypted result's content, opened (NIP-44 from its provider), as the result's
 * content (`results/<id>/result`, in the profile's 0700 state dir): `job results` reads it with
 * no key; returns it (undefined for a result that is not encrypted, or does not open: left as
 * it came).
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import * as nip44 from "nostr-tools/nip44";
 * import { finalizeEvent, generateSecretKey, getPublicKey } from "nostr-tools/pure";
 * import { localNodeSigner } from "../../identity/local_node_signer.ts";
 * import { keepDecryptedResult, nip44Opener } from "./result_content.ts";
 *
 * const me = generateSecretKey();
 * const provider = generateSecretKey();
 * const content = nip44.v2.encrypt("the result", nip44.v2.utils.getConversationKey(provider, getPublicKey(me)));
 * const event = finalizeEvent({ kind: 6600, created_at: 1, tags: [["encrypted"]], content }, provider);
 * const stateDir = await Deno.makeTempDir();
 * const id = "ab".repeat(32);
 * assert.equal(await keepDecryptedResult(stateDir, id, event, nip44Opener(localNodeSigner(me))), "the result");
 * assert.equal(await Deno.readTextFile(`${stateDir}/results/${id}/result`), "the result");
 * await Deno.remove(stateDir, { recursive: true });
 * ```
 */
export async function keepDecryptedResult(
  stateDir: string,
  id: string,
  event: NostrEvent,
  decrypt: (from: string, content: string) => Promise<string>,
): Promise<string | undefined> {
  if (!isEncryptedResult(event) || event.content === "") return undefined;
  const to = resultBlobPath(stateDir, id);
  const kept = await Deno.readTextFile(to).catch(() => undefined);
  if (kept !== undefined) return kept;
  let plain: string;
  try {
    plain = await decrypt(event.pubkey, event.content);
  } catch {
    return undefined;
  }
  await Deno.mkdir(`${stateDir}/results/${id}`, { recursive: true, mode: 0o700 });
  await Deno.writeTextFile(`${to}.part`, plain, { mode: 0o600 });
  await Deno.rename(`${to}.part`, to);
  return plain;
}

/**
 * Opens NIP-44 content from a peer with the node's signer (the key stays in its worker).
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import * as nip44 from "nostr-tools/nip44";
 * import { generateSecretKey, getPublicKey } from "nostr-tools/pure";
 * import { localNodeSigner } from "../../identity/local_node_signer.ts";
 * import { nip44Opener } from "./result_content.ts";
 *
 * const me = generateSecretKey();
 * const peer = generateSecretKey();
 * const sealed = nip44.v2.encrypt("hi", nip44.v2.utils.getConversationKey(peer, getPublicKey(me)));
 * const open = nip44Opener(localNodeSigner(me));
 * assert.equal(await open(getPublicKey(peer), sealed), "hi");
 * ```
 */
export function nip44Opener(
  signer: Pick<NodeSigner, "conversationKey">,
): (from: string, content: string) => Promise<string> {
  return async (from, content) => nip44.v2.decrypt(content, await signer.conversationKey(from));
}
