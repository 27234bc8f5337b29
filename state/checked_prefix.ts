/**
 * What a reader already checked of an append-only line file, bound to the bytes it checked: the
 * receipt book's signatures (state/receipts/receipt_book.ts), which cost most of a reading and
 * never change for a line that does not (docs/PROTOCOL.md "Receipts and trust").
 *
 * A marker file holds the first `offset` bytes' SHA-256, how many items they held and which of them
 * failed the check. It is used only when the line file still begins with exactly those bytes (the
 * hash of its first `offset` bytes, read now, is the one kept), so an edit of any line checked
 * before brings the whole file back to the check; the items after `offset` are checked as new.
 * Derived data: written whole and renamed over the last one without an fsync (state/atomic_file.ts;
 * one lost to a power cut means checking the whole file once); a missing, torn or foreign marker
 * is none. It is no seal against whoever may write the state dir: they could write the marker as
 * well as the file (a full check, `receipts --check`, ignores it).
 *
 * @module
 */
import { bytesToHex } from "@noble/hashes/utils.js";
import { writeFileAtomic } from "./atomic_file.ts";

/** The marker's format version. */
const VERSION = 1;

/** A marker read back and matched against the line file's bytes. */
export interface CheckedPrefix {
  /** Bytes of the line file checked: the end of a whole line. */
  offset: number;
  /** Items (parsed lines) those bytes held. */
  items: number;
  /** Indexes (0-based, among the items) that failed the check. */
  failed: ReadonlySet<number>;
}

/** Options for {@linkcode readCheckedPrefix} and {@linkcode writeCheckedPrefix}. */
export interface CheckedPrefixOptions {
  /** The marker's file. */
  path: string;
}

/** What {@linkcode writeCheckedPrefix} records. */
export interface CheckedPrefixRecord {
  /** Bytes of `bytes` checked (the end of a whole line). */
  offset: number;
  items: number;
  failed: Iterable<number>;
}

/**
 * The marker of `path` when it was written of the bytes `bytes` begins with; else undefined.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { readCheckedPrefix, writeCheckedPrefix } from "./checked_prefix.ts";
 *
 * const dir = await Deno.makeTempDir();
 * const path = `${dir}/book.checked.json`;
 * const bytes = new TextEncoder().encode("a\nb\n");
 * await writeCheckedPrefix({ path }, bytes, { offset: 4, items: 2, failed: [1] });
 * const grown = new TextEncoder().encode("a\nb\nc\n");
 * assert.deepEqual((await readCheckedPrefix({ path }, grown))?.failed, new Set([1]));
 * const edited = new TextEncoder().encode("x\nb\nc\n");
 * assert.equal(await readCheckedPrefix({ path }, edited), undefined);
 * await Deno.remove(dir, { recursive: true });
 * ```
 */
export async function readCheckedPrefix(
  options: CheckedPrefixOptions,
  bytes: Uint8Array<ArrayBuffer>,
): Promise<CheckedPrefix | undefined> {
  let marker: Record<string, unknown>;
  try {
    marker = JSON.parse(await Deno.readTextFile(options.path));
  } catch {
    return undefined; // missing, unreadable or torn: none
  }
  const { offset, items, failed, sha256 } = marker ?? {};
  if (
    marker?.version !== VERSION || !Number.isSafeInteger(offset) || !Number.isSafeInteger(items) ||
    typeof sha256 !== "string" || !Array.isArray(failed) ||
    !failed.every((i) => Number.isSafeInteger(i) && i >= 0 && i < (items as number))
  ) return undefined;
  const end = offset as number;
  if (end < 0 || end > bytes.length || (items as number) < 0) return undefined;
  if (end > 0 && bytes[end - 1] !== 0x0a) return undefined;
  if (await digest(bytes.subarray(0, end)) !== sha256) return undefined;
  return { offset: end, items: items as number, failed: new Set(failed as number[]) };
}

/**
 * Records that the first `record.offset` bytes of `bytes`, `record.items` items, were checked and
 * which failed. A failure to write is thrown; callers that read only may ignore it.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { readCheckedPrefix, writeCheckedPrefix } from "./checked_prefix.ts";
 *
 * const dir = await Deno.makeTempDir();
 * const bytes = new TextEncoder().encode("a\n");
 * await writeCheckedPrefix({ path: `${dir}/m.json` }, bytes, { offset: 2, items: 1, failed: [] });
 * assert.equal((await readCheckedPrefix({ path: `${dir}/m.json` }, bytes))?.items, 1);
 * await Deno.remove(dir, { recursive: true });
 * ```
 */
export async function writeCheckedPrefix(
  options: CheckedPrefixOptions,
  bytes: Uint8Array<ArrayBuffer>,
  record: CheckedPrefixRecord,
): Promise<void> {
  const sha256 = await digest(bytes.subarray(0, record.offset));
  const marker = {
    version: VERSION,
    offset: record.offset,
    items: record.items,
    failed: [...record.failed].sort((a, b) => a - b),
    sha256,
  };
  await writeFileAtomic(options.path, JSON.stringify(marker) + "\n", {
    skipDirSync: true,
    skipFileSync: true,
  });
}

async function digest(bytes: Uint8Array<ArrayBuffer>): Promise<string> {
  // WebCrypto's native SHA-256: ~6 ms for a 9 MB book, where its signatures take ~480.
  return bytesToHex(new Uint8Array(await crypto.subtle.digest("SHA-256", bytes)));
}
