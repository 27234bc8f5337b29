/**
 * Shallow kind extraction vs full decode on the fixture corpus (incl. one event with 300 KB
 * content and one with 2000 tags), and the two signature verifiers.
 * Each bench iteration handles a whole set: events/s = records in the set / time per iteration.
 *
 * Sets: `canonical` (records under 4 KiB in the layout `encodeEventToon` writes, i.e. the fast
 * path), `small` (every record under 4 KiB, incl. the deliberately unusual alternative forms
 * the general scanner handles), `corpus` (everything).
 *
 *     deno bench -A bench/kind_extractor_bench.ts
 */
import { decode } from "@toon-format/toon";
import {
  extractCanonicalSummary,
  extractSummary,
  extractSummaryGeneral,
} from "../protocol/kind_extractor.ts";
import { decodeEventToon } from "../protocol/toon_codec.ts";
import { verifyEvent } from "../protocol/event_verifier.ts";

const text = await Deno.readTextFile(new URL("../fixtures/corpus.toon", import.meta.url));
// Re-decode each record on its own, as records arrive off the wire (JSON.parse of a relay
// frame, TextDecoder): `split` alone would hand out slices of one big two-byte string (the
// corpus holds emoji), which every scanner reads ~1.5-2x slower than flat strings.
const encoder = new TextEncoder();
const decoder = new TextDecoder();
const records = text.trimEnd().split("\n\n").map((r) => decoder.decode(encoder.encode(r)));
const small = records.filter((r) => r.length < 4096);
const canonical = small.filter((r) => extractCanonicalSummary(r) !== null);
const events = small.map((r) => decodeEventToon(r));
console.log(
  `corpus: ${records.length} records, ${small.length} under 4 KiB, ${canonical.length} canonical`,
);

const sets: [string, string[]][] = [["canonical", canonical], ["small", small], [
  "corpus",
  records,
]];
for (const [label, set] of sets) {
  Deno.bench(`extractSummary (${label}, ${set.length})`, { group: label, baseline: true }, () => {
    for (const r of set) extractSummary(r);
  });
  Deno.bench(`general scanner only (${label})`, { group: label }, () => {
    for (const r of set) extractSummaryGeneral(r);
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
