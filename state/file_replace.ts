/**
 * A file replaced by renaming a new one over it, without the flush ext4 starts at such a rename.
 *
 * ext4 (its `auto_da_alloc` default) treats a rename over an existing file as "replace via
 * rename" and starts writing the new file's unwritten data out before the rename returns. For a
 * file fsynced first there is nothing left to write; for one that is not (the audit trail's
 * branch ref, a provider's status file), the rename waits for that writeback: 0.19-0.28 ms a
 * rename on a quiet disk here, against 0.05 ms on the caller's thread for the same replacement by
 * `renameat2`'s `RENAME_EXCHANGE` (which swaps the two names atomically, no flush), the old file,
 * now under the new one's temporary name, removed on Deno's blocking threads; on a busy disk the
 * flush waits in the disk's queue (docs/SCALE.md "A file replaced without ext4's flush"). A
 * reader of the path sees the old file or the new one, never none, as with `rename`.
 *
 * `renameat2` is Linux's, called through libc (needs `--allow-ffi`, as the CLI runs); elsewhere,
 * without the permission, on a file system without `RENAME_EXCHANGE`, or when the target does
 * not exist yet, this is `Deno.renameSync`. A directory at the target, which a rename refuses and
 * an exchange would swap, is swapped back and refused as the rename refuses it.
 *
 * @module
 */
import { openNativeLibrary } from "../protocol/native_library.ts";

const AT_FDCWD = -100;
const RENAME_EXCHANGE = 2;
const SYMBOLS = {
  renameat2: { parameters: ["i32", "buffer", "i32", "buffer", "u32"], result: "i32" },
} as const;

// Undefined: not looked for yet; null: none here.
let libc: Deno.DynamicLibrary<typeof SYMBOLS> | null | undefined;

function exchanger(): Deno.DynamicLibrary<typeof SYMBOLS> | null {
  if (libc === undefined) {
    libc = Deno.build.os === "linux" ? openNativeLibrary(["libc.so.6"], SYMBOLS) ?? null : null;
  }
  return libc;
}

/**
 * Whether replacements here go by `RENAME_EXCHANGE` (Linux, FFI allowed, libc found).
 *
 * @example
 * ```ts
 * import { exchangeAvailable } from "./file_replace.ts";
 *
 * const how = exchangeAvailable() ? "renameat2" : "rename";
 * ```
 */
export function exchangeAvailable(): boolean {
  return exchanger() !== null;
}

/**
 * Moves `from` to `to`, replacing `to` atomically when it exists. The replacement is done when
 * this returns; the old file, left under `from`'s name by the exchange, is removed on Deno's
 * blocking threads (freeing an inode is most of what is left to wait for): the promise resolves
 * once `from` is gone. A caller that makes `from` again (a lock's fixed name) waits for it first.
 * Both on one file system, as for `Deno.renameSync`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { replaceFile } from "./file_replace.ts";
 *
 * const dir = await Deno.makeTempDir();
 * await Deno.writeTextFile(`${dir}/ref`, "old\n");
 * await Deno.writeTextFile(`${dir}/ref.lock`, "new\n");
 * await replaceFile(`${dir}/ref.lock`, `${dir}/ref`);
 * assert.equal(await Deno.readTextFile(`${dir}/ref`), "new\n");
 * await assert.rejects(Deno.stat(`${dir}/ref.lock`), Deno.errors.NotFound);
 * await Deno.remove(dir, { recursive: true });
 * ```
 * @throws as `Deno.renameSync` does, when the move cannot be made.
 */
export function replaceFile(from: string, to: string): Promise<void> {
  const lib = exchanger();
  // A NUL would end the C string early and name another file: such a path goes to Deno's call,
  // which refuses it.
  if (lib !== null && !from.includes("\0") && !to.includes("\0")) {
    const done = lib.symbols.renameat2(
      AT_FDCWD,
      cString(from),
      AT_FDCWD,
      cString(to),
      RENAME_EXCHANGE,
    );
    if (done === 0) {
      // A rename refuses to put a file over a directory (EISDIR); an exchange would swap them:
      // swapped back, and the rename says why.
      if (Deno.lstatSync(from).isDirectory) {
        lib.symbols.renameat2(AT_FDCWD, cString(from), AT_FDCWD, cString(to), RENAME_EXCHANGE);
        Deno.renameSync(from, to);
      }
      // Left, if it cannot be removed, for the caller's clean-up of its temporary names at start
      // (stale locks, temp files).
      return Deno.remove(from).catch(() => {});
    }
    // No `to` yet (ENOENT), or no exchange on this file system (EINVAL): a plain rename.
  }
  Deno.renameSync(from, to);
  return Promise.resolve();
}

function cString(path: string): Uint8Array<ArrayBuffer> {
  return new TextEncoder().encode(`${path}\0`);
}
