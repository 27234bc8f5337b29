/**
 * Every reference from code or docs to a section of a doc (`docs/OPERATIONS.md "A town's
 * limits"`) names one that exists: a heading, or a paragraph's bold lead (`**Expiry**`), matched
 * whole, or up to the heading's subtitle after `:` or ` (` ("Paying providers" for "Paying
 * providers: the town's books per peer and its payouts"). And every module docs/ARCHITECTURE.md
 * names (`roles/town/town_node.ts`, `town_sizing.ts`) is one of the tree's.
 */
import { assert, assertEquals } from "../../../harness/assert.ts";

const root = new URL("../../../", import.meta.url);
const SKIP = /^(vendor|tests\/peers|tools\/node_modules|node_modules)\/|doc_references_test/;

/** The sections of a doc, lower-cased, without backticks. */
function sections(text: string): string[] {
  const clean = (s: string) => s.replaceAll("`", "").trim().toLowerCase().replace(/[.:]$/, "");
  return [
    ...[...text.matchAll(/^#+\s+(.*)$/gm)].map((m) => clean(m[1])),
    ...[...text.matchAll(/^(?:- )?\*\*([^*]+)\*\*/gm)].map((m) => clean(m[1])),
  ];
}

/** Whether `ref` names one of `known`. */
function names(known: string[], ref: string): boolean {
  const r = ref.replaceAll("`", "").trim().toLowerCase();
  return known.some((s) => s === r || s.startsWith(`${r}:`) || s.startsWith(`${r} (`));
}

/**
 * The `docs/X.md "Section"` references of a text, joined across comment line breaks: also in
 * parentheses (`docs/X.md ("Section")`) and as a list (`docs/X.md "One" and "Two"`).
 */
function references(text: string): { doc: string; section: string }[] {
  const joined = text.replace(/\n\s*(?:\*|\/\/)\s*/g, " ");
  const refs =
    /docs\/([A-Z_]+\.md),? \(?("[^"\n]{1,120}"(?:(?:,? and |,? or |, )"[^"\n]{1,120}")*)/g;
  return [...joined.matchAll(refs)].flatMap((m) =>
    [...m[2].matchAll(/"([^"\n]{1,120})"/g)].map((s) => ({ doc: m[1], section: s[1] }))
  );
}

async function trackedFiles(): Promise<string[]> {
  const out = await new Deno.Command("git", {
    args: ["ls-files", "-co", "--exclude-standard", "*.ts", "*.md"],
    cwd: root.pathname,
    stdout: "piped",
  }).output();
  return new TextDecoder().decode(out.stdout).split("\n").filter((f) => f && !SKIP.test(f));
}

Deno.test("doc references: every section a file names exists in its doc", async () => {
  const docs = new Map<string, string[]>();
  for await (const entry of Deno.readDir(new URL("docs/", root))) {
    if (!entry.name.endsWith(".md")) continue;
    docs.set(entry.name, sections(await Deno.readTextFile(new URL(`docs/${entry.name}`, root))));
  }
  const broken: string[] = [];
  let seen = 0;
  for (const file of await trackedFiles()) {
    const text = await Deno.readTextFile(new URL(file, root)).catch(() => "");
    for (const { doc, section } of references(text)) {
      seen++;
      const known = docs.get(doc);
      if (known === undefined) broken.push(`${file}: docs/${doc} does not exist`);
      else if (!names(known, section)) broken.push(`${file}: docs/${doc} "${section}"`);
    }
  }
  assertEquals(broken, []);
  assert(seen > 150, `the scan found the references (${seen})`);
});

Deno.test("doc references: the matcher takes headings, bold leads and subtitles, nothing looser", () => {
  const known = sections(
    "# Title\n## Paying providers: the books\n- **Expiry** of a packet\n**Peers that do not read** (x)\n## Pipelines and their permissions\n",
  );
  assert(names(known, "Paying providers"));
  assert(names(known, "Expiry"));
  assert(names(known, "Peers that do not read"));
  assert(names(known, "Pipelines and their permissions"));
  assert(!names(known, "Pipelines"));
  assert(!names(known, "Paying"));
  assertEquals(
    references('see docs/OPERATIONS.md "A town\'s\n * limits" and docs/AGENTS.md, "Errors"'),
    [{ doc: "OPERATIONS.md", section: "A town's limits" }, { doc: "AGENTS.md", section: "Errors" }],
  );
  assertEquals(
    references('docs/ARCHITECTURE.md ("Workers"), docs/AGENTS.md "Errors" and "Exit codes"'),
    [
      { doc: "ARCHITECTURE.md", section: "Workers" },
      { doc: "AGENTS.md", section: "Errors" },
      { doc: "AGENTS.md", section: "Exit codes" },
    ],
  );
});

Deno.test("doc references: every module docs/ARCHITECTURE.md names exists", async () => {
  // The scan leaves this file out of the references, not out of the tree.
  const files = [...await trackedFiles(), "tests/unit/project/doc_references_test.ts"]
    .filter((f) => f.endsWith(".ts"));
  const names = new Set(files.map((f) => f.slice(f.lastIndexOf("/") + 1)));
  const text = await Deno.readTextFile(new URL("docs/ARCHITECTURE.md", root));
  const named = new Set([...text.matchAll(/`([\w./-]+\.ts)`/g)].map((m) => m[1]));
  const gone = [...named].filter((m) =>
    m.includes("/") ? !files.some((f) => f === m || f.endsWith(`/${m}`)) : !names.has(m)
  );
  assertEquals(gone, []);
  assert(named.size > 200, `the scan found the modules (${named.size})`);
});
