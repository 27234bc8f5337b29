/**
 * Every example in the product runs (docs/ARCHITECTURE.md "The test suite"): each module of the
 * repository with a TypeScript example in its doc comments, outside tests/ and what is not the
 * project's (node_modules, vendor), is read by exactly one of the suite's doc pieces (the
 * library's, a folder's, a folder's root files, a file; tools/test_suite.ts), so a new module in
 * a folder no piece runs, or a piece that runs a module twice, is named here.
 */
import { assert, assertEquals } from "../../../harness/assert.ts";
import { docExamples } from "../../../tools/library_examples.ts";
import {
  argumentModules,
  EXAMPLE_FILES,
  EXAMPLE_FOLDERS,
  folderModules,
  isCodeExample,
} from "../../../tools/example_folders.ts";
import { docPiece, folderDocPieces } from "../../../tools/test_suite.ts";

const root = new URL("../../../", import.meta.url);
const NOT_PRODUCT = new Set(["node_modules", "vendor", "tests"]);

/** The modules with a TypeScript example, relative to the root, sorted. */
async function modulesWithExamples(): Promise<string[]> {
  const found: string[] = [];
  for await (const entry of Deno.readDir(root)) {
    if (entry.name.startsWith(".") || NOT_PRODUCT.has(entry.name)) continue;
    const paths = entry.isDirectory
      ? await folderModules(root, entry.name)
      : /\.tsx?$/.test(entry.name)
      ? [entry.name]
      : [];
    for (const path of paths) {
      const examples = docExamples(await Deno.readTextFile(new URL(path, root)));
      if (examples.some(isCodeExample)) found.push(path);
    }
  }
  return found.sort();
}

Deno.test("doc examples: every module with an example, outside tests/, is run by exactly one of the suite's doc pieces", async () => {
  const modText = await Deno.readTextFile(new URL("mod.ts", root));
  const pieces = [
    docPiece(modText, {}, EXAMPLE_FOLDERS),
    ...folderDocPieces([...EXAMPLE_FOLDERS, ...EXAMPLE_FILES], {}),
  ];
  const runs = new Map<string, string[]>();
  for (const piece of pieces) {
    for (const argument of piece.files) {
      for (const path of await argumentModules(root, argument)) {
        runs.set(path, [...runs.get(path) ?? [], piece.name ?? argument]);
      }
    }
  }
  const modules = await modulesWithExamples();
  assert(
    modules.length > 400,
    `only ${modules.length} modules with examples: the walk missed the tree`,
  );
  assertEquals(modules.filter((path) => !runs.has(path)), [], "modules no doc piece runs");
  assertEquals(
    modules.filter((path) => runs.get(path)!.length > 1).map((path) =>
      `${path}: ${runs.get(path)}`
    ),
    [],
    "modules run by more than one doc piece",
  );
});
