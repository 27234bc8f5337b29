/**
 * A bead event's content, sealed to the rig's members (docs/PROTOCOL.md "Beads as events"): the
 * bead's state as JSON, raw-deflated (its registers repeat the same author keys, so it shrinks to
 * about a third), sealed with a fresh AES-256-GCM key (roles/agent_work/sealed_blob.ts),
 * and that key NIP-44-encrypted to each member, the author included:
 *
 *     {"v":1,"keys":{"<member>":"<NIP-44 of the key, hex>",...},"sealed":"<base64>"}
 *
 * A town stores ciphertext only; a member opens the key with the conversation key of the author
 * and itself. Each event has a key of its own, so one member's copy opens that event only.
 *
 * @module
 */
import * as nip44 from "nostr-tools/nip44";
import { bytesToHex, hexToBytes } from "@noble/hashes/utils.js";
import { openBlob, sealBlob } from "../agent_work/sealed_blob.ts";
import type { NodeSigner } from "../../protocol/node_signer.ts";
import type { NostrEvent } from "../../protocol/nostr_event.ts";
import { RoleError } from "../role_error.ts";
import type { BeadState } from "./bead_state.ts";

/** A bead event this member cannot open: not sealed to it, or not a bead's content. */
export class BeadSealError extends RoleError {
  /** `"BeadSealError"`: explicit so it survives bundling. */
  override name = "BeadSealError";
}

/** What a member's key does here: conversation keys, cached per peer. */
export type BeadSigner = Pick<NodeSigner, "conversationKey" | "pubkey">;

async function squeezed(bytes: Uint8Array<ArrayBuffer>, mode: "compress" | "decompress") {
  const stream = new Blob([bytes]).stream().pipeThrough(
    mode === "compress"
      ? new CompressionStream("deflate-raw")
      : new DecompressionStream("deflate-raw"),
  );
  return new Uint8Array(await new Response(stream).arrayBuffer());
}

function toBase64(bytes: Uint8Array): string {
  let s = "";
  for (let i = 0; i < bytes.length; i += 0x8000) {
    s += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  }
  return btoa(s);
}

function fromBase64(text: string): Uint8Array<ArrayBuffer> {
  const s = atob(text);
  const out = new Uint8Array(s.length);
  for (let i = 0; i < s.length; i++) out[i] = s.charCodeAt(i);
  return out;
}

/**
 * Conversation keys of one signer, each peer's asked of its worker once.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { cachedConversationKeys } from "./bead_seal.ts";
 * import { localNodeSigner } from "../../identity/local_node_signer.ts";
 * import { generateSecretKey } from "nostr-tools/pure";
 *
 * const signer = cachedConversationKeys(localNodeSigner(generateSecretKey()));
 * assert.equal((await signer.conversationKey(signer.pubkey)).length, 32);
 * ```
 */
export function cachedConversationKeys(signer: BeadSigner): BeadSigner {
  const keys = new Map<string, Promise<Uint8Array>>();
  return {
    pubkey: signer.pubkey,
    conversationKey(peer: string) {
      let key = keys.get(peer);
      if (key === undefined) {
        key = signer.conversationKey(peer);
        keys.set(peer, key);
        key.catch(() => keys.delete(peer));
      }
      return key;
    },
  };
}

/**
 * Seals `state` to `members`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { openBead, sealBead } from "./bead_seal.ts";
 * import { localNodeSigner } from "../../identity/local_node_signer.ts";
 * import { generateSecretKey } from "nostr-tools/pure";
 *
 * const me = localNodeSigner(generateSecretKey());
 * const content = await sealBead({ f: {}, l: {}, d: {}, m: {} }, [me.pubkey], me);
 * assert.deepEqual(await openBead({ pubkey: me.pubkey, content }, me), { f: {}, l: {}, d: {}, m: {} });
 * ```
 */
export async function sealBead(
  state: BeadState,
  members: string[],
  signer: BeadSigner,
): Promise<string> {
  const { sealed, key } = await sealBlob(
    await squeezed(new TextEncoder().encode(JSON.stringify(state)), "compress"),
  );
  const keys: Record<string, string> = {};
  for (const m of new Set([signer.pubkey, ...members])) {
    keys[m] = nip44.v2.encrypt(bytesToHex(key), await signer.conversationKey(m));
  }
  return JSON.stringify({ v: 1, keys, sealed: toBase64(sealed) });
}

/**
 * Opens a bead event's content as `signer`'s member.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { openBead, sealBead } from "./bead_seal.ts";
 * import { localNodeSigner } from "../../identity/local_node_signer.ts";
 * import { generateSecretKey } from "nostr-tools/pure";
 *
 * const author = localNodeSigner(generateSecretKey());
 * const member = localNodeSigner(generateSecretKey());
 * const state = { f: { title: { v: "t", c: 1, a: author.pubkey } }, l: {}, d: {}, m: {} };
 * const content = await sealBead(state, [member.pubkey], author);
 * assert.deepEqual(await openBead({ pubkey: author.pubkey, content }, member), state);
 * ```
 * @throws {BeadSealError} when it is not sealed to this member, or does not open.
 */
export async function openBead(
  event: Pick<NostrEvent, "pubkey" | "content">,
  signer: BeadSigner,
): Promise<BeadState> {
  let body: { v?: number; keys?: Record<string, string>; sealed?: string };
  try {
    body = JSON.parse(event.content);
  } catch {
    throw new BeadSealError("a bead's content is not JSON");
  }
  const wrapped = body.keys?.[signer.pubkey];
  if (body.v !== 1 || typeof body.sealed !== "string") {
    throw new BeadSealError(`a bead's content of version ${body.v} is not read here`);
  }
  if (wrapped === undefined) throw new BeadSealError("this bead is not sealed to this member");
  try {
    const key = hexToBytes(nip44.v2.decrypt(wrapped, await signer.conversationKey(event.pubkey)));
    const plain = await openBlob(fromBase64(body.sealed), new Uint8Array(key));
    const state = JSON.parse(new TextDecoder().decode(await squeezed(plain, "decompress")));
    for (const g of ["f", "l", "d", "m"]) {
      if (typeof state?.[g] !== "object" || state[g] === null) throw new Error(`no ${g}`);
    }
    return state as BeadState;
  } catch (err) {
    throw new BeadSealError(`a bead's content does not open: ${(err as Error).message}`);
  }
}
