/**
 * Event signature verification, the largest cost of a paid write (the town verifies every
 * event): the three backends of protocol/event_verifier.ts in one run, and the parts a
 * verification is made of, to tell the schnorr check itself from its surroundings.
 *
 * - `libsecp256k1`: libsecp256k1 called directly (parsed keys cached), one key writing many
 *   events (a town's usual writer) and a fresh key per event (every key parsed);
 * - `nostr-wasm`: the same WebAssembly through nostr-wasm's own `verifyEvent`;
 * - `noble`: @noble/curves schnorr in pure JS (id + verify, and `schnorr.verify` alone);
 * - parts: the NIP-01 id (JSON + SHA-256), hex decoding, and a structured clone of an event
 *   (what a worker message costs to serialize, per event).
 *
 *     deno bench -A bench/event_verifier_bench.ts
 */
import { schnorr } from "@noble/curves/secp256k1.js";
import { hexToBytes } from "@noble/hashes/utils.js";
import { finalizeEvent, generateSecretKey } from "nostr-tools";
import {
  computeEventId,
  loadEventVerifier,
  verifierBackend,
  verifyEvent,
} from "../protocol/event_verifier.ts";
import type { NostrEvent } from "../protocol/nostr_event.ts";

const EVENTS = 200;
/** More than the direct verifier's key cache (1024): every key is parsed again. */
const DISTINCT_KEYS = 1200;

function makeEvent(secretKey: Uint8Array, i: number): NostrEvent {
  return finalizeEvent({
    kind: 1,
    created_at: 1_700_000_000 + i,
    tags: [["p", "ab".repeat(32)]],
    content: `bench event ${i} `.padEnd(200, "x"),
  }, secretKey) as NostrEvent;
}

const oneKey = generateSecretKey();
const events = Array.from({ length: EVENTS }, (_, i) => makeEvent(oneKey, i));
const manyKeys = Array.from({ length: DISTINCT_KEYS }, (_, i) => makeEvent(generateSecretKey(), i));
const raw = events.map((e) => ({
  sig: hexToBytes(e.sig),
  id: hexToBytes(e.id),
  pubkey: hexToBytes(e.pubkey),
}));
await loadEventVerifier();
console.log(`default backend: ${verifierBackend()}; ${EVENTS} events per iteration`);

let k = 0;
Deno.bench("libsecp256k1 direct, one key", { group: "verify", baseline: true, n: 20 }, () => {
  for (const e of events) verifyEvent(e, { backend: "libsecp256k1" });
});
Deno.bench(`libsecp256k1 direct, ${DISTINCT_KEYS} keys`, { group: "verify", n: 20 }, () => {
  for (let i = 0; i < EVENTS; i++) {
    verifyEvent(manyKeys[k++ % DISTINCT_KEYS], { backend: "libsecp256k1" });
  }
});
Deno.bench("nostr-wasm verifyEvent", { group: "verify", n: 20 }, () => {
  for (const e of events) verifyEvent(e, { backend: "nostr-wasm" });
});
Deno.bench("noble (id + schnorr)", { group: "verify", n: 5 }, () => {
  for (const e of events) verifyEvent(e, { backend: "noble" });
});
Deno.bench("noble schnorr.verify alone", { group: "verify", n: 5 }, () => {
  for (const r of raw) schnorr.verify(r.sig, r.id, r.pubkey);
});

Deno.bench("event id (JSON + SHA-256)", { group: "parts", baseline: true }, () => {
  for (const e of events) computeEventId(e);
});
Deno.bench("hex decode id, sig, pubkey", { group: "parts" }, () => {
  for (const e of events) {
    hexToBytes(e.id);
    hexToBytes(e.sig);
    hexToBytes(e.pubkey);
  }
});
Deno.bench("structuredClone(event)", { group: "parts" }, () => {
  for (const e of events) structuredClone(e);
});
