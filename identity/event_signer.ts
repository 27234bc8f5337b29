/**
 * Signs Nostr events for the job path (provider feedback and results, requester requests): with
 * the system's libsecp256k1 through FFI where the process may use it
 * (identity/native_event_signer.ts), else with libsecp256k1 compiled to WebAssembly (nostr-wasm's
 * module called directly, identity/wasm_event_signer.ts), as in the key's worker, which has no
 * permissions. Both derive a key's key pair once and keep it, where nostr-wasm's own
 * `finalizeEvent` derives it at every signature.
 *
 * Why not `finalizeEvent` from nostr-tools: its pure-JS Schnorr signer measured 1.7-2.9 ms per
 * event here against 0.7-1.0 ms for nostr-wasm, and a paid job signs 5 events on its critical
 * path. The output is the same BIP-340 event (any verifier accepts it). Before nostr-wasm has
 * loaded (it loads after the first few signatures, see `NOBLE_SIGNATURES`) and when it cannot
 * load, @noble/curves signs instead (what nostr-tools' `finalizeEvent` does): slower, equally
 * correct. Not nostr-tools itself: it brings its own copy of @noble/curves, and the key's worker
 * (identity/node_signer_worker.ts) would then hold two (docs/OPERATIONS.md "Memory").
 *
 * @module
 */
import { schnorr } from "@noble/curves/secp256k1.js";
import { sha256 } from "@noble/hashes/sha2.js";
import { bytesToHex } from "@noble/hashes/utils.js";
import type { EventTemplate, NostrEvent } from "../protocol/nostr_event.ts";
import { loadNativeEventSigner } from "./native_event_signer.ts";
import { loadWasmEventSigner, type WasmEventSigner } from "./wasm_event_signer.ts";

/**
 * Signatures made with @noble/curves before nostr-wasm is loaded. An idle node signs a few events
 * (a town its kind 10032 at start and an SPSP answer now and then), which @noble/curves does
 * without a second WebAssembly instance in the key's worker; a node that keeps signing loads
 * nostr-wasm at its next signature and uses it once loaded (docs/OPERATIONS.md "Memory").
 */
const NOBLE_SIGNATURES = 8;

/** undefined: not loaded (yet); null: it could not load, @noble/curves signs. */
let wasm: WasmEventSigner | null | undefined;
let loading: Promise<void> | undefined;
let signedWithNoble = 0;

function loadWasm(): Promise<void> {
  // The module (its WebAssembly embedded as text) is imported with the load, not at start.
  loading ??= loadWasmEventSigner().then((loaded) => {
    wasm = loaded;
  }, () => {
    wasm = null; // @noble/curves below
  });
  return loading;
}

/**
 * Which engine {@linkcode signEventTemplate} uses now: `native` where the process may use FFI
 * and the system's libsecp256k1 passed its self-test; else `noble` until nostr-wasm has loaded.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 *
 * assert.ok(["native", "nostr-wasm", "noble"].includes(eventSignerEngine()));
 * ```
 */
export function eventSignerEngine(): "native" | "nostr-wasm" | "noble" {
  return loadNativeEventSigner() ? "native" : wasm ? "nostr-wasm" : "noble";
}

/**
 * Loads nostr-wasm now rather than after the first signatures (benches, and a node about to sign
 * on a job's path). Resolves once it is in use, or known not to load.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 *
 * await loadEventSigner();
 * assert.notEqual(eventSignerEngine(), "noble");
 * ```
 */
export function loadEventSigner(): Promise<void> {
  return loadWasm();
}

/** Options for {@linkcode signEventTemplate}. */
export interface EventSignerOptions {
  /**
   * The key's x-only public key (hex), when the caller holds it already (the signing worker
   * names its key once): @noble/curves then does not multiply the base point for it again at
   * each signature. It must be `secretKey`'s: the event would not verify otherwise.
   */
  pubkey?: string;
}

/**
 * Signs a template: sets `pubkey`, `id` and `sig`; returns a new event (the template is not
 * changed).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { generateSecretKey, getPublicKey } from "nostr-tools";
 *
 * const secretKey = generateSecretKey();
 * const event = signEventTemplate({ kind: 1, created_at: 1, tags: [], content: "hi" }, secretKey);
 * const pubkey = getPublicKey(secretKey);
 * assert.equal(event.pubkey, pubkey);
 * const again = signEventTemplate({ kind: 1, created_at: 2, tags: [], content: "hi" }, secretKey, {
 *   pubkey,
 * });
 * assert.equal(again.pubkey, pubkey);
 * ```
 */
export function signEventTemplate(
  template: EventTemplate,
  secretKey: Uint8Array,
  options: EventSignerOptions = {},
): NostrEvent {
  const native = loadNativeEventSigner();
  if (native) return native.sign(template, secretKey);
  if (!wasm) {
    if (wasm === undefined && ++signedWithNoble > NOBLE_SIGNATURES) void loadWasm();
    return signWithNoble(template, secretKey, options.pubkey);
  }
  return wasm.sign(template, secretKey);
}

/** BIP-340 with @noble/curves: the id is the SHA-256 of NIP-01's serialisation, signed. */
function signWithNoble(
  template: EventTemplate,
  secretKey: Uint8Array,
  known: string | undefined,
): NostrEvent {
  const pubkey = known ?? bytesToHex(schnorr.getPublicKey(secretKey));
  const { kind, created_at, tags, content } = template;
  const id = sha256(new TextEncoder().encode(
    JSON.stringify([0, pubkey, created_at, kind, tags, content]),
  ));
  const sig = bytesToHex(schnorr.sign(id, secretKey));
  return { kind, created_at, tags, content, id: bytesToHex(id), pubkey, sig };
}
