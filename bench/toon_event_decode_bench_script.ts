/**
 * A TOON event's full decode: `@toon-format/toon`'s `decode` against the fast path for the layout
 * events are written in (protocol/toon_event_fast_decode.ts), and `parseEventToon` (the fast path,
 * or the library, plus the shape check), for the paid-writes bench's event (a 200-byte note, no
 * tags) and a job request with four tags. Microseconds a decode, best of three rounds of 50,000.
 *
 *     deno run -A bench/toon_event_decode_bench_script.ts
 *
 * @module
 */
import { decode } from "@toon-format/toon";
import { finalizeEvent, generateSecretKey } from "nostr-tools/pure";
import { decodeCanonicalEventToon } from "../protocol/toon_event_fast_decode.ts";
import { parseEventToon } from "../protocol/toon_event_parse.ts";
import { encodeEventToon } from "../protocol/toon_codec.ts";

const key = generateSecretKey();
const cases = {
  note: encodeEventToon(finalizeEvent({
    kind: 1,
    created_at: 1_700_000_000,
    tags: [],
    content: "bench event 1 ".padEnd(200, "x"),
  }, key)),
  job: encodeEventToon(finalizeEvent({
    kind: 5100,
    created_at: 1_700_000_000,
    tags: [["i", "hello world", "text"], ["p", "ab".repeat(32)], ["param", "model", "x"], [
      "bid",
      "1000",
    ]],
    content: "",
  }, key)),
};
const ROUNDS = 3;
const N = 50_000;

function best(fn: () => unknown): number {
  let min = Infinity;
  for (let r = 0; r < ROUNDS; r++) {
    const t0 = performance.now();
    for (let i = 0; i < N; i++) fn();
    min = Math.min(min, (performance.now() - t0) * 1000 / N);
  }
  return min;
}

console.log(`load ${(await Deno.readTextFile("/proc/loadavg")).split(" ")[0]}`);
for (const [name, text] of Object.entries(cases)) {
  if (decodeCanonicalEventToon(text) === null) throw new Error(`${name}: not the fast path's`);
  console.log(
    `${name.padEnd(5)} library ${best(() => decode(text)).toFixed(2)} us | fast ${
      best(() => decodeCanonicalEventToon(text)).toFixed(2)
    } us | parseEventToon ${best(() => parseEventToon(text, 1 << 20)).toFixed(2)} us`,
  );
}
