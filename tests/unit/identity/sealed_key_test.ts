/**
 * A key sealed to the key worker's X25519 key (identity/sealed_key.ts): it opens with that
 * recipient only, once sealed it shows none of the key's bytes, and a changed box is refused.
 */
import { assertEquals, assertNotEquals, assertRejects } from "../../../harness/assert.ts";
import { newKeyRecipient, SealedKeyError, sealKey } from "../../../identity/sealed_key.ts";

function fromBase64(text: string): Uint8Array {
  return Uint8Array.from(atob(text), (c) => c.charCodeAt(0));
}

Deno.test("a sealed key opens with its recipient and not with another", async () => {
  const recipient = await newKeyRecipient();
  const other = await newKeyRecipient();
  const key = crypto.getRandomValues(new Uint8Array(32));
  const sealed = await sealKey(key, recipient.publicKey);
  assertEquals(await recipient.open(sealed), key);
  await assertRejects(() => other.open(sealed), SealedKeyError);
});

Deno.test("a sealed key holds none of the key's bytes in order, and a changed box is refused", async () => {
  const recipient = await newKeyRecipient();
  const key = new Uint8Array(32).fill(0xab);
  const sealed = await sealKey(key, recipient.publicKey);
  const box = fromBase64(sealed.box);
  assertEquals(box.length, 48); // 32 bytes and GCM's tag
  assertNotEquals(box.subarray(0, 32), key);
  // Two seals of one key differ (a fresh ephemeral key and nonce each).
  assertNotEquals((await sealKey(key, recipient.publicKey)).box, sealed.box);
  box[0] ^= 1;
  await assertRejects(
    () => recipient.open({ ...sealed, box: btoa(String.fromCharCode(...box)) }),
    SealedKeyError,
  );
});
