/**
 * Sealed blobs (roles/agent_work/sealed_blob.ts) open with their key only and refuse any changed
 * byte by name; a key derived from another opens only its own blob.
 */
import {
  SealedBlobFormatError,
  SealedBlobTamperedError,
} from "../../../../roles/agent_work/agent_work_errors.ts";
import {
  derivedBlobKey,
  openBlob,
  sealBlob,
  SEALED_BLOB_OVERHEAD,
} from "../../../../roles/agent_work/sealed_blob.ts";
import { assertEquals, assertNotEquals, assertRejects } from "../../../../harness/assert.ts";

const plain = new Uint8Array(100_000).map((_, i) => (i * 31 + 7) % 251);

Deno.test("a sealed blob opens with its key to the same bytes, and says its format in its header", async () => {
  const { sealed, key } = await sealBlob(plain);
  assertEquals(key.length, 32);
  assertEquals(sealed.length, plain.length + SEALED_BLOB_OVERHEAD);
  assertEquals(new TextDecoder().decode(sealed.subarray(0, 4)), "TPSB");
  assertEquals(sealed[4], 1);
  assertEquals(await openBlob(sealed, key), plain);
  const empty = await sealBlob(new Uint8Array(0));
  assertEquals((await openBlob(empty.sealed, empty.key)).length, 0);
});

Deno.test("each seal has its own key and nonce: the same bytes sealed twice differ", async () => {
  const a = await sealBlob(plain);
  const b = await sealBlob(plain);
  assertNotEquals(a.key, b.key);
  assertNotEquals(a.sealed.subarray(5, 17), b.sealed.subarray(5, 17));
  await assertRejects(() => openBlob(a.sealed, b.key), SealedBlobTamperedError);
});

Deno.test("a flipped byte anywhere after the magic and version fails as tampered", async () => {
  const { sealed, key } = await sealBlob(plain);
  for (const at of [5, 16, 17, 5000, sealed.length - 1]) {
    const changed = sealed.slice();
    changed[at] ^= 0x01;
    await assertRejects(() => openBlob(changed, key), SealedBlobTamperedError);
  }
  await assertRejects(() => openBlob(sealed.slice(0, -1), key), SealedBlobTamperedError);
});

Deno.test("a header this code does not read, a short blob or a key of the wrong size is a format error", async () => {
  const { sealed, key } = await sealBlob(plain);
  const magic = sealed.slice();
  magic[0] ^= 0xff;
  await assertRejects(() => openBlob(magic, key), SealedBlobFormatError, "TPSB");
  const version = sealed.slice();
  version[4] = 2;
  await assertRejects(() => openBlob(version, key), SealedBlobFormatError, "version 2");
  await assertRejects(() => openBlob(sealed.slice(0, 32), key), SealedBlobFormatError);
  await assertRejects(() => openBlob(sealed, key.slice(0, 16)), SealedBlobFormatError);
});

Deno.test("a derived key: the same from the same key and label, another for another label or key; it opens only its own blob", async () => {
  const { sealed, key } = await sealBlob(plain);
  const sub = await derivedBlobKey(key, "agent-task transcript");
  assertEquals(sub.length, 32);
  assertEquals(await derivedBlobKey(key, "agent-task transcript"), sub);
  assertNotEquals(sub, key);
  assertNotEquals(await derivedBlobKey(key, "another"), sub);
  assertNotEquals(await derivedBlobKey((await sealBlob(plain)).key, "agent-task transcript"), sub);
  const log = await sealBlob(new TextEncoder().encode("the transcript"), sub);
  assertEquals(log.key, sub);
  assertEquals(new TextDecoder().decode(await openBlob(log.sealed, sub)), "the transcript");
  await assertRejects(() => openBlob(log.sealed, key), SealedBlobTamperedError);
  await assertRejects(() => openBlob(sealed, sub), SealedBlobTamperedError);
  await assertRejects(() => sealBlob(plain, new Uint8Array(16)), SealedBlobFormatError);
});
