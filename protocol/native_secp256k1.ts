/**
 * The system's libsecp256k1 (Debian's `libsecp256k1-1`, 0.2 or later) opened through Deno's FFI
 * with the symbols a caller names: the schnorr verifier of paid writes
 * (protocol/native_schnorr.ts) and the claims' ECDSA recovery (chain/native_ecdsa_recover.ts).
 * Opened only when the process may use FFI (`--allow-ffi`, or `-A` as the CLI runs); each caller
 * self-tests what it opened before it trusts it (docs/ARCHITECTURE.md "Signatures").
 *
 * @module
 */
import { openNativeLibrary } from "./native_library.ts";

/** The names the library is looked up by (the loader's search path), first found wins. */
const LIBRARY_NAMES = [
  "libsecp256k1.so.2",
  "libsecp256k1.so.1",
  "libsecp256k1.so",
  "libsecp256k1.dylib",
];

/** SECP256K1_CONTEXT_VERIFY | SECP256K1_CONTEXT_SIGN (the flags every version accepts). */
export const SECP256K1_CONTEXT_FLAGS = 257 | 513;

/**
 * The library with `symbols` bound, or undefined when FFI is not allowed here or no library
 * under its usual names has them all.
 *
 * @example
 * ```ts
 * import { openNativeSecp256k1 } from "./native_secp256k1.ts";
 *
 * const lib = openNativeSecp256k1({
 *   secp256k1_context_create: { parameters: ["u32"], result: "pointer" },
 * } as const);
 * lib?.close();
 * ```
 */
export function openNativeSecp256k1<S extends Deno.ForeignLibraryInterface>(
  symbols: S,
): Deno.DynamicLibrary<S> | undefined {
  return openNativeLibrary(LIBRARY_NAMES, symbols);
}
