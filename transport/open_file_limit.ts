/**
 * The process's open-file limit (RLIMIT_NOFILE): read it, and raise the soft limit to the hard
 * one at start, since every socket is a file descriptor and the default soft limit (often 1024)
 * is what an attacker with idle connections hits first. Linux and macOS through libc (needs
 * `--allow-ffi`); elsewhere, or without the permission, the limit is reported as unknown.
 *
 * @module
 */

/** Soft and hard open-file limits. */
export interface OpenFileLimit {
  soft: number;
  hard: number;
}

/** Options for {@linkcode raiseOpenFileLimit}. */
export interface RaiseOpenFileLimitOptions {
  /** Highest soft limit to ask for (an unlimited hard limit is not a useful soft one). */
  ceiling?: number;
}

const RLIMIT_NOFILE: Partial<Record<typeof Deno.build.os, number>> = { linux: 7, darwin: 8 };
const LIBC: Partial<Record<typeof Deno.build.os, string>> = {
  linux: "libc.so.6",
  darwin: "libSystem.B.dylib",
};

function openLibc() {
  const path = LIBC[Deno.build.os];
  if (path === undefined) return undefined;
  try {
    return Deno.dlopen(path, {
      getrlimit: { parameters: ["i32", "buffer"], result: "i32" },
      setrlimit: { parameters: ["i32", "buffer"], result: "i32" },
    });
  } catch {
    // No --allow-ffi, or no such library: the limit stays as it is.
    return undefined;
  }
}

/**
 * Raises the soft open-file limit to the hard one (up to `ceiling`); returns the limits in
 * force afterwards, or undefined when they cannot be read here.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { raiseOpenFileLimit } from "./open_file_limit.ts";
 *
 * const limit = raiseOpenFileLimit();
 * if (limit !== undefined) assert(limit.soft <= limit.hard); // undefined: not readable here
 * ```
 */
export function raiseOpenFileLimit(
  options: RaiseOpenFileLimitOptions = {},
): OpenFileLimit | undefined {
  const resource = RLIMIT_NOFILE[Deno.build.os];
  const libc = openLibc();
  if (libc === undefined || resource === undefined) return undefined;
  try {
    const buf = new BigUint64Array(2);
    if (libc.symbols.getrlimit(resource, buf) !== 0) return undefined;
    const ceiling = BigInt(options.ceiling ?? 1_048_576);
    const target = buf[1] < ceiling ? buf[1] : ceiling;
    if (buf[0] < target) {
      const wanted = new BigUint64Array([target, buf[1]]);
      if (libc.symbols.setrlimit(resource, wanted) === 0) buf[0] = target;
    }
    return { soft: Number(buf[0]), hard: Number(buf[1] > ceiling ? ceiling : buf[1]) };
  } finally {
    libc.close();
  }
}
