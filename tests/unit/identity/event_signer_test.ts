import { assert, assertEquals } from "../../../harness/assert.ts";
import { getPublicKey, verifyEvent } from "nostr-tools/pure";
import { hexToBytes } from "@noble/hashes/utils.js";
import {
  eventSignerEngine,
  loadEventSigner,
  signEventTemplate,
} from "../../../identity/event_signer.ts";

// NIP-06 vector 1.
const SK = hexToBytes("7f7ff03d123792d6ac594bfa67bf6d0c0ab55b6b1fdb6249303fe861f1ccba9a");

// nostr-tools marks an event it verified (a symbol property), so each check gets a fresh copy.
const plain = <T>(event: T): T => JSON.parse(JSON.stringify(event));

function template(n: number) {
  return {
    kind: 1,
    created_at: 1_700_000_000 + n,
    tags: [["p", "x"], ["t", `tag ${n}`]],
    content: `event ${n} with "quotes" and ünïcödé\nnewline`,
  };
}

Deno.test("signEventTemplate signs with @noble/curves first, then with nostr-wasm, both valid", async () => {
  // A fresh module instance: this test counts its signatures from the first.
  assertEquals(eventSignerEngine(), "noble");
  const early = [];
  for (let n = 0; n < 8; n++) early.push(signEventTemplate(template(n), SK));
  // An idle node's few signatures load no WebAssembly.
  assertEquals(eventSignerEngine(), "noble");
  for (const event of early) {
    assertEquals(event.pubkey, getPublicKey(SK));
    assert(verifyEvent(plain(event)), `noble signature of ${event.content} verifies`);
  }
  // The next one starts nostr-wasm's load; it signs once loaded.
  const ninth = signEventTemplate(template(8), SK);
  assert(verifyEvent(plain(ninth)));
  await loadEventSigner();
  assertEquals(eventSignerEngine(), "nostr-wasm");
  const later = signEventTemplate(template(9), SK);
  assertEquals(later.pubkey, getPublicKey(SK));
  assert(verifyEvent(plain(later)), "nostr-wasm signature verifies");
  // A broken signature does not: the check above can fail.
  assert(!verifyEvent({ ...plain(later), content: "changed" }));
});

Deno.test("signEventTemplate leaves the template unchanged", () => {
  const t = template(1);
  const copy = structuredClone(t);
  signEventTemplate(t, SK);
  assertEquals(t, copy);
});
