/**
 * Fuzzes the shallow extractor and the full decoder with >= 100k random and mutated inputs.
 * Seeded: the seed is printed; `FUZZ_SEED=<n>` replays a run.
 */
import {
  extractCanonicalSummary,
  extractSummary,
  extractSummaryGeneral,
  summarizeEvent,
  ToonShallowParseError,
} from "../../protocol/kind_extractor.ts";
import {
  decodeEventToon,
  EventValidationError,
  ToonDecodeError,
} from "../../protocol/toon_codec.ts";
import type { NostrEvent } from "../../protocol/nostr_event.ts";
import { assertEquals } from "../../harness/assert.ts";
import { fuzzSeed, seededRandom } from "../support/seeded_random.ts";

const ITERATIONS = 100_000;
const seed = fuzzSeed();

const corpus = (await Deno.readTextFile(new URL("../../fixtures/corpus.toon", import.meta.url)))
  .trimEnd().split("\n\n").filter((r) => r.length < 20_000);
const ALPHABET = [
  " ",
  "  ",
  "\t",
  "\n",
  "\r",
  ":",
  ",",
  "|",
  '"',
  "\\",
  "[",
  "]",
  "{",
  "}",
  "-",
  "- ",
  "#",
  "0",
  "1",
  "9",
  "a",
  "f",
  "e",
  "E",
  ".",
  "+",
  "é",
  "😀",
  "\u0000",
  "\ufeff",
  "[]",
  "[2]:",
  "kind: 7000",
  "\nkind: 1",
  "\nid: ",
  "tags[1]:",
  "  - [2]: e,",
  "null",
  "true",
];

function mutate(rnd: () => number, text: string): string {
  const pick = <T>(xs: readonly T[]) => xs[Math.floor(rnd() * xs.length)];
  let t = text;
  const rounds = 1 + Math.floor(rnd() * 3);
  for (let r = 0; r < rounds; r++) {
    const lines = t.split("\n");
    const li = Math.floor(rnd() * lines.length);
    const pos = Math.floor(rnd() * (t.length + 1));
    switch (Math.floor(rnd() * 11)) {
      case 0: // byte flip
        t = t.slice(0, pos) + String.fromCharCode(Math.floor(rnd() * 128)) + t.slice(pos + 1);
        break;
      case 1: // insert an interesting token
        t = t.slice(0, pos) + pick(ALPHABET) + t.slice(pos);
        break;
      case 2:
        lines.splice(li, 1);
        t = lines.join("\n");
        break;
      case 3:
        lines.splice(li, 0, lines[li]);
        t = lines.join("\n");
        break;
      case 4: // a kind: line, at the top level or indented
        lines.splice(
          li,
          0,
          pick(["", "  ", "    "]) + pick(["kind: 7000", '"kind": 1', "kind: 1.0", "kind:5"]),
        );
        t = lines.join("\n");
        break;
      case 5:
        t = t.slice(0, pos);
        break;
      case 6: { // swap two lines
        const lj = Math.floor(rnd() * lines.length);
        [lines[li], lines[lj]] = [lines[lj], lines[li]];
        t = lines.join("\n");
        break;
      }
      case 7: // change an indentation
        lines[li] = pick(["", " ", "  ", "    "]) + lines[li].trimStart();
        t = lines.join("\n");
        break;
      case 8: // re-quote or unquote a value
        lines[li] = lines[li].includes('"')
          ? lines[li].replaceAll('"', "")
          : lines[li].replace(/: (.*)$/, ': "$1"');
        t = lines.join("\n");
        break;
      case 9: // change a count
        t = t.replace(/\[(\d+)/, (_, n) => `[${Number(n) + pick([-1, 1, 0])}`);
        break;
      default: // delete a span
        t = t.slice(0, pos) + t.slice(pos + Math.floor(rnd() * 20));
    }
  }
  return t;
}

function randomInput(rnd: () => number): string {
  let s = "";
  for (let n = Math.floor(rnd() * 30); n > 0; n--) {
    s += ALPHABET[Math.floor(rnd() * ALPHABET.length)];
  }
  return s;
}

Deno.test(`fuzz: extractor and decoder never crash and agree (seed ${seed})`, () => {
  console.log(`FUZZ_SEED=${seed}`);
  const rnd = seededRandom(seed);
  let decoded = 0;
  let extracted = 0;
  let fastPath = 0;
  for (let i = 0; i < ITERATIONS; i++) {
    const input = rnd() < 0.1
      ? randomInput(rnd)
      : mutate(rnd, corpus[Math.floor(rnd() * corpus.length)]);
    let summary: ReturnType<typeof extractSummary> | null = null;
    try {
      summary = extractSummary(input);
      extracted++;
    } catch (err) {
      if (!(err instanceof ToonShallowParseError)) {
        throw new Error(`extractor threw ${err} on ${JSON.stringify(input)} (FUZZ_SEED=${seed})`);
      }
    }
    // The canonical fast path must accept only what the general scanner accepts, identically.
    const fast = extractCanonicalSummary(input);
    if (fast !== null) {
      fastPath++;
      let general: unknown;
      try {
        general = extractSummaryGeneral(input);
      } catch (err) {
        general = err;
      }
      assertEquals(
        fast,
        general,
        `fast path vs general on ${JSON.stringify(input)} (seed ${seed})`,
      );
    }
    let event: NostrEvent | null = null;
    try {
      // Signatures do not change the fields compared; verify a sample to keep the run bounded.
      event = decodeEventToon(input, { verify: i % 50 === 0 });
      decoded++;
    } catch (err) {
      if (!(err instanceof ToonDecodeError || err instanceof EventValidationError)) {
        throw new Error(`decoder threw ${err} on ${JSON.stringify(input)} (FUZZ_SEED=${seed})`);
      }
    }
    if (event) {
      assertEquals(
        summary,
        summarizeEvent(event),
        `differential on ${JSON.stringify(input)} (FUZZ_SEED=${seed})`,
      );
    }
  }
  console.log(
    `${ITERATIONS} inputs: ${extracted} extracted (${fastPath} by the fast path), ${decoded} decoded`,
  );
});

// Characters that matter to the canonical fast path's decisions.
const SMALL_EDITS = [" ", '"', "\\", ",", "\n", "\r", "-", "0", "1", "e", "p", "a", "[", "]", ":"];

Deno.test(`fuzz: fast path and general scanner agree on one-character edits (seed ${seed})`, () => {
  const rnd = seededRandom(seed ^ 0x5eed);
  let accepted = 0;
  for (let i = 0; i < ITERATIONS; i++) {
    const base = corpus[Math.floor(rnd() * corpus.length)];
    const pos = Math.floor(rnd() * base.length);
    const edit = SMALL_EDITS[Math.floor(rnd() * SMALL_EDITS.length)];
    const input = rnd() < 0.5
      ? base.slice(0, pos) + edit + base.slice(pos)
      : base.slice(0, pos) + edit + base.slice(pos + 1);
    const fast = extractCanonicalSummary(input);
    if (fast === null) continue;
    accepted++;
    let general: unknown;
    try {
      general = extractSummaryGeneral(input);
    } catch (err) {
      general = err;
    }
    assertEquals(fast, general, `fast path vs general on ${JSON.stringify(input)} (seed ${seed})`);
    let event: NostrEvent | null = null;
    try {
      event = decodeEventToon(input, { verify: false });
    } catch (err) {
      if (!(err instanceof ToonDecodeError || err instanceof EventValidationError)) throw err;
    }
    if (event) assertEquals(fast, summarizeEvent(event), `decoder on ${JSON.stringify(input)}`);
  }
  console.log(`${ITERATIONS} edits: ${accepted} taken by the fast path`);
});
