/**
 * Signs Nostr events for the job path (provider feedback and results, requester requests) with
 * libsecp256k1 compiled to WebAssembly (`nostr-wasm`, the engine `stages/signer.ts` also uses).
 *
 * Why not `finalizeEvent` from nostr-tools: its pure-JS Schnorr signer measured 1.7-2.9 ms per
 * event here against 0.7-1.0 ms for nostr-wasm, and a paid job signs 5 events on its critical
 * path. The output is the same BIP-340 event (any verifier accepts it). When the WebAssembly
 * module cannot load, @noble/curves signs instead (what nostr-tools' `finalizeEvent` does):
 * slower, equally correct. Not nostr-tools itself: it brings its own copy of @noble/curves, and
 * the key's worker (identity/node_signer_worker.ts) would then hold two (docs/OPERATIONS.md
 * "Memory").
 *
 * @module
 */
import { schnorr } from "@noble/curves/secp256k1.js";
import { sha256 } from "@noble/hashes/sha2.js";
import { bytesToHex } from "@noble/hashes/utils.js";
import { initNostrWasm } from "nostr-wasm";
import type { EventTemplate, NostrEvent } from "../protocol/nostr_event.ts";

let wasm: Awaited<ReturnType<typeof initNostrWasm>> | null = null;
try {
  wasm = await initNostrWasm();
} catch {
  wasm = null; // @noble/curves below
}

/** Which engine {@linkcode signEventTemplate} uses in this process. */
export const eventSignerEngine: "nostr-wasm" | "noble" = wasm ? "nostr-wasm" : "noble";

/**
 * Signs a template: sets `pubkey`, `id` and `sig`; returns a new event (the template is not
 * changed).
 *
 * @example
 * ```ts
 * import { generateSecretKey } from "nostr-tools";
 *
 * const secretKey = generateSecretKey();
 * const event = signEventTemplate({ kind: 1, created_at: 1, tags: [], content: "hi" }, secretKey);
 * ```
 */
export function signEventTemplate(template: EventTemplate, secretKey: Uint8Array): NostrEvent {
  if (wasm === null) return signWithNoble(template, secretKey);
  const event: NostrEvent = {
    kind: template.kind,
    created_at: template.created_at,
    tags: template.tags,
    content: template.content,
    id: "",
    pubkey: "",
    sig: "",
  };
  // nostr-wasm fills pubkey, id and sig in place.
  wasm.finalizeEvent(event, secretKey);
  return event;
}

/** BIP-340 with @noble/curves: the id is the SHA-256 of NIP-01's serialisation, signed. */
function signWithNoble(template: EventTemplate, secretKey: Uint8Array): NostrEvent {
  const pubkey = bytesToHex(schnorr.getPublicKey(secretKey));
  const { kind, created_at, tags, content } = template;
  const id = sha256(new TextEncoder().encode(
    JSON.stringify([0, pubkey, created_at, kind, tags, content]),
  ));
  const sig = bytesToHex(schnorr.sign(id, secretKey));
  return { kind, created_at, tags, content, id: bytesToHex(id), pubkey, sig };
}
