/**
 * ECDSA signatures of a 32-byte digest (an EIP-712 typed data's hash: a payment channel's claim)
 * by the system's libsecp256k1 through Deno's FFI (protocol/native_secp256k1.ts), for
 * identity/signer_request_answer.ts's `signTypedData` where the process may use FFI (a node with
 * its key on its own thread, the harness and benches). With a claim's digest over its fixed
 * layout, a claim signature costs a seventh to a tenth of viem's here (`deno run -A
 * bench/evm_sign_bench_script.ts`, docs/SCALE.md "Claims signed natively").
 *
 * Written by hand because no library does this: viem signs with @noble/curves, JavaScript.
 *
 * The same signature as viem's, byte for byte: RFC 6979's deterministic nonce (the library's
 * default nonce function), s made low (the library's signatures always are), then `r ‖ s ‖ v`
 * with v = 27 + R's parity. Trusted only after a known-answer self-test: a digest signed with a
 * fixed key must give @noble/curves' signature of it (what viem returns) byte for byte.
 *
 * @module
 */
import { secp256k1 } from "@noble/curves/secp256k1.js";
import { bytesToHex } from "@noble/hashes/utils.js";
import { sha256 } from "@noble/hashes/sha2.js";
import { openNativeSecp256k1, SECP256K1_CONTEXT_FLAGS } from "../protocol/native_secp256k1.ts";
import { IdentityError } from "./identity_error.ts";

const SYMBOLS = {
  secp256k1_context_create: { parameters: ["u32"], result: "pointer" },
  secp256k1_ecdsa_sign_recoverable: {
    parameters: ["pointer", "buffer", "buffer", "buffer", "pointer", "pointer"],
    result: "i32",
  },
  secp256k1_ecdsa_recoverable_signature_serialize_compact: {
    parameters: ["pointer", "buffer", "buffer", "buffer"],
    result: "i32",
  },
} as const;

/** secp256k1_ecdsa_recoverable_signature: 65 opaque bytes. */
const RECOVERABLE_SIGNATURE_BYTES = 65;

/** Signs 32-byte digests with a secp256k1 key, as an EVM account does. */
export interface NativeEvmSigner {
  /**
   * The signature of `digest` (32 bytes) by `secretKey` (32 bytes): `0x` and 65 bytes of hex,
   * r, s and v (27 or 28), as viem's `signTypedData` returns it.
   */
  signDigest(digest: Uint8Array, secretKey: Uint8Array): `0x${string}`;
}

/** A digest the library refused to sign: the key is not a valid secp256k1 key. */
export class NativeEvmSignError extends IdentityError {
  override name = "NativeEvmSignError";
}

class NativeSigner implements NativeEvmSigner {
  readonly #lib: Deno.DynamicLibrary<typeof SYMBOLS>;
  readonly #context: Deno.PointerValue;
  // Scratch space, reused: one call at a time per thread.
  readonly #sig = new Uint8Array(RECOVERABLE_SIGNATURE_BYTES);
  readonly #out = new Uint8Array(65);
  readonly #recid = new Int32Array(1);

  constructor(lib: Deno.DynamicLibrary<typeof SYMBOLS>) {
    this.#lib = lib;
    this.#context = lib.symbols.secp256k1_context_create(SECP256K1_CONTEXT_FLAGS);
    if (this.#context === null) throw new NativeEvmSignError("secp256k1_context_create failed");
  }

  signDigest(digest: Uint8Array, secretKey: Uint8Array): `0x${string}` {
    if (digest.byteLength !== 32) throw new NativeEvmSignError("a digest is 32 bytes");
    if (secretKey.byteLength !== 32) throw new NativeEvmSignError("a secret key is 32 bytes");
    const s = this.#lib.symbols;
    // Null nonce function and data: RFC 6979 (the library's default), as @noble/curves signs.
    if (
      s.secp256k1_ecdsa_sign_recoverable(
        this.#context,
        this.#sig,
        digest,
        secretKey,
        null,
        null,
      ) !== 1
    ) {
      throw new NativeEvmSignError("the secret key is not a valid secp256k1 key");
    }
    const out = this.#out;
    s.secp256k1_ecdsa_recoverable_signature_serialize_compact(
      this.#context,
      out,
      new Uint8Array(this.#recid.buffer),
      this.#sig,
    );
    out[64] = 27 + this.#recid[0];
    return `0x${bytesToHex(out)}`;
  }
}

/** @noble/curves' signature of `digest` by `secretKey`, as viem's `sign` makes it. */
function nobleSignature(digest: Uint8Array, secretKey: Uint8Array): `0x${string}` {
  const sig = secp256k1.sign(digest, secretKey, { prehash: false, format: "recovered" });
  // format "recovered": the recovery bit first, then r and s.
  const out = new Uint8Array(65);
  out.set(sig.subarray(1), 0);
  out[64] = 27 + sig[0];
  return `0x${bytesToHex(out)}`;
}

/** Whether the library signs a fixed digest as @noble/curves does, for two keys. */
function signsAsNoble(signer: NativeEvmSigner): boolean {
  for (const label of ["native evm signer self-test 1", "native evm signer self-test 2"]) {
    const secretKey = sha256(new TextEncoder().encode(label));
    const digest = sha256(secretKey);
    const native = signer.signDigest(digest, secretKey);
    // Both lower-case hex of the same 65 bytes when they agree.
    if (native !== nobleSignature(digest, secretKey)) return false;
  }
  return true;
}

let loaded: NativeEvmSigner | null | undefined;

/**
 * The system's libsecp256k1 as an EVM digest signer, or null when it cannot be used here (no FFI
 * permission, no library, a failed self-test). Tried once per thread.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { hashTypedData } from "viem";
 * import { privateKeyToAccount } from "viem/accounts";
 * import { bytesToHex, hexToBytes } from "@noble/hashes/utils.js";
 *
 * const native = loadNativeEvmSigner();
 * if (native) {
 *   const secretKey = crypto.getRandomValues(new Uint8Array(32));
 *   const data = {
 *     domain: { name: "T", version: "1", chainId: 1 },
 *     types: { M: [{ name: "n", type: "uint256" }] },
 *     primaryType: "M",
 *     message: { n: 7n },
 *   } as const;
 *   const digest = hexToBytes(hashTypedData(data).slice(2));
 *   const viemSig = await privateKeyToAccount(`0x${bytesToHex(secretKey)}`).signTypedData(data);
 *   assert.equal(native.signDigest(digest, secretKey), viemSig);
 * }
 * ```
 */
export function loadNativeEvmSigner(): NativeEvmSigner | null {
  if (loaded !== undefined) return loaded;
  loaded = null;
  const lib = openNativeSecp256k1(SYMBOLS);
  if (lib === undefined) return loaded;
  try {
    const native = new NativeSigner(lib);
    if (signsAsNoble(native)) loaded = native;
    else lib.close();
  } catch {
    lib.close();
  }
  return loaded;
}
