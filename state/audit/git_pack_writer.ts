/**
 * Writes a commit's new git objects as one pack (`objects/pack/pack-<id>.pack` and its `.idx`,
 * pack format 2 and index format 2, as `git pack-objects` writes them without deltas) instead of
 * one loose file each. A commit of the audit trail has a few to a few hundred objects (the changed
 * files, their trees, the commit); as loose files each was a new file and a rename, and on an ext4
 * without a journal each new file walks past every inode deleted in the last 30 s
 * (docs/SCALE.md "Where a no-op job's CPU goes, round 5"): two files a commit instead. The packs are
 * rolled up now and then by `git repack -d --geometric=2` (state/audit/audit_log.ts), which also
 * finds the deltas between a record's versions.
 *
 * Written by hand because no dependency of the project writes packs (isomorphic-git was considered
 * for the commits and left out: state/audit/git_commit_writer.ts), and git itself is a process per
 * commit (docs/SCALE.md); a pack without deltas and its index are about a hundred lines. The format is
 * git's Documentation/gitformat-pack.txt; `git fsck --strict` and `git verify-pack` read what this
 * writes in tests/unit/state/audit/git_pack_writer_test.ts.
 *
 * Like git (`core.fsync` unset) the pack is not fsynced: the state files are the truth
 * (docs/ARCHITECTURE.md "One job, from `job submit` to the skill and back"). It is written to a
 * temp name and renamed, its index last: git uses a pack only once its `.idx` is there, so a kill
 * at any instant leaves either no pack or a whole one (a `tmp_pack_*` file or an unindexed pack
 * at worst, which git reads as neither: docs/OPERATIONS.md "State directory").
 *
 * @module
 */
import { createHash, randomBytes } from "node:crypto";
import { deflateSync } from "node:zlib";
import { Buffer } from "node:buffer";

/** One object of a pack: its id (hex SHA-1 of `<type> <size>\0<content>`), type and content. */
export interface PackObject {
  sha: string;
  type: "commit" | "tree" | "blob";
  content: Uint8Array;
}

/** Objects this small are stored, not deflated: a `deflateSync` call costs more than its saving. */
const STORED_BELOW = 256;

const TYPE_CODE = { commit: 1, tree: 2, blob: 3 } as const;

/**
 * Writes `objects` as one pack and its index in `<gitDir>/objects/pack/`; returns the pack's name
 * (`pack-<sha of the pack>`). Nothing is written for no objects (returns undefined).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { createHash } from "node:crypto";
 * import { writeGitPack } from "./git_pack_writer.ts";
 *
 * const gitDir = await Deno.makeTempDir();
 * const content = new TextEncoder().encode("hello\n");
 * const sha = createHash("sha1").update("blob 6\0").update(content).digest("hex");
 * const name = writeGitPack(gitDir, [{ sha, type: "blob", content }])!;
 * assert.ok(Deno.statSync(`${gitDir}/objects/pack/${name}.idx`).isFile);
 * await Deno.remove(gitDir, { recursive: true });
 * ```
 */
export function writeGitPack(gitDir: string, objects: readonly PackObject[]): string | undefined {
  if (objects.length === 0) return undefined;
  const parts: Uint8Array[] = [];
  const header = new Uint8Array(12);
  header.set([0x50, 0x41, 0x43, 0x4b]); // "PACK"
  const view = new DataView(header.buffer);
  view.setUint32(4, 2);
  view.setUint32(8, objects.length);
  parts.push(header);
  let offset = 12;
  const entries: { sha: Uint8Array; crc: number; offset: number }[] = [];
  for (const o of objects) {
    const head = entryHeader(TYPE_CODE[o.type], o.content.length);
    const body = o.content.length < STORED_BELOW
      ? zlibStored(o.content)
      : deflateSync(o.content, { level: 1 });
    entries.push({ sha: Buffer.from(o.sha, "hex"), crc: crc32(body, crc32(head)), offset });
    parts.push(head, body);
    offset += head.length + body.length;
  }
  const packHash = sha1(parts);
  parts.push(packHash);
  const name = `pack-${Buffer.from(packHash).toString("hex")}`;
  const index = packIndex(entries, packHash);
  const dir = `${gitDir}/objects/pack`;
  const tag = randomBytes(6).toString("hex");
  const [tmpPack, tmpIndex] = [`${dir}/tmp_pack_${tag}`, `${dir}/tmp_idx_${tag}`];
  try {
    writeNew(tmpPack, parts);
  } catch (err) {
    if (!(err instanceof Deno.errors.NotFound)) throw err;
    Deno.mkdirSync(dir, { recursive: true });
    writeNew(tmpPack, parts);
  }
  try {
    writeNew(tmpIndex, [index]);
    Deno.renameSync(tmpPack, `${dir}/${name}.pack`);
    Deno.renameSync(tmpIndex, `${dir}/${name}.idx`);
  } catch (err) {
    for (const tmp of [tmpPack, tmpIndex]) {
      try {
        Deno.removeSync(tmp);
      } catch { /* renamed, or never made */ }
    }
    throw err;
  }
  return name;
}

/** An entry's header: its type and size, 4 bits then 7 a byte, the high bit saying "more". */
function entryHeader(type: number, size: number): Uint8Array {
  const bytes: number[] = [];
  let byte = (type << 4) | (size & 0x0f);
  size = Math.floor(size / 16);
  while (size > 0) {
    bytes.push(byte | 0x80);
    byte = size & 0x7f;
    size = Math.floor(size / 128);
  }
  bytes.push(byte);
  return Uint8Array.from(bytes);
}

/** Index format 2: fan-out, sorted ids, CRC-32s, 32-bit offsets, the pack's and its own SHA-1. */
function packIndex(
  entries: { sha: Uint8Array; crc: number; offset: number }[],
  packHash: Uint8Array,
): Uint8Array {
  const sorted = [...entries].sort((a, b) => Buffer.compare(a.sha, b.sha));
  const n = sorted.length;
  const out = new Uint8Array(8 + 256 * 4 + n * 28 + 20 + 20);
  const view = new DataView(out.buffer);
  out.set([0xff, 0x74, 0x4f, 0x63]); // "\377tOc"
  view.setUint32(4, 2);
  const fanout = new Uint32Array(256);
  for (const e of sorted) fanout[e.sha[0]]++;
  let total = 0;
  for (let i = 0; i < 256; i++) view.setUint32(8 + i * 4, total += fanout[i]);
  let at = 8 + 1024;
  for (const e of sorted) (out.set(e.sha, at), at += 20);
  for (const e of sorted) (view.setUint32(at, e.crc >>> 0), at += 4);
  // A commit's pack is far below 2 GiB: no 64-bit offset table.
  for (const e of sorted) (view.setUint32(at, e.offset), at += 4);
  out.set(packHash, at);
  out.set(sha1([out.subarray(0, at + 20)]), at + 20);
  return out;
}

function sha1(parts: readonly Uint8Array[]): Uint8Array {
  const hash = createHash("sha1");
  for (const p of parts) hash.update(p);
  return new Uint8Array(hash.digest());
}

function writeNew(path: string, parts: readonly Uint8Array[]): void {
  using file = Deno.openSync(path, { write: true, createNew: true, mode: 0o444 });
  for (const p of parts) {
    let off = 0;
    while (off < p.length) off += file.writeSync(p.subarray(off));
  }
}

const CRC_TABLE = (() => {
  const table = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    table[n] = c >>> 0;
  }
  return table;
})();

/** CRC-32 (zlib's), continued from `start` (the CRC of what came before). */
function crc32(bytes: Uint8Array, start = 0): number {
  let c = ~start;
  for (let i = 0; i < bytes.length; i++) c = CRC_TABLE[(c ^ bytes[i]) & 0xff] ^ (c >>> 8);
  return ~c >>> 0;
}

/**
 * zlib's format with "stored" (uncompressed) deflate blocks (RFC 1950/1951): what
 * `deflateSync(raw, { level: 0 })` writes, without a zlib stream's set-up per call.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { inflateSync } from "node:zlib";
 * import { zlibStored } from "./git_pack_writer.ts";
 *
 * const raw = new TextEncoder().encode("blob 2\0hi");
 * assert.deepEqual(new Uint8Array(inflateSync(zlibStored(raw))), raw);
 * ```
 */
export function zlibStored(raw: Uint8Array): Uint8Array {
  const blocks = Math.max(1, Math.ceil(raw.length / 0xffff));
  const out = new Uint8Array(2 + blocks * 5 + raw.length + 4);
  out[0] = 0x78; // deflate, 32 KiB window
  out[1] = 0x01; // no dictionary, fastest; (0x78 << 8 | 0x01) % 31 === 0
  let o = 2;
  for (let b = 0, i = 0; b < blocks; b++) {
    const n = Math.min(0xffff, raw.length - i);
    out[o++] = b === blocks - 1 ? 1 : 0; // BFINAL, BTYPE 00
    out[o++] = n & 0xff;
    out[o++] = n >>> 8;
    out[o++] = ~n & 0xff;
    out[o++] = (~n >>> 8) & 0xff;
    out.set(raw.subarray(i, i + n), o);
    o += n;
    i += n;
  }
  // Adler-32 of the raw bytes, big-endian; the sums reduced every 5552 bytes (zlib's NMAX).
  let a = 1, s = 0;
  for (let i = 0; i < raw.length;) {
    const end = Math.min(raw.length, i + 5552);
    for (; i < end; i++) {
      a += raw[i];
      s += a;
    }
    a %= 65521;
    s %= 65521;
  }
  out[o++] = s >>> 8;
  out[o++] = s & 0xff;
  out[o++] = a >>> 8;
  out[o] = a & 0xff;
  return out;
}
