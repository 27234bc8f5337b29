/**
 * A system library opened through Deno's FFI, for the few hot paths a native library makes
 * several times cheaper than WebAssembly or JavaScript: libsecp256k1 for signatures
 * (protocol/native_secp256k1.ts) and libargon2 for the passphrase's key
 * (identity/native_argon2.ts). Opened only when the process may use FFI (`--allow-ffi`, or `-A`
 * as the CLI runs); each caller self-tests what it opened before it trusts it, and falls back to
 * its portable path when this returns undefined (docs/ARCHITECTURE.md "Signatures").
 *
 * @module
 */

/**
 * The first of `names` the system's loader finds with every one of `symbols` bound, or
 * undefined when FFI is not allowed here or none has them all.
 *
 * @example
 * ```ts
 * import { openNativeLibrary } from "./native_library.ts";
 *
 * const lib = openNativeLibrary(["libsecp256k1.so.1", "libsecp256k1.so"], {
 *   secp256k1_context_create: { parameters: ["u32"], result: "pointer" },
 * } as const);
 * lib?.close();
 * ```
 */
export function openNativeLibrary<S extends Deno.ForeignLibraryInterface>(
  names: readonly string[],
  symbols: S,
): Deno.DynamicLibrary<S> | undefined {
  if (!ffiAllowed()) return undefined;
  for (const name of names) {
    try {
      return Deno.dlopen(name, symbols);
    } catch {
      // Not under this name, or without one of the symbols: try the next.
    }
  }
  return undefined;
}

function ffiAllowed(): boolean {
  try {
    return Deno.permissions.querySync({ name: "ffi" }).state === "granted";
  } catch {
    return false;
  }
}
