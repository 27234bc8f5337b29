/**
 * ECDSA public-key recovery by the system's libsecp256k1 through FFI
 * (protocol/native_secp256k1.ts): the receiving side's check of every claim
 * (chain/balance_proof_signer_key.ts `BalanceProofSignerKey`) at about a fifth of @noble/curves'
 * cost with precomputed tables (bench/claim_verify_bench.ts).
 *
 * Recovery, not `secp256k1_ecdsa_verify`: what a claim must satisfy is what the contract's
 * `ecrecover` returns, so v (R's parity) is bound as well as r and s. Trusted only after a
 * known-answer self-test: a key @noble/curves signed with is recovered, and a signature with one
 * bit flipped recovers another key or none.
 *
 * @module
 */
import { secp256k1 } from "@noble/curves/secp256k1.js";
import { sha256 } from "@noble/hashes/sha2.js";
import { equalBytes } from "@noble/curves/utils.js";
import { openNativeSecp256k1, SECP256K1_CONTEXT_FLAGS } from "../protocol/native_secp256k1.ts";

const SYMBOLS = {
  secp256k1_context_create: { parameters: ["u32"], result: "pointer" },
  secp256k1_ecdsa_recoverable_signature_parse_compact: {
    parameters: ["pointer", "buffer", "buffer", "i32"],
    result: "i32",
  },
  secp256k1_ecdsa_recover: {
    parameters: ["pointer", "buffer", "buffer", "buffer"],
    result: "i32",
  },
  secp256k1_ec_pubkey_serialize: {
    parameters: ["pointer", "buffer", "buffer", "buffer", "u32"],
    result: "i32",
  },
} as const;

/** SECP256K1_EC_UNCOMPRESSED. */
const UNCOMPRESSED = 2;

/** Recovers the signer's public key of a 32-byte digest. */
export interface EcdsaRecoverer {
  /**
   * The uncompressed SEC1 key (65 bytes) that signed `digest` with `rs` (r then s, 64 bytes)
   * and recovery id `recid` (0 or 1), or null when none does (r or s zero or past the order).
   */
  recover(rs: Uint8Array, recid: number, digest: Uint8Array): Uint8Array | null;
}

class NativeEcdsaRecover implements EcdsaRecoverer {
  readonly #lib: Deno.DynamicLibrary<typeof SYMBOLS>;
  readonly #context: Deno.PointerValue;
  // Scratch space, reused: one call at a time per thread.
  readonly #sig = new Uint8Array(65);
  readonly #pubkey = new Uint8Array(64);
  readonly #length = new BigUint64Array(1);

  constructor(lib: Deno.DynamicLibrary<typeof SYMBOLS>) {
    this.#lib = lib;
    this.#context = lib.symbols.secp256k1_context_create(SECP256K1_CONTEXT_FLAGS);
    if (this.#context === null) throw new Error("secp256k1_context_create failed");
  }

  recover(rs: Uint8Array, recid: number, digest: Uint8Array): Uint8Array | null {
    if (rs.byteLength !== 64 || digest.byteLength !== 32 || (recid !== 0 && recid !== 1)) {
      return null;
    }
    const s = this.#lib.symbols;
    if (
      s.secp256k1_ecdsa_recoverable_signature_parse_compact(this.#context, this.#sig, rs, recid) !==
        1
    ) return null;
    if (s.secp256k1_ecdsa_recover(this.#context, this.#pubkey, this.#sig, digest) !== 1) {
      return null;
    }
    const out = new Uint8Array(65);
    this.#length[0] = 65n;
    if (
      s.secp256k1_ec_pubkey_serialize(
          this.#context,
          out,
          this.#length,
          this.#pubkey,
          UNCOMPRESSED,
        ) !==
        1 || this.#length[0] !== 65n
    ) return null;
    return out;
  }
}

/** A key noble signed with is recovered; one flipped bit of s recovers another key or none. */
function selfTest(recoverer: EcdsaRecoverer): boolean {
  const secretKey = sha256(new TextEncoder().encode("turnpike native ecdsa self-test"));
  const digest = sha256(new TextEncoder().encode("self-test digest"));
  const signed = secp256k1.sign(digest, secretKey, { prehash: false, format: "recovered" });
  const expected = secp256k1.getPublicKey(secretKey, false);
  const rs = signed.slice(1);
  const got = recoverer.recover(rs, signed[0], digest);
  if (got === null || !equalBytes(got, expected)) return false;
  rs[63] ^= 1;
  const other = recoverer.recover(rs, signed[0], digest);
  return other === null || !equalBytes(other, expected);
}

let loaded: EcdsaRecoverer | null | undefined;

/**
 * The system's libsecp256k1 as an ECDSA recoverer, or null when it cannot be used here (no FFI
 * permission, no library, a failed self-test). Tried once per thread.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { secp256k1 } from "@noble/curves/secp256k1.js";
 * import { equalBytes } from "@noble/curves/utils.js";
 * import { loadNativeEcdsaRecover } from "./native_ecdsa_recover.ts";
 *
 * const native = loadNativeEcdsaRecover();
 * if (native) {
 *   const secretKey = secp256k1.utils.randomSecretKey();
 *   const digest = new Uint8Array(32).fill(7);
 *   const sig = secp256k1.sign(digest, secretKey, { prehash: false, format: "recovered" });
 *   const key = native.recover(sig.subarray(1), sig[0], digest);
 *   assert.ok(key && equalBytes(key, secp256k1.getPublicKey(secretKey, false)));
 * }
 * ```
 */
export function loadNativeEcdsaRecover(): EcdsaRecoverer | null {
  if (loaded !== undefined) return loaded;
  loaded = null;
  const lib = openNativeSecp256k1(SYMBOLS);
  if (lib === undefined) return loaded;
  try {
    const native = new NativeEcdsaRecover(lib);
    if (selfTest(native)) loaded = native;
    else lib.close();
  } catch {
    lib.close();
  }
  return loaded;
}
