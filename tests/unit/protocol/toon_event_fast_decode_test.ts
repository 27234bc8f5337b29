/**
 * The fast TOON event decoder against the library's decode: on every input it accepts, the very
 * same event; anything it is unsure of is left (null) to the library. Inputs: the corpus, events
 * with the strings the encoder quotes or escapes, and seeded mutations of both (`FUZZ_SEED=<n>`
 * replays a run).
 */
import { decode } from "@toon-format/toon";
import { decodeCanonicalEventToon } from "../../../protocol/toon_event_fast_decode.ts";
import { encodeEventToon } from "../../../protocol/toon_codec.ts";
import { parseEventToon } from "../../../protocol/toon_event_parse.ts";
import type { NostrEvent } from "../../../protocol/nostr_event.ts";
import { assert, assertEquals } from "../../../harness/assert.ts";
import { fuzzSeed, seededRandom } from "../../support/seeded_random.ts";

const seed = fuzzSeed();
const corpus = (await Deno.readTextFile(new URL("../../../fixtures/corpus.toon", import.meta.url)))
  .trimEnd().split("\n\n").filter((r) => r.length < 20_000);

/** The library's answer: the decoded value, or the error it threw. */
function library(text: string): unknown {
  try {
    return decode(text);
  } catch (err) {
    return err;
  }
}

function check(text: string): boolean {
  const fast = decodeCanonicalEventToon(text);
  if (fast === null) return false;
  assertEquals(fast, library(text), `fast vs library on ${JSON.stringify(text)} (seed ${seed})`);
  return true;
}

const TRICKY = [
  "",
  " ",
  "plain words",
  "a:b",
  "x, y",
  'say "hi"',
  "back\\slash",
  "line\nbreak\ttab\rcr",
  "[1]: x",
  "{braces}",
  "-dash",
  "- item",
  "123",
  "1.5",
  "-7",
  "1e5",
  "true",
  "null",
  "false",
  " lead",
  "trail ",
  "\u00a0nbsp",
  "bom\ufeff",
  "é 😀 漢字",
  "\u0001ctl",
  "0123",
  "#hash",
  "a|b",
  "wss://relay.example",
];

function event(i: number, content: string, tags: string[][]): NostrEvent {
  const hex = (n: number, len: number) =>
    (n.toString(16).padStart(8, "a") + "b").repeat(20).slice(0, len);
  return {
    id: hex(i, 64),
    pubkey: hex(i + 1, 64),
    created_at: 1_700_000_000 + i,
    kind: i % 40000,
    tags,
    content,
    sig: hex(i + 2, 128),
  };
}

Deno.test("fast TOON decode: the encoder's output, every tricky string, decodes as the library does", () => {
  let taken = 0;
  TRICKY.forEach((s, i) => {
    const e = event(i, s, [["t", s], ["p", "cd".repeat(32), s, "x"], [], [s]]);
    const text = encodeEventToon(e);
    if (check(text)) {
      taken++;
      assertEquals(decodeCanonicalEventToon(text), e);
    }
    assertEquals(parseEventToon(text, 1 << 20), e, "either path, the same event");
    if (check(encodeEventToon(event(i, "plain", [["t", "plain"]])))) taken++;
  });
  assert(
    taken >= TRICKY.length,
    `the plain events and some tricky ones take the fast path (${taken})`,
  );
});

Deno.test("fast TOON decode: the corpus, as the library decodes it or left to it", () => {
  let taken = 0;
  for (const record of corpus) if (check(record)) taken++;
  assert(taken > corpus.length / 2, `${taken} of ${corpus.length} taken by the fast path`);
});

Deno.test(`fast TOON decode: seeded one- and few-character edits agree with the library (seed ${seed})`, () => {
  const rnd = seededRandom(seed);
  const EDITS = [
    " ",
    '"',
    "\\",
    ",",
    "\n",
    "\r",
    "-",
    "0",
    "1",
    "e",
    "a",
    "[",
    "]",
    ":",
    "{",
    "\\u0041",
    "\\n",
    "  ",
    "\t",
    "é",
    "1e5",
    "true",
  ];
  const bases = [...corpus, ...TRICKY.map((s, i) => encodeEventToon(event(i, s, [["e", s, "x"]])))];
  let taken = 0;
  for (let i = 0; i < 50_000; i++) {
    let text = bases[Math.floor(rnd() * bases.length)];
    for (let n = 1 + Math.floor(rnd() * 2); n > 0; n--) {
      const pos = Math.floor(rnd() * text.length);
      const edit = EDITS[Math.floor(rnd() * EDITS.length)];
      text = rnd() < 0.5
        ? text.slice(0, pos) + edit + text.slice(pos)
        : text.slice(0, pos) + edit + text.slice(pos + 1 + Math.floor(rnd() * 3));
    }
    if (check(text)) taken++;
  }
  console.log(`50000 edits: ${taken} taken by the fast path (FUZZ_SEED=${seed})`);
});
