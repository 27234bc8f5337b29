/**
 * Signs Nostr events with the system's libsecp256k1 through Deno's FFI (the library
 * `protocol/native_secp256k1.ts` opens for the town's checks): about a tenth of nostr-wasm's cost
 * a signature here (`deno run -A bench/signer_boundary_bench_script.ts`, docs/SCALE.md "Signing
 * natively"). Two things make it cheaper: native code instead of WebAssembly, and the key pair
 * (`secp256k1_keypair`, the key's multiplication of the base point) derived once per key and kept,
 * where nostr-wasm derives it again at every signature, so each signature is one multiplication
 * instead of two.
 *
 * Written by hand because no library does this: nostr-wasm keeps its key pair inside a closure
 * and frees it after each call, and @noble/curves is JavaScript (several times slower again).
 *
 * Used only where the process may use FFI (`-A` as the CLI's node runs, the harness and benches);
 * the key's worker has no permissions and signs with nostr-wasm's module called directly
 * (identity/wasm_event_signer.ts), the engine identity/event_signer.ts picks there.
 * Trusted only after a known-answer self-test: BIP-340's test vector 1 signed with its own
 * auxiliary randomness must give the vector's public key and its signature byte for byte.
 *
 * @module
 */
import { createHash } from "node:crypto";
import { bytesToHex } from "@noble/hashes/utils.js";
import { openNativeSecp256k1, SECP256K1_CONTEXT_FLAGS } from "../protocol/native_secp256k1.ts";
import type { EventTemplate, NostrEvent } from "../protocol/nostr_event.ts";
import { signsBip340Vector1 } from "../protocol/bip340_test_vector.ts";
import { EventSigningError } from "./event_signing_error.ts";
import { KeptKeyPairs } from "./kept_key_pairs.ts";

/** secp256k1_keypair: the secret key and its public point, as the library lays them out. */
const KEYPAIR_BYTES = 96;
/** secp256k1_xonly_pubkey, the parsed form of an x-only key. */
const XONLY_BYTES = 64;
/** Key pairs kept; past that the cache starts over (a key costs one derivation to re-enter). */
const MAX_CACHED_KEYS = 256;

const SYMBOLS = {
  secp256k1_context_create: { parameters: ["u32"], result: "pointer" },
  secp256k1_keypair_create: { parameters: ["pointer", "buffer", "buffer"], result: "i32" },
  secp256k1_keypair_xonly_pub: {
    parameters: ["pointer", "buffer", "pointer", "buffer"],
    result: "i32",
  },
  secp256k1_xonly_pubkey_serialize: {
    parameters: ["pointer", "buffer", "buffer"],
    result: "i32",
  },
  secp256k1_schnorrsig_sign32: {
    parameters: ["pointer", "buffer", "buffer", "buffer", "buffer"],
    result: "i32",
  },
} as const;

type Library = Deno.DynamicLibrary<typeof SYMBOLS>;

/** A key's derived pair, kept with a copy of the bytes it was derived from. */
interface KeyPair {
  secret: Uint8Array;
  keypair: Uint8Array;
  pubkey: string;
}

/** Signs event templates with libsecp256k1 (see the module doc). */
export interface NativeEventSigner {
  /** Sets `pubkey`, `id` and `sig`; returns a new event (the template is not changed). */
  sign(template: EventTemplate, secretKey: Uint8Array): NostrEvent;
  /** The x-only public key (hex) of `secretKey`. */
  publicKey(secretKey: Uint8Array): string;
}

class NativeSigner implements NativeEventSigner {
  readonly #lib: Library;
  readonly #context: Deno.PointerValue;
  /** By the caller's key object; each use checks the bytes are still the ones derived from. */
  #pairs = new KeptKeyPairs<KeyPair>(MAX_CACHED_KEYS);
  readonly #sig = new Uint8Array(64);
  readonly #aux = new Uint8Array(32);

  constructor(lib: Library) {
    this.#lib = lib;
    this.#context = lib.symbols.secp256k1_context_create(SECP256K1_CONTEXT_FLAGS);
    if (this.#context === null) throw new EventSigningError("secp256k1_context_create failed");
  }

  publicKey(secretKey: Uint8Array): string {
    return this.pairOf(secretKey).pubkey;
  }

  sign(template: EventTemplate, secretKey: Uint8Array): NostrEvent {
    const { kind, created_at, tags, content } = template;
    const pair = this.pairOf(secretKey);
    const pubkey = pair.pubkey;
    const id = createHash("sha256")
      .update(JSON.stringify([0, pubkey, created_at, kind, tags, content]))
      .digest();
    crypto.getRandomValues(this.#aux);
    const sig = this.signHash(id, pair, this.#aux);
    return { kind, created_at, tags, content, id: id.toString("hex"), pubkey, sig };
  }

  /** BIP-340's signature of a 32-byte hash with `aux` as its auxiliary randomness, as hex. */
  signHash(hash: Uint8Array, pair: KeyPair, aux: Uint8Array): string {
    const ok = this.#lib.symbols.secp256k1_schnorrsig_sign32(
      this.#context,
      this.#sig,
      hash,
      pair.keypair,
      aux,
    );
    if (ok !== 1) throw new EventSigningError("secp256k1_schnorrsig_sign32 failed");
    return bytesToHex(this.#sig);
  }

  /** The key pair of `secretKey`: kept, or derived now (and kept). */
  pairOf(secretKey: Uint8Array): KeyPair {
    const kept = this.#pairs.get(secretKey);
    if (kept !== undefined) return kept;
    if (secretKey.byteLength !== 32) throw new EventSigningError("a secret key is 32 bytes");
    const s = this.#lib.symbols;
    const keypair = new Uint8Array(KEYPAIR_BYTES);
    if (s.secp256k1_keypair_create(this.#context, keypair, secretKey) !== 1) {
      throw new EventSigningError("the secret key is not a valid secp256k1 key");
    }
    const xonly = new Uint8Array(XONLY_BYTES);
    const out = new Uint8Array(32);
    if (
      s.secp256k1_keypair_xonly_pub(this.#context, xonly, null, keypair) !== 1 ||
      s.secp256k1_xonly_pubkey_serialize(this.#context, out, xonly) !== 1
    ) throw new EventSigningError("the key pair's public key could not be read");
    const pair = { secret: secretKey.slice(), keypair, pubkey: bytesToHex(out) };
    this.#pairs.keep(secretKey, pair);
    return pair;
  }
}

let loaded: NativeEventSigner | null | undefined;

/**
 * The system's libsecp256k1 as an event signer, or null when it cannot be used here (no FFI
 * permission, no library, a failed self-test). Tried once per thread.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { generateSecretKey, getPublicKey, verifyEvent } from "nostr-tools";
 *
 * const native = loadNativeEventSigner();
 * if (native) {
 *   const secretKey = generateSecretKey();
 *   const event = native.sign({ kind: 1, created_at: 1, tags: [], content: "hi" }, secretKey);
 *   assert.equal(event.pubkey, getPublicKey(secretKey));
 *   assert.ok(verifyEvent(event));
 * }
 * ```
 */
export function loadNativeEventSigner(): NativeEventSigner | null {
  if (loaded !== undefined) return loaded;
  loaded = null;
  const lib = openNativeSecp256k1(SYMBOLS);
  if (lib === undefined) return loaded;
  try {
    const native = new NativeSigner(lib);
    if (signsBip340Vector1(native)) loaded = native;
    else lib.close();
  } catch {
    lib.close();
  }
  return loaded;
}
