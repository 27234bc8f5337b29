/**
 * The library's doc examples (tools/library_examples.ts): every example of a module `mod.ts`
 * exports from runs under the suite's `deno test --doc` piece (tools/test_suite.ts), none
 * compile-only, and the module list the piece runs is the one `deno info` reads off `mod.ts`.
 */
import { assert, assertEquals } from "../../../harness/assert.ts";
import { docExamples, libraryModules } from "../../../tools/library_examples.ts";
import { DOC_PIECE, docPiece } from "../../../tools/test_suite.ts";

const root = new URL("../../../", import.meta.url);
const modText = await Deno.readTextFile(new URL("mod.ts", root));

Deno.test("library examples: every example of the modules mod.ts exports from runs, none compile-only", async () => {
  const neither: string[] = [];
  let runs = 0;
  for (const path of libraryModules(modText)) {
    for (
      const example of docExamples(await Deno.readTextFile(new URL(path, root)))
    ) {
      const language = example.fence.split(/\s+/)[0];
      // A block in another language (sh, toml, text) or none is not a TypeScript example.
      if (!/^([cm]?[jt]s|[jt]sx|javascript|typescript)$/.test(language)) {
        continue;
      }
      if (example.runs) runs++;
      if (!example.runs) {
        const why = example.compileOnly ? "compile-only" : `\`\`\`${example.fence}`;
        neither.push(`${path}:${example.line}: ${why}`);
      }
      // `deno test --doc` wraps a running example in a function, where `declare` is TS1184.
      if (example.runs && /^\s*declare\s/m.test(example.code)) {
        neither.push(`${path}:${example.line}: runs with a declare (TS1184)`);
      }
    }
  }
  assertEquals(neither, []);
  assert(runs > 100, `only ${runs} examples run`);
});

Deno.test("library examples: the doc piece runs mod.ts and every module it re-exports from", async () => {
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["info", "--json", "mod.ts"],
    cwd: root.pathname,
    stdout: "piped",
    stderr: "piped",
  }).output();
  assert(out.success, new TextDecoder().decode(out.stderr));
  const info = JSON.parse(new TextDecoder().decode(out.stdout)) as {
    modules: { specifier: string; dependencies?: { specifier: string }[] }[];
  };
  const mod = info.modules.find((m) => m.specifier === new URL("mod.ts", root).href);
  const imported = (mod?.dependencies ?? [])
    .map((d) => d.specifier)
    .filter((s) => s.startsWith("./"))
    .map((s) => s.slice(2));
  const piece = docPiece(modText, { [DOC_PIECE]: 42 });
  assertEquals(piece.files, ["mod.ts", ...imported].sort());
  assertEquals([piece.doc, piece.seconds], [true, 42]);
});

Deno.test("library examples: an ignore fence neither runs nor compiles; an ignored Deno.test compiles only", () => {
  const fence = "```";
  const source = [
    "/**",
    " * @example",
    ` * ${fence}ts ignore`,
    " * stub();",
    ` * ${fence}`,
    " * @example",
    ` * ${fence}ts`,
    ' * Deno.test({ name: "needs a relay", ignore: true, async fn() {} });',
    ` * ${fence}`,
    " */",
    "/** Runs. */",
    "/**",
    ` * ${fence}ts`,
    " * console.log(1);",
    ` * ${fence}`,
    " */",
  ].join("\n");
  const examples = docExamples(source).map((e) => ({
    line: e.line,
    checked: e.checked,
    compileOnly: e.compileOnly,
    runs: e.runs,
    asserts: e.asserts,
  }));
  assertEquals(examples, [
    {
      line: 3,
      checked: false,
      compileOnly: false,
      runs: false,
      asserts: false,
    },
    { line: 7, checked: true, compileOnly: true, runs: false, asserts: false },
    { line: 13, checked: true, compileOnly: false, runs: true, asserts: false },
  ]);
});
