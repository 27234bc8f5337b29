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
 * Its 64 MiB come from an allocation callback (`argon2_ctx`'s `allocate_cbk`) that maps them
 * with a transparent huge page hint (`madvise(MADV_HUGEPAGE)`, libc through FFI) rather than from
 * `malloc`: touched first, 64 MiB of 4 KiB pages are 16,384 page faults, most of a derivation's
 * time on a machine whose page faults are dear, against 32 of 2 MiB (docs/SCALE.md "The
 * passphrase's memory in huge pages"). Without libc's `mmap` it calls `argon2id_hash_raw` (memory by `malloc`).
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
  // int argon2_ctx(argon2_context *context, argon2_type type)
  argon2_ctx: { parameters: ["buffer", "i32"], result: "i32", nonblocking: true },
} as const;

const LIBC_NAMES = ["libc.so.6", "libc.so"];
const LIBC_SYMBOLS = {
  mmap: { parameters: ["pointer", "usize", "i32", "i32", "i32", "i64"], result: "pointer" },
  madvise: { parameters: ["pointer", "usize", "i32"], result: "i32" },
  munmap: { parameters: ["pointer", "usize"], result: "i32" },
} as const;
// Linux's values (the only system whose libc names are above).
const PROT_READ_WRITE = 0x3;
const MAP_PRIVATE_ANONYMOUS = 0x22;
const MADV_HUGEPAGE = 14;
const MAP_FAILED = 0xffff_ffff_ffff_ffffn;
const ARGON2_ID = 2;
const ARGON2_VERSION_13 = 0x13;
const ARGON2_MEMORY_ALLOCATION_ERROR = -22;

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
  const withHugePages = hugePageContext(lib);
  const argon2id: NativeArgon2id = async (p) => {
    const out = new Uint8Array(p.hashLength);
    const code = withHugePages ? await withHugePages(p, out) : await lib.symbols.argon2id_hash_raw(
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

type Argon2Library = Deno.DynamicLibrary<typeof SYMBOLS>;

/**
 * `argon2_ctx` with its memory mapped by the callbacks below (huge pages advised); undefined
 * without libc's calls. The callbacks run on this thread, called from the library's (a
 * `nonblocking` call): unref'd, they keep no process alive.
 */
function hugePageContext(
  lib: Argon2Library,
): ((p: NativeArgon2idParams, out: Uint8Array<ArrayBuffer>) => Promise<number>) | undefined {
  const libc = openNativeLibrary(LIBC_NAMES, LIBC_SYMBOLS);
  if (libc === undefined) return undefined;
  const allocate = Deno.UnsafeCallback.threadSafe(
    { parameters: ["pointer", "usize"], result: "i32" } as const,
    (memory, bytes) => {
      const size = BigInt(bytes);
      const mapped = libc.symbols.mmap(null, size, PROT_READ_WRITE, MAP_PRIVATE_ANONYMOUS, -1, 0n);
      const at = BigInt(Deno.UnsafePointer.value(mapped));
      if (mapped === null || at === MAP_FAILED || memory === null) {
        return ARGON2_MEMORY_ALLOCATION_ERROR;
      }
      libc.symbols.madvise(mapped, size, MADV_HUGEPAGE); // a hint: refused, 4 KiB pages
      new BigUint64Array(Deno.UnsafePointerView.getArrayBuffer(memory, 8))[0] = at;
      return 0;
    },
  );
  const release = Deno.UnsafeCallback.threadSafe(
    { parameters: ["pointer", "usize"], result: "void" } as const,
    // Wiped by the library before it is handed back.
    (memory, bytes) => void libc.symbols.munmap(memory, BigInt(bytes)),
  );
  allocate.unref();
  release.unref();
  return async (p, out) => {
    // Off the JavaScript heap (a small typed array there may move): fixed addresses for the call.
    const password = new Uint8Array(new ArrayBuffer(Math.max(1, p.password.length)));
    password.set(p.password);
    const salt = new Uint8Array(new ArrayBuffer(Math.max(1, p.salt.length)));
    salt.set(p.salt);
    const context = new ArrayBuffer(120);
    const view = new DataView(context);
    const address = (x: Uint8Array<ArrayBuffer>) =>
      BigInt(Deno.UnsafePointer.value(Deno.UnsafePointer.of(x)));
    // argon2_context (argon2.h), x86-64 / aarch64 layout: pointers at 8-byte offsets.
    view.setBigUint64(0, address(out), true);
    view.setUint32(8, out.length, true);
    view.setBigUint64(16, address(password), true);
    view.setUint32(24, p.password.length, true);
    view.setBigUint64(32, address(salt), true);
    view.setUint32(40, p.salt.length, true);
    // secret (48, 56) and associated data (64, 72): none.
    view.setUint32(76, p.iterations, true);
    view.setUint32(80, p.memoryKiB, true);
    view.setUint32(84, p.parallelism, true); // lanes
    view.setUint32(88, p.parallelism, true); // threads
    view.setUint32(92, ARGON2_VERSION_13, true);
    view.setBigUint64(96, BigInt(Deno.UnsafePointer.value(allocate.pointer)), true);
    view.setBigUint64(104, BigInt(Deno.UnsafePointer.value(release.pointer)), true);
    // flags (112): 0, the library's default.
    try {
      return await lib.symbols.argon2_ctx(new Uint8Array(context), ARGON2_ID);
    } finally {
      password.fill(0);
      salt.fill(0);
    }
  };
}
