/**
 * Signs Nostr events with libsecp256k1 compiled to WebAssembly (nostr-wasm's module), calling the
 * library directly with the key pair derived once per key: nostr-wasm's own `finalizeEvent`
 * derives it again at every signature (`secp256k1_keypair_create`, a multiplication of the base
 * point as costly as the signature's own), so this halves a signature's cost where FFI is not
 * allowed: the key's worker (identity/node_signer_worker.ts), which has no permissions. Figures:
 * docs/SCALE.md "Signing natively".
 *
 * The module's exports are captured as it loads (protocol/nostr_wasm_instance.ts) and trusted
 * only after a known-answer self-test: BIP-340's test vector 1, signed with its own auxiliary
 * randomness, must give the vector's public key and signature byte for byte. Otherwise nostr-wasm's
 * own `finalizeEvent` signs, as before. The key pair stays in the module's memory between
 * signatures (nostr-wasm overwrites it after each): that memory is this thread's, the thread that
 * holds the key's bytes anyway.
 *
 * @module
 */
import { sha256 } from "@noble/hashes/sha2.js";
import { bytesToHex } from "@noble/hashes/utils.js";
import {
  loadNostrWasmInstance,
  type NostrWasmApi,
  type Secp256k1Exports,
  WASM_CONTEXT_FLAGS,
} from "../protocol/nostr_wasm_instance.ts";
import type { EventTemplate, NostrEvent } from "../protocol/nostr_event.ts";
import { signsBip340Vector1 } from "../protocol/bip340_test_vector.ts";
import { EventSigningError } from "./event_signing_error.ts";
import { KeptKeyPairs } from "./kept_key_pairs.ts";

/** secp256k1_keypair, as the library lays it out. */
const KEYPAIR_BYTES = 96;
/** secp256k1_xonly_pubkey. */
const XONLY_BYTES = 64;
/** Key pairs kept; past that the cache starts over (a key costs one derivation to re-enter). */
const MAX_CACHED_KEYS = 64;

/** An engine that signs event templates (see {@linkcode loadWasmEventSigner}). */
export interface WasmEventSigner {
  /** `direct`: the library called with kept key pairs; `nostr-wasm`: its own API. */
  readonly mode: "direct" | "nostr-wasm";
  /** Sets `pubkey`, `id` and `sig`; returns a new event (the template is not changed). */
  sign(template: EventTemplate, secretKey: Uint8Array): NostrEvent;
}

/** A key's pair as kept: a copy of the bytes it came from, the pair, the x-only key. */
interface KeptPair {
  secret: Uint8Array;
  keypair: Uint8Array;
  pubkey: string;
}

const encoder = new TextEncoder();

/** Direct calls into the module's libsecp256k1; one per thread. */
class DirectWasmSigner implements WasmEventSigner {
  readonly mode = "direct";
  readonly #x: Secp256k1Exports;
  readonly #context: number;
  readonly #secret: number;
  readonly #keypair: number;
  readonly #xonly: number;
  readonly #out32: number;
  readonly #msg: number;
  readonly #aux: number;
  readonly #sig: number;
  #pairs = new KeptKeyPairs<KeptPair>(MAX_CACHED_KEYS);
  /** The pair whose bytes are at `#keypair` now. */
  #current: KeptPair | undefined;

  constructor(x: Secp256k1Exports) {
    this.#x = x;
    this.#context = x.o(WASM_CONTEXT_FLAGS);
    this.#secret = x.i(32);
    this.#keypair = x.i(KEYPAIR_BYTES);
    this.#xonly = x.i(XONLY_BYTES);
    this.#out32 = x.i(32);
    this.#msg = x.i(32);
    this.#aux = x.i(32);
    this.#sig = x.i(64);
    const made = [this.#secret, this.#keypair, this.#xonly, this.#out32, this.#msg, this.#aux];
    if (!this.#context || !this.#sig || !made.every(Boolean)) {
      throw new EventSigningError("libsecp256k1 allocation failed");
    }
  }

  sign(template: EventTemplate, secretKey: Uint8Array): NostrEvent {
    const { kind, created_at, tags, content } = template;
    const pair = this.pairOf(secretKey);
    const pubkey = pair.pubkey;
    const id = sha256(encoder.encode(JSON.stringify([0, pubkey, created_at, kind, tags, content])));
    const sig = this.signHash(id, pair, crypto.getRandomValues(new Uint8Array(32)));
    return { kind, created_at, tags, content, id: bytesToHex(id), pubkey, sig };
  }

  /** BIP-340's signature of a 32-byte hash with `aux` as its auxiliary randomness, as hex. */
  signHash(hash: Uint8Array, pair: KeptPair, aux: Uint8Array): string {
    const heap = new Uint8Array(this.#x.g.buffer);
    if (this.#current !== pair) {
      heap.set(pair.keypair, this.#keypair);
      this.#current = pair;
    }
    heap.set(hash, this.#msg);
    heap.set(aux, this.#aux);
    if (this.#x.t(this.#context, this.#sig, this.#msg, this.#keypair, this.#aux) !== 1) {
      throw new EventSigningError("schnorrsig_sign32 failed");
    }
    return bytesToHex(heap.slice(this.#sig, this.#sig + 64));
  }

  /** The kept pair of `secretKey`, derived now when it is not kept (or its bytes changed). */
  pairOf(secretKey: Uint8Array): KeptPair {
    const kept = this.#pairs.get(secretKey);
    if (kept !== undefined) return kept;
    if (secretKey.byteLength !== 32) throw new EventSigningError("a secret key is 32 bytes");
    const heap = new Uint8Array(this.#x.g.buffer);
    heap.set(secretKey, this.#secret);
    const made = this.#x.r(this.#context, this.#keypair, this.#secret);
    heap.fill(0, this.#secret, this.#secret + 32);
    this.#current = undefined;
    if (made !== 1) throw new EventSigningError("the secret key is not a valid secp256k1 key");
    if (
      this.#x.s(this.#context, this.#xonly, 0, this.#keypair) !== 1 ||
      this.#x.q(this.#context, this.#out32, this.#xonly) !== 1
    ) throw new EventSigningError("the key pair's public key could not be read");
    const pair: KeptPair = {
      secret: secretKey.slice(),
      keypair: heap.slice(this.#keypair, this.#keypair + KEYPAIR_BYTES),
      pubkey: bytesToHex(heap.slice(this.#out32, this.#out32 + 32)),
    };
    this.#current = pair;
    this.#pairs.keep(secretKey, pair);
    return pair;
  }
}

/** nostr-wasm's own API, as before: the key pair derived at each signature. */
class ApiWasmSigner implements WasmEventSigner {
  readonly mode = "nostr-wasm";
  readonly #api: NostrWasmApi;

  constructor(api: NostrWasmApi) {
    this.#api = api;
  }

  sign(template: EventTemplate, secretKey: Uint8Array): NostrEvent {
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
    this.#api.finalizeEvent(event, secretKey);
    return event;
  }
}

/**
 * Loads nostr-wasm and returns its signer: direct calls with kept key pairs when the module's
 * exports were captured and pass the self-test, else nostr-wasm's own API; null when nostr-wasm
 * cannot load here.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { generateSecretKey, getPublicKey, verifyEvent } from "nostr-tools";
 * import { loadWasmEventSigner } from "./wasm_event_signer.ts";
 *
 * const signer = await loadWasmEventSigner();
 * if (signer) {
 *   const secretKey = generateSecretKey();
 *   const event = signer.sign({ kind: 1, created_at: 1, tags: [], content: "hi" }, secretKey);
 *   assert.equal(event.pubkey, getPublicKey(secretKey));
 *   assert.ok(verifyEvent(event));
 * }
 * ```
 */
export async function loadWasmEventSigner(): Promise<WasmEventSigner | null> {
  const loaded = await loadNostrWasmInstance();
  if (loaded === null) return null;
  if (loaded.exports) {
    try {
      const direct = new DirectWasmSigner(loaded.exports);
      if (signsBip340Vector1(direct)) return direct;
    } catch {
      // nostr-wasm's own API below
    }
  }
  return new ApiWasmSigner(loaded.api);
}
