import { assertEquals, assertNotEquals } from "../../../harness/assert.ts";
import { generateSecretKey, getPublicKey } from "nostr-tools/pure";
import { v2 } from "nostr-tools/nip44";
import { answerSignerRequest } from "../../../identity/signer_request_answer.ts";

const ask = async (secretKey: Uint8Array, peer: string) =>
  await answerSignerRequest(secretKey, { op: "conversationKey", peer }) as Uint8Array;

Deno.test("a kept conversation key is nostr-tools', peer by peer, asked again and again", async () => {
  const secretKey = generateSecretKey();
  const peers = Array.from({ length: 20 }, () => getPublicKey(generateSecretKey()));
  for (let round = 0; round < 3; round++) {
    for (const peer of peers) {
      assertEquals(await ask(secretKey, peer), v2.utils.getConversationKey(secretKey, peer));
    }
  }
  // Two peers, two keys: the comparison above can fail.
  assertNotEquals(await ask(secretKey, peers[0]), await ask(secretKey, peers[1]));
});

Deno.test("a caller changing its copy of a conversation key does not change the kept one", async () => {
  const secretKey = generateSecretKey();
  const peer = getPublicKey(generateSecretKey());
  const first = await ask(secretKey, peer);
  first.fill(0);
  assertEquals(await ask(secretKey, peer), v2.utils.getConversationKey(secretKey, peer));
});

Deno.test("the same key object given other bytes gets the new key's conversation keys", async () => {
  const secretKey = generateSecretKey();
  const peer = getPublicKey(generateSecretKey());
  const before = await ask(secretKey, peer);
  secretKey.set(generateSecretKey());
  const after = await ask(secretKey, peer);
  assertEquals(after, v2.utils.getConversationKey(secretKey, peer));
  assertNotEquals(after, before);
});

Deno.test("an invalid peer key is refused each time, never kept", async () => {
  const secretKey = generateSecretKey();
  for (let i = 0; i < 2; i++) {
    let refused = false;
    await ask(secretKey, "zz".repeat(32)).catch(() => refused = true);
    assertEquals(refused, true);
  }
});
