/**
 * BIP-340 schnorr verification by the system's libsecp256k1 (Debian's `libsecp256k1-1`, 0.2 or
 * later), called through Deno's FFI: about 50 us a verification on this machine, against about
 * 300 us for the same library compiled to WebAssembly (docs/SCALE.md "Paid writes per town").
 * A town verifies every paid write, so this is the largest single cost of one.
 *
 * Two ways to call it: {@linkcode SchnorrVerifier.verify} on the calling thread, and
 * {@linkcode SchnorrVerifier.verifyOffThread}, the same function declared `nonblocking` (Deno runs
 * it on its blocking thread pool and resolves a Promise): the caller's thread spends 10-15 us
 * instead of about 40, the process 22-24 us more in all (bench/schnorr_off_thread_bench_script.ts), and a lone call waits longer (a
 * thread hand-off each way). The town uses it while other writes are under way
 * (docs/SCALE.md "Paid writes per town"). Verifying through a shared context is safe from many
 * threads (libsecp256k1 only reads it).
 *
 * Loaded only when the process may use FFI (`--allow-ffi`, or `-A` as the CLI runs) and the
 * library is found under one of its usual names with the 0.2 API (`secp256k1_schnorrsig_verify`
 * taking a message length: the library must also export `secp256k1_schnorrsig_sign_custom`, added
 * with it), and only after a known-answer self-test passes: BIP-340's test vector 1 verifies, the
 * same with one bit flipped does not. Otherwise {@linkcode loadNativeSchnorr} returns null and the
 * caller keeps its other verifiers (protocol/event_verifier.ts). The vector is fixed, not signed
 * here: signing it with @noble/curves cost the town's main thread noble's code and its precomputed
 * tables for one check (docs/SCALE.md "An idle town's memory").
 *
 * @module
 */
import { hexToBytes } from "@noble/hashes/utils.js";
import { openNativeSecp256k1, SECP256K1_CONTEXT_FLAGS } from "./native_secp256k1.ts";
import { BIP340_VECTOR_1 } from "./bip340_test_vector.ts";

/** secp256k1_xonly_pubkey, the parsed form of a 32-byte x-only key. */
const PARSED_KEY_BYTES = 64;
/** Parsed keys kept; past that the cache starts over (a key costs one parse to re-enter). */
const MAX_CACHED_KEYS = 1024;

const SYMBOLS = {
  secp256k1_context_create: { parameters: ["u32"], result: "pointer" },
  secp256k1_xonly_pubkey_parse: { parameters: ["pointer", "buffer", "buffer"], result: "i32" },
  secp256k1_schnorrsig_verify: {
    parameters: ["pointer", "buffer", "buffer", "usize", "buffer"],
    result: "i32",
  },
  // The same function run on Deno's blocking thread pool (a Promise of its result).
  schnorrsig_verify_nonblocking: {
    name: "secp256k1_schnorrsig_verify",
    parameters: ["pointer", "buffer", "buffer", "usize", "buffer"],
    result: "i32",
    nonblocking: true,
  },
  // Not called: its presence says the library has the 0.2 API (a message length in verify).
  secp256k1_schnorrsig_sign_custom: {
    parameters: ["pointer", "buffer", "buffer", "usize", "buffer", "pointer"],
    result: "i32",
  },
} as const;

type Library = Deno.DynamicLibrary<typeof SYMBOLS>;

/** A schnorr verifier: `sig` (64 bytes) over `msg` (32 bytes) by the x-only key `pubkeyHex`. */
export interface SchnorrVerifier {
  verify(sig: Uint8Array, msg: Uint8Array, pubkeyHex: string): boolean;
  /**
   * The same answer off the calling thread, where the verifier has a way to (the native one);
   * absent otherwise.
   */
  verifyOffThread?(sig: Uint8Array, msg: Uint8Array, pubkeyHex: string): Promise<boolean>;
}

/** libsecp256k1 through FFI, parsed keys cached (a town's writers are few keys, many events). */
class NativeSchnorr implements SchnorrVerifier {
  readonly #lib: Library;
  readonly #context: Deno.PointerValue;
  readonly #keys = new Map<string, Uint8Array>();
  #offThreadTested: Promise<boolean> | undefined;

  constructor(lib: Library) {
    this.#lib = lib;
    this.#context = lib.symbols.secp256k1_context_create(SECP256K1_CONTEXT_FLAGS);
    if (this.#context === null) throw new Error("secp256k1_context_create failed");
  }

  /** The parsed key (cached), or undefined when `pubkeyHex` is not a valid x-only key. */
  #parsedKey(pubkeyHex: string): Uint8Array | undefined {
    let parsed = this.#keys.get(pubkeyHex);
    if (parsed === undefined) {
      const pubkey = hexToBytes(pubkeyHex);
      if (pubkey.byteLength !== 32) return undefined;
      parsed = new Uint8Array(PARSED_KEY_BYTES);
      if (this.#lib.symbols.secp256k1_xonly_pubkey_parse(this.#context, parsed, pubkey) !== 1) {
        return undefined;
      }
      if (this.#keys.size >= MAX_CACHED_KEYS) this.#keys.clear();
      this.#keys.set(pubkeyHex, parsed);
    }
    return parsed;
  }

  verify(sig: Uint8Array, msg: Uint8Array, pubkeyHex: string): boolean {
    if (sig.byteLength !== 64 || msg.byteLength !== 32) return false;
    const parsed = this.#parsedKey(pubkeyHex);
    if (parsed === undefined) return false;
    return this.#lib.symbols.secp256k1_schnorrsig_verify(this.#context, sig, msg, 32n, parsed) ===
      1;
  }

  async verifyOffThread(sig: Uint8Array, msg: Uint8Array, pubkeyHex: string): Promise<boolean> {
    // The nonblocking binding gives the known answers too before it is trusted; otherwise this
    // thread verifies.
    this.#offThreadTested ??= this.#testOffThread();
    if (!await this.#offThreadTested) return this.verify(sig, msg, pubkeyHex);
    return await this.#verifyNonblocking(sig, msg, pubkeyHex);
  }

  async #testOffThread(): Promise<boolean> {
    const { sig, flipped, msg, pubkeyHex } = selfTestVector();
    try {
      return await this.#verifyNonblocking(sig, msg, pubkeyHex) &&
        !await this.#verifyNonblocking(flipped, msg, pubkeyHex);
    } catch {
      return false;
    }
  }

  async #verifyNonblocking(sig: Uint8Array, msg: Uint8Array, pubkeyHex: string) {
    if (sig.byteLength !== 64 || msg.byteLength !== 32) return false;
    const parsed = this.#parsedKey(pubkeyHex);
    if (parsed === undefined) return false;
    // The pool thread reads the three buffers until the call returns: they are held here (the
    // key's cache may drop `parsed` meanwhile) and are never written once made.
    const held = [sig, msg, parsed];
    const result = await this.#lib.symbols.schnorrsig_verify_nonblocking(
      this.#context,
      sig,
      msg,
      32n,
      parsed,
    );
    return held.length === 3 && result === 1;
  }
}

/** The known answer, and the same signature with one bit flipped. */
function selfTestVector() {
  const msg = hexToBytes(BIP340_VECTOR_1.msg);
  const sig = hexToBytes(BIP340_VECTOR_1.sig);
  const flipped = sig.slice();
  flipped[63] ^= 1;
  return { sig, flipped, msg, pubkeyHex: BIP340_VECTOR_1.pubkey };
}

/** The signature must verify, the flipped one not. */
function selfTest(verifier: SchnorrVerifier): boolean {
  const { sig, flipped, msg, pubkeyHex } = selfTestVector();
  return verifier.verify(sig, msg, pubkeyHex) && !verifier.verify(flipped, msg, pubkeyHex);
}

let loaded: SchnorrVerifier | null | undefined;

/**
 * The system's libsecp256k1 as a verifier, or null when it cannot be used here (no FFI
 * permission, no library, an older API, a failed self-test). Tried once per thread.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { schnorr } from "@noble/curves/secp256k1.js";
 * import { bytesToHex } from "@noble/hashes/utils.js";
 *
 * const native = loadNativeSchnorr();
 * if (native) {
 *   const secretKey = schnorr.utils.randomSecretKey();
 *   const msg = new Uint8Array(32).fill(7);
 *   const pubkeyHex = bytesToHex(schnorr.getPublicKey(secretKey));
 *   assert.ok(native.verify(schnorr.sign(msg, secretKey), msg, pubkeyHex));
 * }
 * ```
 */
export function loadNativeSchnorr(): SchnorrVerifier | null {
  if (loaded !== undefined) return loaded;
  loaded = null;
  const lib = openNativeSecp256k1(SYMBOLS);
  if (lib === undefined) return loaded;
  try {
    const native = new NativeSchnorr(lib);
    if (selfTest(native)) loaded = native;
    else lib.close();
  } catch {
    lib.close();
  }
  return loaded;
}
