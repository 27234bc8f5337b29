/**
 * Reading a file that must not be larger than a cap (a job record, a channel file, the wallet,
 * the provider's status): refused from its size before anything is read, and never more than
 * the size it had then read even if it grows meanwhile, so a file swollen by accident or by
 * someone else cannot make a node read without bound.
 *
 * @module
 */

/** Options for {@linkcode readCappedFile}. */
export interface CappedFileOptions {
  /** Largest size read, bytes. */
  maxBytes: number;
  /** The error thrown for a larger file (each reader names its own). */
  tooLarge: (path: string, maxBytes: number) => Error;
}

/**
 * The file's bytes, refused by `tooLarge` when it is over `maxBytes`. Deno's own errors (e.g.
 * `NotFound`) are thrown as they are.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { ChannelFileError } from "./channels/channel_file.ts";
 *
 * const dir = await Deno.makeTempDir();
 * const path = `${dir}/channel.json`;
 * await Deno.writeTextFile(path, "{}");
 * const tooLarge = (p: string, max: number) => new ChannelFileError(`${p} is over ${max} bytes`);
 * const bytes = await readCappedFile(path, { maxBytes: 64 * 1024, tooLarge });
 * assert.deepEqual(bytes, new TextEncoder().encode("{}"));
 * await assert.rejects(readCappedFile(path, { maxBytes: 1, tooLarge }), ChannelFileError);
 * await Deno.remove(dir, { recursive: true });
 * ```
 */
// deno-lint-ignore require-await
export async function readCappedFile(
  path: string,
  options: CappedFileOptions,
): Promise<Uint8Array> {
  // Synchronous calls: these are small state files in the page cache, where an async call's
  // hop to the I/O threads costs more CPU than the call
  // (bench/requester_record_cost_bench_script.ts); async in signature for the callers.
  using file = Deno.openSync(path, { read: true });
  const size = file.statSync().size;
  if (size > options.maxBytes) throw options.tooLarge(path, options.maxBytes);
  const bytes = new Uint8Array(size);
  let off = 0;
  while (off < size) {
    const n = file.readSync(bytes.subarray(off));
    if (n === null) break;
    off += n;
  }
  return bytes.subarray(0, off);
}

/**
 * {@linkcode readCappedFile} decoded as UTF-8 (invalid bytes replaced).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 *
 * const path = await Deno.makeTempFile();
 * await Deno.writeTextFile(path, "paid");
 * const tooLarge = (p: string, max: number) => new RangeError(`${p} is over ${max} bytes`);
 * assert.equal(await readCappedTextFile(path, { maxBytes: 256 * 1024, tooLarge }), "paid");
 * await Deno.remove(path);
 * ```
 */
export async function readCappedTextFile(
  path: string,
  options: CappedFileOptions,
): Promise<string> {
  return new TextDecoder().decode(await readCappedFile(path, options));
}
