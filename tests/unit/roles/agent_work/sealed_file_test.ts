/**
 * Sealed blobs as files (roles/agent_work/sealed_file.ts) against the in-memory ones
 * (sealed_blob.ts), on real files: each opens what the other seals, at sizes around the chunk
 * size; a changed byte anywhere, a cut file, another key or another format is refused with the
 * error `openBlob` gives.
 */
import { assertEquals, assertRejects } from "../../../../harness/assert.ts";
import { withTempDir } from "../../../support/temp_dir.ts";
import {
  checkSealedFile,
  sealFile,
  STREAM_ABOVE,
} from "../../../../roles/agent_work/sealed_file.ts";
import { openBlob, sealBlob } from "../../../../roles/agent_work/sealed_blob.ts";
import {
  SealedBlobFormatError,
  SealedBlobTamperedError,
} from "../../../../roles/agent_work/agent_work_errors.ts";
import { createStreamingSha256 } from "../../../../protocol/streaming_sha256.ts";

const sha256 = (bytes: Uint8Array) => {
  const hash = createStreamingSha256();
  hash.update(bytes);
  return hash.digestHex();
};

Deno.test("a sealed file opens as a sealed blob and the reverse, whole and a chunk at a time, at sizes around the chunk size", async () => {
  await withTempDir(async (tmp) => {
    const sizes = [0, 1, (4 << 20) - 1, 4 << 20, (4 << 20) + 1, 9 * (1 << 20) + 5];
    for (const [size, streamAbove] of sizes.flatMap((n) => [[n, 0], [n, STREAM_ABOVE]])) {
      const plain = crypto.getRandomValues(new Uint8Array(Math.min(size, 65536)));
      const bytes = new Uint8Array(size);
      for (let i = 0; i < size; i += plain.length) bytes.set(plain.subarray(0, size - i), i);
      await Deno.writeFile(`${tmp}/plain`, bytes);
      const made = await sealFile(`${tmp}/plain`, `${tmp}/sealed`, undefined, { streamAbove });
      const sealed = await Deno.readFile(`${tmp}/sealed`);
      assertEquals([made.bytes, made.sha256], [sealed.length, sha256(sealed)]);
      assertEquals(sealed.length, size + 33);
      assertEquals(await openBlob(sealed, made.key), bytes);
      assertEquals(await checkSealedFile(`${tmp}/sealed`, made.key, { streamAbove }), made.sha256);
      // The reverse: sealed in memory, checked as a file.
      const other = await sealBlob(bytes);
      await Deno.writeFile(`${tmp}/other`, other.sealed);
      assertEquals(
        await checkSealedFile(`${tmp}/other`, other.key, { streamAbove }),
        sha256(other.sealed),
      );
    }
  });
});

Deno.test("a sealed file with a changed byte, cut, under another key or not one is refused as openBlob refuses it, whole and a chunk at a time", async () => {
  for (const streamAbove of [0, STREAM_ABOVE]) await refusals(streamAbove);
});

async function refusals(streamAbove: number) {
  await withTempDir(async (tmp) => {
    await Deno.writeFile(`${tmp}/plain`, crypto.getRandomValues(new Uint8Array(50_000)));
    const { key } = await sealFile(`${tmp}/plain`, `${tmp}/sealed`);
    const sealed = await Deno.readFile(`${tmp}/sealed`);
    const check = async (bytes: Uint8Array, withKey = key) => {
      await Deno.writeFile(`${tmp}/bad`, bytes);
      return () => checkSealedFile(`${tmp}/bad`, withKey, { streamAbove });
    };
    // A byte changed in the nonce, the ciphertext's first and last, and the tag.
    for (const at of [5, 17, sealed.length - 17, sealed.length - 1]) {
      const bad = sealed.slice();
      bad[at] ^= 1;
      await assertRejects(await check(bad), SealedBlobTamperedError);
      await assertRejects(() => openBlob(bad, key), SealedBlobTamperedError);
    }
    await assertRejects(
      await check(sealed.subarray(0, sealed.length - 1)),
      SealedBlobTamperedError,
    );
    await assertRejects(await check(sealed.subarray(0, 20)), SealedBlobFormatError);
    await assertRejects(
      await check(sealed, crypto.getRandomValues(new Uint8Array(32))),
      SealedBlobTamperedError,
    );
    const version = sealed.slice();
    version[4] = 2;
    await assertRejects(await check(version), SealedBlobFormatError);
    const magic = sealed.slice();
    magic[0] = 0;
    await assertRejects(await check(magic), SealedBlobFormatError);
    await assertRejects(await check(sealed, new Uint8Array(16)), SealedBlobFormatError);
  });
}
