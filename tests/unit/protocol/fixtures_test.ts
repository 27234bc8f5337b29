import { type FixtureEntry, generateFixtures } from "../../../fixtures/generate.ts";
import { extractSummary } from "../../../protocol/kind_extractor.ts";
import { decodeEventToon } from "../../../protocol/toon_codec.ts";
import { assert, assertEquals } from "../../../harness/assert.ts";

const root = new URL("../../../fixtures/", import.meta.url);
const manifest = JSON.parse(await Deno.readTextFile(new URL("manifest.json", root))) as {
  files: FixtureEntry[];
};

function outcome(fn: () => unknown): unknown {
  try {
    const value = fn();
    return value === undefined ? { ok: true } : value;
  } catch (err) {
    return { error: (err as Error).name, reason: (err as { reason?: string }).reason };
  }
}

Deno.test("every fixture yields what the manifest says, through extractor and decoder", async () => {
  assert(manifest.files.length > 0);
  for (const entry of manifest.files) {
    const text = await Deno.readTextFile(new URL(entry.path, root));
    const ex = outcome(() => ({ summary: extractSummary(text) }));
    assertEquals(ex, entry.extractor, `extractor on ${entry.path}`);
    const de = outcome(() => void decodeEventToon(text));
    assertEquals(de, entry.decoder, `decoder on ${entry.path}`);
    if ("ok" in entry.decoder && "summary" in entry.extractor) {
      // The full decode must agree with the summary the manifest records.
      const ev = decodeEventToon(text);
      assertEquals([ev.kind, ev.id, ev.pubkey, ev.created_at], [
        entry.extractor.summary.kind,
        entry.extractor.summary.id,
        entry.extractor.summary.pubkey,
        entry.extractor.summary.created_at,
      ]);
    }
  }
});

Deno.test("coverage: >= 100 valid events across the required kinds; no empty lines", async () => {
  const valid = manifest.files.filter((f) => f.category === "valid");
  assert(valid.length >= 100, `${valid.length} valid`);
  const kinds = new Set(valid.map((f) => "summary" in f.extractor ? f.extractor.summary.kind : -1));
  for (const k of [1, 5, 1059, 7000, 10032, 23194, 23195, 31990]) assert(kinds.has(k), `kind ${k}`);
  assert([...kinds].filter((k) => k >= 5000 && k < 6000).length >= 4, "several job kinds");
  assert([...kinds].filter((k) => k >= 6000 && k < 7000).length >= 4, "several result kinds");
  for (const cat of ["malformed", "adversarial"]) {
    assert(manifest.files.some((f) => f.category === cat), cat);
  }
  for (const entry of manifest.files) {
    const text = await Deno.readTextFile(new URL(entry.path, root));
    assert(!/\n[ \t]*\r?\n/.test(text.trimEnd() + "\n"), `empty line in ${entry.path}`);
  }
});

Deno.test("the generator is deterministic and the files on disk are its output", async () => {
  const a = generateFixtures().files;
  const b = generateFixtures().files;
  assertEquals([...a.entries()], [...b.entries()]);
  for (const [path, text] of a) {
    assertEquals(await Deno.readTextFile(new URL(path, root)), text, `${path} is stale`);
  }
});

Deno.test("the corpus holds every record whose full decode succeeds", async () => {
  const corpus = await Deno.readTextFile(new URL("corpus.toon", root));
  const records = corpus.trimEnd().split("\n\n");
  const decodable = manifest.files.filter((f) => "ok" in f.decoder);
  assertEquals(records.length, decodable.length);
  for (const r of records) decodeEventToon(r);
});

Deno.test("the corpus tells a correlated story: results, feedback, cancellations refer to its requests", async () => {
  const records = (await Deno.readTextFile(new URL("corpus.toon", root))).trimEnd().split("\n\n");
  const summaries = records.map((r) => extractSummary(r));
  const requests = new Map(
    summaries.filter((s) => s.kind >= 5000 && s.kind <= 5999).map((s) => [s.id, s]),
  );
  const tally = (pick: (kind: number) => boolean, refs: (s: typeof summaries[0]) => string[]) => {
    let matched = 0;
    let unmatched = 0;
    for (const s of summaries.filter((x) => pick(x.kind))) {
      const request = refs(s).map((id) => requests.get(id)).find((r) => r !== undefined);
      if (request === undefined) {
        unmatched++;
        continue;
      }
      matched++;
      // NIP-90: a result's kind is its request's kind + 1000.
      if (s.kind >= 6000 && s.kind <= 6999) assertEquals(s.kind, request.kind + 1000);
      if (s.kind === 5) assertEquals(s.pubkey, request.pubkey, "only the requester cancels");
    }
    return { matched, unmatched };
  };
  const results = tally((k) => k >= 6000 && k <= 6999, (s) => s.e.slice(0, 1));
  const feedback = tally((k) => k === 7000, (s) => s.e.slice(0, 1));
  const cancels = tally((k) => k === 5, (s) => s.e);
  for (const [name, t] of Object.entries({ results, feedback, cancels })) {
    assert(t.matched > 2 * t.unmatched, `${name}: most refer to corpus requests (${t.matched})`);
    assert(t.unmatched >= 1, `${name}: a few refer to unknown jobs`);
  }
});
