/**
 * Event id recomputation (NIP-01 serialization, SHA-256) and BIP-340 schnorr signature checks.
 *
 * The town verifies every paid write, so the fast path matters. Four backends, fastest first
 * (bench/event_verifier_bench.ts runs them side by side):
 *
 * - `libsecp256k1-native`: the system's libsecp256k1 through FFI (protocol/native_schnorr.ts),
 *   about 6x faster than the WebAssembly below; tried at the first verification of a thread that
 *   may use FFI (a worker without the permission keeps the others). When it is in use the
 *   WebAssembly is not loaded at all unless {@linkcode loadEventVerifier} is called.
 * - `libsecp256k1`: libsecp256k1's `schnorrsig_verify` called directly in the WebAssembly module
 *   `nostr-wasm` ships, with parsed public keys cached (a town's writers are few keys writing
 *   many events; parsing one is a square root) and the id hashed once, without nostr-wasm's
 *   per-call hex decoding (a closure per byte), second id decoding and allocation.
 * - `nostr-wasm`: the same module through its own `verifyEvent` (what `nostr-tools/wasm` wraps).
 * - `noble`: pure JS, about 2x slower than either; used when the WebAssembly cannot load.
 *
 * nostr-wasm keeps the module's exports private, so the instance it creates is captured while
 * it loads (protocol/nostr_wasm_instance.ts) and checked by a known-answer self-test before it is
 * trusted; if anything about it differs, `nostr-wasm` is
 * used as is. The WebAssembly is loaded after the first few verifications, not on import
 * (`NOBLE_VERIFICATIONS`; `loadEventVerifier` loads it at once): until then `noble` verifies.
 *
 * @module
 */
import { schnorr } from "@noble/curves/secp256k1.js";
import { sha256 } from "@noble/hashes/sha2.js";
import { bytesToHex, hexToBytes } from "@noble/hashes/utils.js";
import type { NostrEvent } from "./nostr_event.ts";
import { EventValidationError } from "./event_validation_error.ts";
import { loadNativeSchnorr, type SchnorrVerifier } from "./native_schnorr.ts";
import {
  loadNostrWasmInstance,
  type NostrWasmApi,
  type Secp256k1Exports,
  WASM_CONTEXT_FLAGS,
} from "./nostr_wasm_instance.ts";

export { EventValidationError } from "./event_validation_error.ts";

/** Which signature verifier is in use. */
export type VerifierBackend = "libsecp256k1-native" | "libsecp256k1" | "nostr-wasm" | "noble";

/** secp256k1_xonly_pubkey, the parsed form of a 32-byte x-only key. */
const PARSED_KEY_BYTES = 64;
/** Parsed keys kept; past that the cache starts over (a key costs one parse to re-enter). */
const MAX_CACHED_KEYS = 1024;

/** Direct calls into libsecp256k1; one per thread (a worker loads its own module). */
class DirectSchnorr implements SchnorrVerifier {
  readonly #x: Secp256k1Exports;
  readonly #context: number;
  readonly #sig: number;
  readonly #msg: number;
  readonly #pubkey: number;
  readonly #parsed: number;
  readonly #keys = new Map<string, Uint8Array>();
  #heap: Uint8Array;

  constructor(x: Secp256k1Exports) {
    this.#x = x;
    this.#context = x.o(WASM_CONTEXT_FLAGS);
    this.#sig = x.i(64);
    this.#msg = x.i(32);
    this.#pubkey = x.i(32);
    this.#parsed = x.i(PARSED_KEY_BYTES);
    this.#heap = new Uint8Array(x.g.buffer);
    if (!this.#context || !this.#sig || !this.#msg || !this.#pubkey || !this.#parsed) {
      throw new Error("libsecp256k1 allocation failed");
    }
  }

  /** True when `sig` (64 bytes) signs `msg` (32 bytes) for the x-only key `pubkeyHex`. */
  verify(sig: Uint8Array, msg: Uint8Array, pubkeyHex: string): boolean {
    // A grown memory detaches the old view (nostr-wasm's build cannot grow, but be exact).
    if (this.#heap.byteLength === 0) this.#heap = new Uint8Array(this.#x.g.buffer);
    const heap = this.#heap;
    const cached = this.#keys.get(pubkeyHex);
    if (cached) heap.set(cached, this.#parsed);
    else {
      const pubkey = hexToBytes(pubkeyHex);
      if (pubkey.byteLength !== 32) return false;
      heap.set(pubkey, this.#pubkey);
      if (this.#x.p(this.#context, this.#parsed, this.#pubkey) !== 1) return false;
      if (this.#keys.size >= MAX_CACHED_KEYS) this.#keys.clear();
      this.#keys.set(pubkeyHex, heap.slice(this.#parsed, this.#parsed + PARSED_KEY_BYTES));
    }
    heap.set(sig, this.#sig);
    heap.set(msg, this.#msg);
    return this.#x.u(this.#context, this.#sig, this.#msg, 32, this.#parsed) === 1;
  }
}

interface Loaded {
  api: NostrWasmApi;
  direct: DirectSchnorr | null;
}

async function loadWasm(): Promise<Loaded | null> {
  const loaded = await loadNostrWasmInstance();
  if (loaded === null) return null; // the noble verifier is used
  const { api, exports } = loaded;
  let direct: DirectSchnorr | null = null;
  try {
    if (exports) {
      direct = new DirectSchnorr(exports);
      if (!selfTest(api, direct)) direct = null;
    }
  } catch {
    direct = null;
  }
  return { api, direct };
}

/** A signature nostr-wasm made must verify directly, and the same with one bit flipped not. */
function selfTest(api: NostrWasmApi, direct: DirectSchnorr): boolean {
  const secretKey = sha256(new TextEncoder().encode("turnpike event verifier self-test"));
  const event: Partial<NostrEvent> = { kind: 1, created_at: 1, tags: [], content: "self-test" };
  api.finalizeEvent(event, secretKey);
  const signed = event as NostrEvent;
  const sig = hexToBytes(signed.sig);
  const msg = hexToBytes(signed.id);
  if (!direct.verify(sig, msg, signed.pubkey)) return false;
  sig[63] ^= 1;
  return !direct.verify(sig, msg, signed.pubkey);
}

/**
 * Events verified with @noble/curves before the WebAssembly is loaded. An idle town verifies a few
 * events (an AUTH, a lone write now and then), which @noble/curves does without a WebAssembly
 * instance on its main thread; one that keeps verifying starts the load at the next event and uses
 * it once loaded (docs/OPERATIONS.md "Memory"). The verifier workers load it before they serve.
 */
const NOBLE_VERIFICATIONS = 8;

/** undefined: not loaded (yet); null: it could not load, @noble/curves verifies. */
let loaded: Loaded | null | undefined;
let loading: Promise<void> | undefined;
let verifiedWithNoble = 0;

/**
 * Loads (and self-tests) the WebAssembly now rather than after the first verifications. Resolves
 * once it is in use, or known not to load.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 *
 * await loadEventVerifier();
 * assert.notEqual(verifierBackend(), "noble");
 * ```
 */
export function loadEventVerifier(): Promise<void> {
  loading ??= loadWasm().then((result) => {
    loaded = result;
  });
  return loading;
}

/**
 * The verifier backend this thread uses now: `libsecp256k1-native` when the system's library
 * can be used here, else `noble` until the WebAssembly has loaded.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 *
 * assert.ok(["libsecp256k1-native", "libsecp256k1", "nostr-wasm", "noble"].includes(verifierBackend()));
 * ```
 */
export function verifierBackend(): VerifierBackend {
  if (loadNativeSchnorr()) return "libsecp256k1-native";
  return loaded?.direct ? "libsecp256k1" : loaded ? "nostr-wasm" : "noble";
}

const encoder = new TextEncoder();

function eventIdBytes(event: Omit<NostrEvent, "id" | "sig">): Uint8Array {
  const serialized = JSON.stringify([
    0,
    event.pubkey,
    event.created_at,
    event.kind,
    event.tags,
    event.content,
  ]);
  return sha256(encoder.encode(serialized));
}

/**
 * The NIP-01 id of an event: sha256 of `[0, pubkey, created_at, kind, tags, content]` as JSON.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { finalizeEvent, generateSecretKey } from "nostr-tools/pure";
 *
 * const event = finalizeEvent({ kind: 1, created_at: 1700000000, tags: [], content: "hi" }, generateSecretKey());
 * assert.equal(computeEventId(event), event.id);
 * ```
 */
export function computeEventId(event: Omit<NostrEvent, "id" | "sig">): string {
  return bytesToHex(eventIdBytes(event));
}

/** Options for {@linkcode verifyEvent}. */
export interface VerifyEventOptions {
  /**
   * Force a backend (tests and benchmarks; a WebAssembly one after {@linkcode loadEventVerifier});
   * default: the fastest one that has loaded.
   */
  backend?: VerifierBackend;
}

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.byteLength !== b.byteLength) return false;
  let diff = 0;
  for (let i = 0; i < a.byteLength; i++) diff |= a[i] ^ b[i];
  return diff === 0;
}

function hexOrUndefined(hex: string): Uint8Array | undefined {
  try {
    return hexToBytes(hex);
  } catch {
    return undefined;
  }
}

/** The recomputed id (bad-id unless it is the claimed one) and the signature's bytes. */
function idAndSig(event: NostrEvent): { id: Uint8Array; sig: Uint8Array | undefined } {
  const id = eventIdBytes(event);
  const claimed = hexOrUndefined(event.id);
  if (!claimed || !sameBytes(id, claimed)) throw new EventValidationError("bad-id");
  const sig = hexOrUndefined(event.sig);
  return { id, sig: sig?.byteLength === 64 ? sig : undefined };
}

function verifyDirect(event: NostrEvent, direct: SchnorrVerifier): void {
  const { id, sig } = idAndSig(event);
  let ok = false;
  try {
    ok = sig !== undefined && direct.verify(sig, id, event.pubkey);
  } catch {
    ok = false; // a pubkey that is not 32 bytes of hex
  }
  if (!ok) throw new EventValidationError("bad-sig");
}

/**
 * {@linkcode verifyEvent}'s answer with the signature checked off this thread: by the system's
 * libsecp256k1 on Deno's blocking thread pool (protocol/native_schnorr.ts), the id's SHA-256
 * here. This thread spends about 20 us of the check instead of about 50, the process about 22 us
 * more in all (bench/schnorr_off_thread_bench_script.ts), and the answer comes a thread hand-off later: for a thread with other work
 * waiting (the town's paid writes under load). Without the native library, the same as
 * `verifyEvent`. Rejects with {@linkcode EventValidationError} (`bad-id`, `bad-sig`).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { finalizeEvent, generateSecretKey } from "nostr-tools/pure";
 *
 * const event = finalizeEvent({ kind: 1, created_at: 1700000000, tags: [], content: "hi" }, generateSecretKey());
 * await verifyEventOffThread(event); // resolves: id and sig are right
 * await assert.rejects(verifyEventOffThread({ ...event, content: "ho" }), EventValidationError);
 * ```
 */
export async function verifyEventOffThread(event: NostrEvent): Promise<void> {
  const native = loadNativeSchnorr();
  if (!native?.verifyOffThread) return verifyEvent(event);
  const { id, sig } = idAndSig(event);
  let ok = false;
  try {
    ok = sig !== undefined && await native.verifyOffThread(sig, id, event.pubkey);
  } catch {
    ok = false; // a pubkey that is not 32 bytes of hex
  }
  if (!ok) throw new EventValidationError("bad-sig");
}

/**
 * Checks the id and the signature of a well-shaped event; throws {@linkcode EventValidationError}
 * with reason `bad-id` or `bad-sig`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { finalizeEvent, generateSecretKey } from "nostr-tools/pure";
 *
 * const event = finalizeEvent({ kind: 1, created_at: 1700000000, tags: [], content: "hi" }, generateSecretKey());
 * verifyEvent(event); // returns: id and sig are right
 * assert.throws(() => verifyEvent({ ...event, content: "ho" }), EventValidationError);
 * ```
 */
export function verifyEvent(event: NostrEvent, options: VerifyEventOptions = {}): void {
  const native = loadNativeSchnorr();
  const backend = options.backend ?? verifierBackend();
  if (backend === "libsecp256k1-native" && native) return verifyDirect(event, native);
  if (!native && loaded === undefined && ++verifiedWithNoble > NOBLE_VERIFICATIONS) {
    void loadEventVerifier();
  }
  if (backend === "libsecp256k1" && loaded?.direct) return verifyDirect(event, loaded.direct);
  if (backend !== "noble" && loaded) {
    try {
      loaded.api.verifyEvent(event);
    } catch (err) {
      const message = err instanceof Error ? err.message : String(err);
      throw new EventValidationError(message.startsWith("id") ? "bad-id" : "bad-sig", message);
    }
    return;
  }
  if (computeEventId(event) !== event.id) throw new EventValidationError("bad-id");
  let ok = false;
  try {
    ok = schnorr.verify(hexToBytes(event.sig), hexToBytes(event.id), hexToBytes(event.pubkey));
  } catch {
    ok = false; // a pubkey that is not on the curve
  }
  if (!ok) throw new EventValidationError("bad-sig");
}
