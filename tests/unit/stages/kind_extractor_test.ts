import {
  extractCanonicalSummary,
  extractSummary,
  extractSummaryGeneral,
  summarizeEvent,
  ToonShallowParseError,
} from "../../../protocol/kind_extractor.ts";
import { decodeEventToon, encodeEventToon } from "../../../protocol/toon_codec.ts";
import { signFixtureEvent } from "../../../fixtures/generate.ts";
import { createKindExtractor, kindExtractorStage } from "../../../stages/kind_extractor.ts";
import { createToonEncoder, toonEncoderStage } from "../../../stages/toon_encoder.ts";
import type { Chunk } from "../../../stages/chunks.ts";
import { NO_PERMISSIONS, StageOptionsError } from "../../../stages/stage.ts";
import { assert, assertEquals, assertThrows } from "../../../harness/assert.ts";

const E = "e".repeat(64);
const P = "c".repeat(64);
const event = signFixtureEvent({
  kind: 6100,
  created_at: 1700000123,
  tags: [["e", E, "wss://r"], ["p", P], ["e", "kind: 1"], ["amount", "5"]],
  content: "kind: 7000\nid: " + "0".repeat(64),
}, 1);
const toon = encodeEventToon(event);
const want = summarizeEvent(event);

function reasonOf(text: string): string {
  try {
    extractSummary(text);
    return "ok";
  } catch (err) {
    assert(err instanceof ToonShallowParseError, String(err));
    return err.reason;
  }
}

Deno.test("extracts exactly the fields of a full decode", () => {
  assertEquals(extractSummary(toon), want);
  assertEquals(want.e, [E, "kind: 1"]);
  assertEquals(want.p, [P]);
  assertEquals(summarizeEvent(decodeEventToon(toon)), want);
});

Deno.test("not fooled by kind:/id: text in content, tags or comments", () => {
  const sneaky = signFixtureEvent({
    kind: 1,
    created_at: 1,
    tags: [["t", "\nkind: 7000"], ["e", "- [2]: e," + E]],
    content: "\nkind: 7000\ntags[1]:\n  - [2]: p," + P,
  }, 0);
  const text = encodeEventToon(sneaky);
  assertEquals(extractSummary(text), summarizeEvent(sneaky));
  assertEquals(extractSummary("# kind: 7000\n" + text).kind, 1);
});

Deno.test("alternative valid forms: key order, quoted keys, delimiters, nested lists, CRLF", () => {
  const lines = toon.split("\n");
  const variants = [
    [...lines.slice(4, 9), ...lines.slice(0, 4), ...lines.slice(9)].join("\n"),
    toon.replace(/^kind:/m, '"kind":').replace(/^tags\[/m, '"tags"['),
    toon.replace(/^kind: /m, "kind :  "),
    toon.replace("- [3]: e,", "- [3|]: e|").replace(',"wss://r"', '|"wss://r"'),
    toon.replace(`- [2]: p,${P}`, `- [2]:\n    - p\n    - "${P}"`),
    toon.replaceAll("\n", "\r\n"),
    "\ufeff" + toon,
  ];
  for (const v of variants) {
    assertEquals(summarizeEvent(decodeEventToon(v)), want, v);
    assertEquals(extractSummary(v), want, v);
  }
});

Deno.test("empty tags in every form either TOON version writes", () => {
  const ev = signFixtureEvent({ kind: 5, created_at: 2, tags: [], content: "" }, 2);
  const ours = encodeEventToon(ev);
  for (const t of [ours, ours.replace("tags[0]:", "tags: []")]) {
    assertEquals(extractSummary(t), summarizeEvent(ev));
  }
});

Deno.test("precise errors with reason and line", () => {
  assertEquals(reasonOf(toon.replace(/^kind: .*/m, "kind: 1.5")), "bad-kind");
  assertEquals(reasonOf(toon.replace(/^kind: .*/m, 'kind: "5"')), "bad-kind");
  assertEquals(reasonOf(toon.replace(/^kind: .*/m, "kind: 65536")), "bad-kind");
  assertEquals(reasonOf(toon + "\nkind: 1"), "duplicate-key:kind");
  assertEquals(reasonOf(toon.replace(/^kind: .*\n/m, "")), "missing-key:kind");
  assertEquals(reasonOf(toon.replace(/^id: ./m, "id: G")), "bad-hex:id");
  assertEquals(reasonOf(toon.replace(/^pubkey: ../m, "pubkey: ")), "bad-hex:pubkey");
  assertEquals(reasonOf(toon.replace("tags[4]", "tags[5]")), "tag-count");
  assertEquals(reasonOf(toon.replace("tags[4]", "tags[3]")), "tag-count");
  assertEquals(reasonOf(toon.replace("- [2]: p", "- [3]: p")), "tag-count");
  assertEquals(reasonOf(toon.replace('- [2]: amount,"5"', "- [2]: amount,5")), "bad-tags");
  assertEquals(reasonOf(toon + "\n  kind: 7000"), "bad-indent");
  assertEquals(reasonOf(toon.replace("  - [2]: p", "   - [2]: p")), "bad-indent");
  assertEquals(reasonOf(toon + "\nfoo: 1"), "unknown-key:foo");
  assertEquals(reasonOf(toon.replace(/^content: .*/m, "content: 12")), "bad-content");
  assertEquals(reasonOf("x".repeat(2_000_000)), "too-large");
  assertEquals(reasonOf(""), "missing-key:id");
  const err = assertThrows(() => extractSummary(toon + "\nkind: 1"), ToonShallowParseError);
  assertEquals(err.line, toon.split("\n").length + 1);
});

Deno.test("kind extractor stage: summaries, kinds filter, failed chunks", async () => {
  const other = signFixtureEvent({ kind: 1, created_at: 3, tags: [], content: "x" }, 0);
  const input: Chunk[] = [
    { type: "toon", toon, source: "t" },
    { type: "toon", toon: encodeEventToon(other) },
    { type: "toon", toon: "kind: nope" },
  ];
  const run = async (options: Parameters<typeof createKindExtractor>[0]) =>
    await Array.fromAsync(ReadableStream.from(input).pipeThrough(createKindExtractor(options)));
  const all = await run({});
  assertEquals(all.map((c) => c.type), ["summary", "summary", "failed"]);
  assertEquals(all[0], { type: "summary", ...want, toon, source: "t" });
  const failed = all[2];
  assert(failed.type === "failed" && failed.error === "ToonShallowParseError");
  const filtered = await run(kindExtractorStage.parseOptions({ kinds: "6000-6999" }));
  assertEquals(filtered.map((c) => c.type), ["summary", "failed"]);
  assertThrows(() => kindExtractorStage.parseOptions({ kinds: "9-1" }), StageOptionsError);
  assertEquals(kindExtractorStage.permissions({}), NO_PERMISSIONS);
});

Deno.test("toon encoder stage: event chunks to TOON, bad events to failed", async () => {
  const out = await Array.fromAsync(
    ReadableStream.from<Chunk>([
      { type: "event", event, ref: "r1" },
      { type: "event", event: { ...event, kind: -1 } },
    ]).pipeThrough(createToonEncoder()),
  );
  assertEquals(out[0], { type: "toon", toon, source: "r1" });
  assert(out[1].type === "failed" && out[1].error === "EventValidationError");
  assertEquals(toonEncoderStage.permissions({}), NO_PERMISSIONS);
});

Deno.test("`deno run stages/kind_extractor.ts` turns the corpus into JSON lines", async () => {
  const corpus = await Deno.readFile(new URL("../../../fixtures/corpus.toon", import.meta.url));
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", new URL("../../../stages/kind_extractor.ts", import.meta.url).pathname],
    stdin: "piped",
    stdout: "piped",
    stderr: "piped",
    env: { NO_COLOR: "1" },
  }).spawn();
  // Read while writing: the output is larger than a pipe buffer.
  const done = child.output();
  const writer = child.stdin.getWriter();
  await writer.write(corpus);
  await writer.close();
  const { code, stdout, stderr } = await done;
  assertEquals(code, 0, new TextDecoder().decode(stderr));
  const lines = new TextDecoder().decode(stdout).trimEnd().split("\n");
  const records = new TextDecoder().decode(corpus).trimEnd().split("\n\n");
  assertEquals(lines.length, records.length);
  for (const line of lines) assertEquals(JSON.parse(line).type, "summary");
});

Deno.test("canonical fast path: takes what the encoder writes, same answer as the general scanner", async () => {
  assertEquals(extractCanonicalSummary(toon), want);
  assertEquals(extractCanonicalSummary(toon + "\n"), want);
  const unicode = signFixtureEvent({
    kind: 7000,
    created_at: 9,
    tags: [["e", E], ["status", "processing", 'quoted "x" \\ ok']],
    content: 'emoji 😀 and "quotes" kind: 1\n' + "x".repeat(40_000),
  }, 1);
  const unicodeToon = encodeEventToon(unicode);
  // Non-ASCII and a large content after the tags stay on the fast path.
  assertEquals(extractCanonicalSummary(unicodeToon), summarizeEvent(unicode));
  // Non-ASCII inside the tags, and every unusual form, go to the general scanner.
  const unicodeTag = encodeEventToon(signFixtureEvent({
    kind: 1,
    created_at: 9,
    tags: [["e", "é"]],
    content: "",
  }, 1));
  assertEquals(extractCanonicalSummary(unicodeTag), null);
  assertEquals(extractSummary(unicodeTag).e, ["é"]);
  for (
    const v of [
      toon.replaceAll("\n", "\r\n"),
      "\ufeff" + toon,
      toon.replace(/^kind:/m, '"kind":'),
      toon.replace("- [3]: e,", "- [3|]: e|").replace(',"wss://r"', '|"wss://r"'),
      toon + "\n# trailing comment",
      toon.replace(/^content: /m, "content:  "),
    ]
  ) {
    assertEquals(extractCanonicalSummary(v), null, v);
    assertEquals(extractSummary(v), want, v);
  }
  const records =
    (await Deno.readTextFile(new URL("../../../fixtures/corpus.toon", import.meta.url)))
      .trimEnd().split("\n\n");
  let fast = 0;
  for (const r of records) {
    const s = extractCanonicalSummary(r);
    if (s === null) continue;
    fast++;
    assertEquals(s, extractSummaryGeneral(r));
  }
  assert(fast >= 100, `${fast} corpus records on the fast path`);
});

Deno.test("canonical fast path: bytes of an earlier event never leak into a later one", () => {
  const long = encodeEventToon(signFixtureEvent({
    kind: 1,
    created_at: 1,
    tags: [["e", E], ["p", P], ["t", "x".repeat(300)]],
    content: "long",
  }, 0));
  assert(extractCanonicalSummary(long) !== null);
  // The same event cut inside its tags, then a whole sig line appended: the scratch buffer
  // still holds the rest of `long`, which must not complete the cut event.
  const cut = long.slice(0, long.indexOf("  - [2]: p,") + 20) + "\n" +
    long.slice(long.lastIndexOf("\ncontent:") + 1);
  assertEquals(extractCanonicalSummary(cut), null);
  assertEquals(reasonOf(cut), "tag-count");
});
