/**
 * The key pairs an event signer keeps (identity/native_event_signer.ts,
 * identity/wasm_event_signer.ts): found by the caller's key object, and used only while that
 * object still holds the bytes the pair was derived from (a caller may reuse its buffer for
 * another key). At most `max` kept; past that the cache starts over (a key costs one derivation
 * to re-enter).
 *
 * @module
 */

/** A kept pair: at least a copy of the secret key's bytes it was derived from. */
export interface KeptPair {
  secret: Uint8Array;
}

/**
 * Key pairs by the caller's key object, checked against its bytes at each use.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { KeptKeyPairs } from "./kept_key_pairs.ts";
 *
 * const pairs = new KeptKeyPairs<{ secret: Uint8Array; n: number }>(8);
 * const key = new Uint8Array(32).fill(1);
 * pairs.keep(key, { secret: key.slice(), n: 1 });
 * assert.equal(pairs.get(key)?.n, 1);
 * key[0] = 2; // the same object, other bytes: not that pair any more
 * assert.equal(pairs.get(key), undefined);
 * ```
 */
export class KeptKeyPairs<P extends KeptPair> {
  readonly #max: number;
  #pairs = new WeakMap<Uint8Array, P>();
  #count = 0;

  constructor(max: number) {
    this.#max = max;
  }

  /** The pair kept for `secretKey`, if its bytes are still the ones it was derived from. */
  get(secretKey: Uint8Array): P | undefined {
    const kept = this.#pairs.get(secretKey);
    return kept !== undefined && sameBytes(kept.secret, secretKey) ? kept : undefined;
  }

  /** Keeps `pair` for `secretKey`. */
  keep(secretKey: Uint8Array, pair: P): void {
    if (++this.#count > this.#max) (this.#pairs = new WeakMap(), this.#count = 1);
    this.#pairs.set(secretKey, pair);
  }
}

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.byteLength !== b.byteLength) return false;
  for (let i = 0; i < a.byteLength; i++) if (a[i] !== b[i]) return false;
  return true;
}
