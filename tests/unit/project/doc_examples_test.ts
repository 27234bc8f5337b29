/**
 * The folders whose every doc example runs (tools/example_folders.ts, docs/ARCHITECTURE.md "The
 * test suite"): no example there is a `declare` stub, a `console.assert`, an ignore fence or a
 * compile-only `Deno.test`, and `deno task test:doc` and the suite's doc pieces run exactly those
 * folders, so a folder once listed cannot slide back to examples that are only type-checked.
 */
import { assert, assertEquals } from "../../../harness/assert.ts";
import { docExamples } from "../../../tools/library_examples.ts";
import {
  argumentModules,
  EXAMPLE_FILES,
  EXAMPLE_FOLDERS,
  exampleArgument,
  exampleProblem,
  folderModules,
} from "../../../tools/example_folders.ts";
import { docPiece, folderDocPieces } from "../../../tools/test_suite.ts";
import { libraryModules } from "../../../tools/library_examples.ts";

const root = new URL("../../../", import.meta.url);

Deno.test("doc examples: every example in a listed folder or module runs (no declare stub, no console.assert, no compile-only)", async () => {
  const problems: string[] = [];
  let examples = 0;
  for (const folder of [...EXAMPLE_FOLDERS, ...EXAMPLE_FILES]) {
    for (const path of await argumentModules(root, exampleArgument(folder))) {
      for (
        const example of docExamples(
          await Deno.readTextFile(new URL(path, root)),
        )
      ) {
        examples++;
        const problem = exampleProblem(example);
        if (problem) problems.push(`${path}:${example.line}: ${problem}`);
      }
    }
  }
  assertEquals(problems, []);
  assert(
    examples > 300,
    `only ${examples} examples found: the walk missed the folders`,
  );
});

Deno.test("doc examples: no module anywhere in the repository has a compile-only example", async () => {
  const problems: string[] = [];
  let modules = 0;
  for await (const entry of Deno.readDir(root)) {
    if (entry.name.startsWith(".") || entry.name === "node_modules") continue;
    const paths = entry.isDirectory
      ? await folderModules(root, entry.name)
      : /\.tsx?$/.test(entry.name)
      ? [entry.name]
      : [];
    for (const path of paths) {
      modules++;
      for (const example of docExamples(await Deno.readTextFile(new URL(path, root)))) {
        if (example.compileOnly) problems.push(`${path}:${example.line}`);
      }
    }
  }
  assertEquals(problems, []);
  assert(modules > 500, `only ${modules} modules found: the walk missed the tree`);
});

Deno.test("doc examples: deno task test:doc and the suite's doc pieces run exactly the listed folders and modules", async () => {
  const config = JSON.parse(
    await Deno.readTextFile(new URL("deno.json", root)),
  ) as {
    tasks: Record<string, { command: string }>;
  };
  const command = config.tasks["test:doc"].command;
  const listed = [...EXAMPLE_FOLDERS, ...EXAMPLE_FILES];
  assertEquals(command.split(/\s+/).slice(4).sort(), listed.map(exampleArgument).sort());
  assert(/^deno test -A --doc /.test(command), command);
  const pieces = folderDocPieces(listed, {});
  assertEquals(
    pieces.map((p) => p.files),
    listed.map((entry) => [exampleArgument(entry)]),
  );
  assert(pieces.every((p) => p.doc), "a folder's piece runs its doc examples");
});

Deno.test("doc examples: each module mod.ts re-exports from runs once, in the library's piece or its folder's", async () => {
  const modText = await Deno.readTextFile(new URL("mod.ts", root));
  const library = docPiece(modText, {}, EXAMPLE_FOLDERS).files;
  const inFolders = libraryModules(modText)
    .filter((path) => EXAMPLE_FOLDERS.some((folder) => path.startsWith(`${folder}/`)));
  assert(
    inFolders.length > 10,
    `only ${inFolders.length} library modules in the listed folders`,
  );
  assertEquals(library.filter((path) => inFolders.includes(path)), []);
  assertEquals([...library, ...inFolders].sort(), libraryModules(modText));
});

Deno.test("doc examples: the check names a declare stub, a console.assert, an ignore fence and a compile-only example", () => {
  const fence = "```";
  const block = (
    info: string,
    code: string,
  ) => [` * ${fence}${info}`, ` * ${code}`, ` * ${fence}`];
  const source = [
    "/**",
    ...block("ts", "declare const event: NostrEvent;"),
    ...block("ts", "console.assert(1 === 1);"),
    ...block("ts ignore", "stub();"),
    ...block(
      "ts",
      'Deno.test({ name: "needs a relay", ignore: true, async fn() {} });',
    ),
    ...block("ts", 'import assert from "node:assert/strict";'),
    ...block("sh", "deno task test:doc"),
    " */",
  ].join("\n");
  assertEquals(docExamples(source).map(exampleProblem), [
    "a declare stub (no value at run time)",
    "console.assert (it never fails)",
    "an ignore fence (neither checked nor run)",
    "compile-only (an ignored Deno.test)",
    undefined,
    undefined,
  ]);
});
