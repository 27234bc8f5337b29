/**
 * Argon2id through the system's libargon2 (Debian's `libargon2-1`, the reference
 * implementation), for the passphrase's key (identity/key_vault.ts): at the design's parameters
 * (64 MiB, one pass, four lanes) it takes 66-85 ms here against 132-162 ms for hash-wasm's
 * WebAssembly, lanes on threads of their own, and it runs off the JavaScript thread (the call is
 * `nonblocking`). Every paying command derives this key once to prove the passphrase
 * (docs/AGENTS.md "The profile's node"), so it is most of such a command's own time.
 *
 * Used only where FFI is allowed and after a known-answer self-test (its answer computed with
 * hash-wasm); otherwise {@linkcode loadNativeArgon2id} answers undefined and the vault uses
 * hash-wasm as before (docs/ARCHITECTURE.md "Signatures").
 *
 * @module
 */
import { bytesToHex } from "@noble/hashes/utils.js";
import { openNativeLibrary } from "../protocol/native_library.ts";

/** The names the library is looked up by, first found wins. */
const LIBRARY_NAMES = ["libargon2.so.1", "libargon2.so", "libargon2.1.dylib", "libargon2.dylib"];

const SYMBOLS = {
  // int argon2id_hash_raw(t_cost, m_cost, parallelism, pwd, pwdlen, salt, saltlen, hash, hashlen)
  argon2id_hash_raw: {
    parameters: ["u32", "u32", "u32", "buffer", "usize", "buffer", "usize", "buffer", "usize"],
    result: "i32",
    nonblocking: true,
  },
} as const;

/** The parameters of one derivation. */
export interface NativeArgon2idParams {
  /** The password's bytes (the vault passes its passphrase NFC-normalized, UTF-8). */
  password: Uint8Array;
  /** The salt, at least 8 bytes. */
  salt: Uint8Array;
  /** Passes over memory (time cost). */
  iterations: number;
  /** Memory in KiB. */
  memoryKiB: number;
  /** Lanes, each on a thread of its own. */
  parallelism: number;
  /** Bytes of output. */
  hashLength: number;
}

/** Argon2id as a function of its parameters; rejects with the library's error code. */
export type NativeArgon2id = (params: NativeArgon2idParams) => Promise<Uint8Array>;

// The self-test's known answer: hash-wasm's Argon2id of this password and salt, t=2, m=64 KiB, p=4.
const TEST_PASSWORD = new TextEncoder().encode("turnpike argon2id self-test");
const TEST_SALT = new TextEncoder().encode("turnpike salt 16");
const TEST_ANSWER = "3117ccbb7aa3df8d3edfd3d00e42cf3105850388ac3495418d6ba33aaec2f6a3";

let loaded: Promise<NativeArgon2id | undefined> | undefined;

/**
 * The native Argon2id, or undefined when FFI is not allowed, the library is not installed, or
 * it failed its self-test. Loaded and tested once per thread.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { loadNativeArgon2id } from "./native_argon2.ts";
 *
 * const argon2id = await loadNativeArgon2id();
 * if (argon2id) {
 *   const key = await argon2id({
 *     password: new TextEncoder().encode("correct horse"),
 *     salt: new Uint8Array(16),
 *     iterations: 1,
 *     memoryKiB: 64,
 *     parallelism: 4,
 *     hashLength: 32,
 *   });
 *   assert(key.length === 32);
 * }
 * ```
 */
export function loadNativeArgon2id(): Promise<NativeArgon2id | undefined> {
  loaded ??= load();
  return loaded;
}

async function load(): Promise<NativeArgon2id | undefined> {
  const lib = openNativeLibrary(LIBRARY_NAMES, SYMBOLS);
  if (lib === undefined) return undefined;
  const argon2id: NativeArgon2id = async (p) => {
    const out = new Uint8Array(p.hashLength);
    const code = await lib.symbols.argon2id_hash_raw(
      p.iterations,
      p.memoryKiB,
      p.parallelism,
      p.password as Uint8Array<ArrayBuffer>,
      BigInt(p.password.length),
      p.salt as Uint8Array<ArrayBuffer>,
      BigInt(p.salt.length),
      out,
      BigInt(out.length),
    );
    if (code !== 0) throw new RangeError(`libargon2 refused the parameters (error ${code})`);
    return out;
  };
  try {
    const answer = await argon2id({
      password: TEST_PASSWORD,
      salt: TEST_SALT,
      iterations: 2,
      memoryKiB: 64,
      parallelism: 4,
      hashLength: 32,
    });
    if (bytesToHex(answer) === TEST_ANSWER) return argon2id;
  } catch {
    // A library that cannot compute the known answer is not used.
  }
  lib.close();
  return undefined;
}
