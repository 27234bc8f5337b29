/**
 * nostr-wasm (libsecp256k1 compiled to WebAssembly) loaded with its module's exports in hand.
 * nostr-wasm keeps them private, so the instance it creates is captured while it loads (once per
 * load: the bytes are embedded in the package, no file or network access). Its verifier
 * (protocol/event_verifier.ts) and its signer (identity/event_signer.ts) call libsecp256k1
 * directly through them, each after a known-answer self-test; when the capture finds nothing, they
 * use nostr-wasm's own API as is.
 *
 * @module
 */
import type { NostrEvent } from "./nostr_event.ts";

/** nostr-wasm's own API (the part used here). */
export interface NostrWasmApi {
  verifyEvent(event: NostrEvent): void;
  /** Sets `pubkey`, `id` and `sig` on the event. */
  finalizeEvent(event: Partial<NostrEvent>, secretKey: Uint8Array): void;
}

/**
 * The libsecp256k1 exports of nostr-wasm's module, under the names its loader maps them from
 * (nostr-wasm's `map_wasm_exports`).
 */
export interface Secp256k1Exports {
  /** memory */
  g: WebAssembly.Memory;
  /** malloc(size) -> pointer */
  i(size: number): number;
  /** context_create(flags) -> context */
  o(flags: number): number;
  /** xonly_pubkey_parse(context, out64, in32) -> 1 on success */
  p(context: number, out: number, input: number): number;
  /** xonly_pubkey_serialize(context, out32, xonly64) -> 1 */
  q(context: number, out: number, xonly: number): number;
  /** keypair_create(context, keypair96, seckey32) -> 1 when the key is valid */
  r(context: number, keypair: number, secretKey: number): number;
  /** keypair_xonly_pub(context, xonly64, parity pointer or 0, keypair96) -> 1 */
  s(context: number, xonly: number, parity: number, keypair: number): number;
  /** schnorrsig_sign32(context, sig64, msg32, keypair96, aux32) -> 1 */
  t(context: number, sig: number, msg: number, keypair: number, aux: number): number;
  /** schnorrsig_verify(context, sig64, msg, msgLength, xonlyPubkey) -> 1 when valid */
  u(context: number, sig: number, msg: number, msgLength: number, pubkey: number): number;
}

/** nostr-wasm loaded: its API, and its module's exports when they could be captured. */
export interface NostrWasmInstance {
  api: NostrWasmApi;
  exports: Secp256k1Exports | undefined;
}

/** SECP256K1_CONTEXT_VERIFY | SECP256K1_CONTEXT_SIGN, as nostr-wasm creates its own. */
export const WASM_CONTEXT_FLAGS = 257 | 513;

function isSecp256k1Exports(x: WebAssembly.Exports): boolean {
  return x.g instanceof WebAssembly.Memory &&
    ["i", "o", "p", "q", "r", "s", "t", "u"].every((name) => typeof x[name] === "function");
}

/**
 * Loads a new nostr-wasm instance and captures its module's exports; null when nostr-wasm cannot
 * load here.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { loadNostrWasmInstance } from "./nostr_wasm_instance.ts";
 *
 * const loaded = await loadNostrWasmInstance();
 * assert.ok(loaded === null || typeof loaded.api.verifyEvent === "function");
 * ```
 */
export async function loadNostrWasmInstance(): Promise<NostrWasmInstance | null> {
  const original = WebAssembly.instantiate;
  let instance: WebAssembly.Instance | undefined;
  const capture = async (...args: Parameters<typeof original>) => {
    const result = await (original as (...a: unknown[]) => Promise<unknown>)(...args);
    const source = result as WebAssembly.WebAssemblyInstantiatedSource;
    // Only libsecp256k1's (another module instantiated meanwhile is left alone).
    if (
      source && source.instance instanceof WebAssembly.Instance &&
      isSecp256k1Exports(source.instance.exports)
    ) instance = source.instance;
    return result;
  };
  let api: NostrWasmApi;
  try {
    // The module (its WebAssembly embedded as text) is imported with the load, not at start.
    const { initNostrWasm } = await import("nostr-wasm");
    WebAssembly.instantiate = capture as typeof original;
    api = await initNostrWasm() as unknown as NostrWasmApi;
  } catch {
    return null;
  } finally {
    WebAssembly.instantiate = original;
  }
  const exports = instance && isSecp256k1Exports(instance.exports)
    ? instance.exports as unknown as Secp256k1Exports
    : undefined;
  return { api, exports };
}
