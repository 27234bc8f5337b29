/**
 * Sealed blobs (roles/agent_work/sealed_blob.ts, the same format, byte for byte) made and checked
 * as files. A repository bundle may be 200 MiB, which `sealBlob` would hold twice in memory (the
 * bundle read whole, then its ciphertext), and `openBlob` again to check a cached one: past
 * {@linkcode STREAM_ABOVE} bytes a file is sealed and checked a chunk at a time, by node:crypto's
 * AES-256-GCM (`createCipheriv`: WebCrypto cannot do it in parts); below, whole, by WebCrypto,
 * which is faster (bench/sealed_file_bench_script.ts, each way in a process of its own: a 5 MiB
 * file sealed and checked in 47-54 ms whole against 80-96 streamed; a 128 MiB one in 1.4-1.6 s at a
 * peak of 690 MiB whole, against 1.9-2.2 s at 113 MiB streamed). Either way the output opens
 * with `openBlob` and the reverse (tests/unit/roles/agent_work/sealed_file_test.ts).
 *
 * @module
 */
import { createCipheriv, createDecipheriv } from "node:crypto";
import { createStreamingSha256 } from "../../protocol/streaming_sha256.ts";
import { readFileRange } from "../../state/file_range.ts";
import { SealedBlobFormatError, SealedBlobTamperedError } from "./agent_work_errors.ts";
import {
  BLOB_KEY_BYTES,
  checkBlobKey,
  checkSealedBlobHeader,
  newSealedBlobHeader,
  openBlob,
  sealBlob,
  SEALED_BLOB_HEADER_BYTES,
  SEALED_BLOB_OVERHEAD,
} from "./sealed_blob.ts";

/** GCM's tag, at the end of a sealed blob. */
const TAG_BYTES = 16;

/** Bytes past which a file is sealed and checked a chunk at a time (by default). */
export const STREAM_ABOVE = 32 * 1024 * 1024;

/** Options of {@linkcode sealFile} and {@linkcode checkSealedFile}. */
export interface SealedFileOptions {
  /** Bytes past which the file goes a chunk at a time; {@linkcode STREAM_ABOVE} by default. */
  streamAbove?: number;
}

/** A file sealed by {@linkcode sealFile}. */
export interface SealedFile {
  /** Its key (32 bytes). */
  key: Uint8Array<ArrayBuffer>;
  /** The sealed file's sha256 (hex): the blob's name on a town. */
  sha256: string;
  /** The sealed file's size. */
  bytes: number;
}

/**
 * Seals the file at `plainPath` into a new file at `sealedPath` (0600) with a fresh key (or `key`).
 *
 * @example
 * ```ts
 * import { sealFile } from "./sealed_file.ts";
 * import { openBlob } from "./sealed_blob.ts";
 *
 * const dir = await Deno.makeTempDir();
 * await Deno.writeTextFile(`${dir}/plain`, "a bundle");
 * const { key } = await sealFile(`${dir}/plain`, `${dir}/sealed`);
 * const plain = await openBlob(await Deno.readFile(`${dir}/sealed`), key);
 * if (new TextDecoder().decode(plain) !== "a bundle") throw new Error("did not open");
 * await Deno.remove(dir, { recursive: true });
 * ```
 */
export async function sealFile(
  plainPath: string,
  sealedPath: string,
  key: Uint8Array<ArrayBuffer> = crypto.getRandomValues(new Uint8Array(BLOB_KEY_BYTES)),
  options: SealedFileOptions = {},
): Promise<SealedFile> {
  checkBlobKey(key);
  if ((await Deno.stat(plainPath)).size <= (options.streamAbove ?? STREAM_ABOVE)) {
    const { sealed } = await sealBlob(await Deno.readFile(plainPath), key);
    await Deno.writeFile(sealedPath, sealed, { mode: 0o600 });
    return { key, sha256: sha256Hex(sealed), bytes: sealed.length };
  }
  const header = newSealedBlobHeader();
  const cipher = createCipheriv("aes-256-gcm", key, header.subarray(5));
  cipher.setAAD(header);
  const hash = createStreamingSha256();
  let bytes = 0;
  using plain = await Deno.open(plainPath, { read: true });
  using out = await Deno.open(sealedPath, {
    write: true,
    create: true,
    truncate: true,
    mode: 0o600,
  });
  const write = async (chunk: Uint8Array) => {
    if (chunk.length === 0) return;
    hash.update(chunk);
    bytes += chunk.length;
    for (let done = 0; done < chunk.length;) done += await out.write(chunk.subarray(done));
  };
  await write(header);
  const buffer = new Uint8Array(4 << 20);
  for (let n = await plain.read(buffer); n !== null; n = await plain.read(buffer)) {
    await write(cipher.update(buffer.subarray(0, n)));
  }
  await write(cipher.final());
  await write(cipher.getAuthTag());
  return { key, sha256: hash.digestHex(), bytes };
}

/**
 * Checks that the sealed file at `path` opens with `key` (its tag, after every byte), reading it a
 * chunk at a time and keeping none of the plaintext; throws as `openBlob` does
 * (`SealedBlobFormatError`, `SealedBlobTamperedError`). Returns its sha256 (hex).
 *
 * @example
 * ```ts
 * import { checkSealedFile, sealFile } from "./sealed_file.ts";
 *
 * const dir = await Deno.makeTempDir();
 * await Deno.writeTextFile(`${dir}/plain`, "a bundle");
 * const { key, sha256 } = await sealFile(`${dir}/plain`, `${dir}/sealed`);
 * if (await checkSealedFile(`${dir}/sealed`, key) !== sha256) throw new Error("another hash");
 * const wrong = crypto.getRandomValues(new Uint8Array(32));
 * if (await checkSealedFile(`${dir}/sealed`, wrong).then(() => true, () => false)) {
 *   throw new Error("opened with another key");
 * }
 * await Deno.remove(dir, { recursive: true });
 * ```
 */
export async function checkSealedFile(
  path: string,
  key: Uint8Array<ArrayBuffer>,
  options: SealedFileOptions = {},
): Promise<string> {
  checkBlobKey(key);
  using file = await Deno.open(path, { read: true });
  const { size } = await file.stat();
  if (size <= (options.streamAbove ?? STREAM_ABOVE) + SEALED_BLOB_OVERHEAD) {
    const sealed = await Deno.readFile(path);
    await openBlob(sealed, key);
    return sha256Hex(sealed);
  }
  const header = new Uint8Array(SEALED_BLOB_HEADER_BYTES);
  const tag = new Uint8Array(TAG_BYTES);
  if (!await readFileRange(file, header, 0) || !await readFileRange(file, tag, size - TAG_BYTES)) {
    throw new SealedBlobFormatError("the sealed blob ended early");
  }
  checkSealedBlobHeader(header, size);
  const decipher = createDecipheriv("aes-256-gcm", key, header.subarray(5));
  decipher.setAAD(header);
  decipher.setAuthTag(tag);
  const hash = createStreamingSha256();
  hash.update(header);
  await file.seek(SEALED_BLOB_HEADER_BYTES, Deno.SeekMode.Start);
  let left = size - SEALED_BLOB_HEADER_BYTES - TAG_BYTES;
  const buffer = new Uint8Array(4 << 20);
  while (left > 0) {
    const n = await file.read(buffer.subarray(0, Math.min(buffer.length, left)));
    if (n === null) throw new SealedBlobFormatError("the sealed blob ended early");
    hash.update(buffer.subarray(0, n));
    decipher.update(buffer.subarray(0, n));
    left -= n;
  }
  try {
    decipher.final();
  } catch (err) {
    throw new SealedBlobTamperedError("the sealed blob does not open with this key", {
      cause: err,
    });
  }
  hash.update(tag);
  return hash.digestHex();
}

/** The hex SHA-256 of bytes in memory (native). */
function sha256Hex(bytes: Uint8Array): string {
  const hash = createStreamingSha256();
  hash.update(bytes);
  return hash.digestHex();
}
