import { assert, assertEquals, assertRejects } from "../../../harness/assert.ts";
import { hmac } from "@noble/hashes/hmac.js";
import { sha256 } from "@noble/hashes/sha2.js";
import {
  checkFulfillment,
  conditionOf,
  fulfillmentFor,
  IlpFulfillmentError,
  importFulfillmentKey,
} from "../../../protocol/ilp_fulfillment.ts";

const secret = Uint8Array.from({ length: 32 }, (_, i) => i);
const data = new TextEncoder().encode("id: abc\nkind: 1\n");

Deno.test("fulfillment = HMAC(HMAC(secret, 'ilp_stream_fulfillment'), data), condition = SHA-256", async () => {
  // Independent implementation (@noble/hashes) against ours (WebCrypto).
  const key = hmac(sha256, secret, new TextEncoder().encode("ilp_stream_fulfillment"));
  const expected = hmac(sha256, key, data);
  const pair = await fulfillmentFor(secret, data);
  assertEquals(pair.fulfillment, expected);
  assertEquals(pair.condition, sha256(expected));
  const viaKey = await fulfillmentFor(await importFulfillmentKey(secret), data);
  assertEquals(viaKey, pair);
});

Deno.test("checkFulfillment accepts the match and nothing else", async () => {
  const { fulfillment, condition } = await fulfillmentFor(secret, data);
  assert(await checkFulfillment(fulfillment, condition));
  const flipped = fulfillment.slice();
  flipped[31] ^= 1;
  assert(!(await checkFulfillment(flipped, condition)));
  assert(!(await checkFulfillment(fulfillment.subarray(0, 31), condition)));
  const other = await fulfillmentFor(secret.map((b) => b ^ 0xff), data);
  assert(!(await checkFulfillment(other.fulfillment, condition)));
});

Deno.test("secrets and fulfillments of the wrong size are refused", async () => {
  await assertRejects(
    () => importFulfillmentKey(new Uint8Array(16)),
    IlpFulfillmentError,
    "32 bytes",
  );
  await assertRejects(() => conditionOf(new Uint8Array(33)), IlpFulfillmentError);
});

Deno.test("ilp fulfillment: the per-secret key holds its derived bytes, HMAC-SHA256(secret, 'ilp_stream_fulfillment')", async () => {
  const key = await importFulfillmentKey(secret);
  const expected = hmac(sha256, secret, new TextEncoder().encode("ilp_stream_fulfillment"));
  assertEquals(key.bytes, expected);
  const data = new TextEncoder().encode("kind: 5100");
  assertEquals((await fulfillmentFor(key, data)).fulfillment, hmac(sha256, expected, data));
});
