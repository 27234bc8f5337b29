/**
 * Shallow kind extraction vs full decode on the fixture corpus (132 events, incl. one with
 * 300 KB content and one with 2000 tags), and the two signature verifiers.
 * Each bench iteration handles the whole corpus: events/s = records / time per iteration.
 *
 *     deno bench -A bench/kind_extractor_bench.ts
 */
import { decode } from "@toon-format/toon";
import { extractSummary } from "../protocol/kind_extractor.ts";
import { decodeEventToon } from "../protocol/toon_codec.ts";
import { verifyEvent } from "../protocol/event_verifier.ts";

const records = (await Deno.readTextFile(new URL("../fixtures/corpus.toon", import.meta.url)))
  .trimEnd().split("\n\n");
const small = records.filter((r) => r.length < 4096);
const events = small.map((r) => decodeEventToon(r));
console.log(`corpus: ${records.length} records (${small.length} under 4 KiB)`);

for (const [label, set] of [["corpus", records], ["small", small]] as const) {
  Deno.bench(`extractSummary (${label})`, { group: label, baseline: true }, () => {
    for (const r of set) extractSummary(r);
  });
  Deno.bench(`toon decode only, no validation (${label})`, { group: label }, () => {
    for (const r of set) decode(r);
  });
  Deno.bench(`decodeEventToon verify:false (${label})`, { group: label }, () => {
    for (const r of set) decodeEventToon(r, { verify: false });
  });
  Deno.bench(`decodeEventToon full (${label})`, { group: label }, () => {
    for (const r of set) decodeEventToon(r);
  });
}

Deno.bench("verify nostr-wasm", { group: "verify", baseline: true }, () => {
  for (const e of events) verifyEvent(e, { backend: "nostr-wasm" });
});
Deno.bench("verify noble (pure JS)", { group: "verify" }, () => {
  for (const e of events) verifyEvent(e, { backend: "noble" });
});
