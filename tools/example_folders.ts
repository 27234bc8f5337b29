/**
 * The source folders whose every doc example runs (docs/ARCHITECTURE.md "The test suite"): the
 * suite gives each one a `deno test --doc <folder>/` piece (tools/test_suite.ts), and
 * `deno task test:doc` runs them all. An example there is code a reader can paste: real values
 * (a generated key, a signed event, a temporary directory it removes), an outcome asserted with
 * `node:assert/strict`. Not a `declare` stub (no value behind it at run time), not
 * `console.assert` (it prints and never fails), not a compile-only `Deno.test({ ignore: true })`:
 * a function that needs a network or a process has no example, its prose naming the test that
 * runs it. tests/unit/project/doc_examples_test.ts holds the folders to this.
 *
 * ```sh
 * deno run -R tools/example_folders.ts    # examples per listed folder, and what keeps any from running
 * ```
 *
 * @module
 */
import { type DocExample, docExamples } from "./library_examples.ts";

/** The folders whose every example runs, in the order the suite queues them. */
export const EXAMPLE_FOLDERS: readonly string[] = [
  "protocol",
  "config",
  "identity",
  "stages",
  "pipeline",
  "transport",
  "chain",
  "state",
  "roles/town_client",
  "roles/receipts",
  "roles/channels",
  "roles/town",
  "roles/beads",
  "roles/agent_work",
  "roles/requester",
  "roles/demo",
  "roles/provider",
  "cli",
  "tools",
  "skills",
  "integrations",
  "harness",
];

const TYPESCRIPT = /^([cm]?[jt]s|[jt]sx|javascript|typescript)$/;

/**
 * What keeps an example from running as `deno test --doc` runs it, or undefined when nothing does
 * (a block in another language, `sh` or `toml`, is not an example and has no problem).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { docExamples } from "./library_examples.ts";
 * import { exampleProblem } from "./example_folders.ts";
 *
 * const fence = "\x60\x60\x60";
 * // "\x2e" keeps this example from being one: the check reads the source text.
 * const source = `/**\n * ${fence}ts\n * console\x2eassert(1 === 1);\n * ${fence}\n *\u002f\n`;
 * assert.equal(exampleProblem(docExamples(source)[0]), "console.assert (it never fails)");
 * ```
 */
export function exampleProblem(example: DocExample): string | undefined {
  if (!TYPESCRIPT.test(example.fence.split(/\s+/)[0])) return undefined;
  if (!example.checked) return "an ignore fence (neither checked nor run)";
  if (example.compileOnly) return "compile-only (an ignored Deno.test)";
  if (/^\s*declare\s/m.test(example.code)) return "a declare stub (no value at run time)";
  if (/\bconsole\.assert\(/.test(example.code)) return "console.assert (it never fails)";
  return undefined;
}

/**
 * The TypeScript modules under `folder` (relative to `root`, a directory URL), sorted.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { folderModules } from "./example_folders.ts";
 *
 * const modules = await folderModules(new URL("..", import.meta.url), "stages");
 * assert(modules.includes("stages/chunks.ts"));
 * ```
 */
export async function folderModules(root: URL, folder: string): Promise<string[]> {
  const found: string[] = [];
  const walk = async (dir: string): Promise<void> => {
    for await (const entry of Deno.readDir(new URL(dir, root))) {
      const path = `${dir}/${entry.name}`;
      if (entry.isDirectory && entry.name !== "node_modules") await walk(path);
      else if (entry.isFile && /\.tsx?$/.test(entry.name)) found.push(path);
    }
  };
  await walk(folder);
  return found.sort();
}

async function main(): Promise<void> {
  const root = new URL("..", import.meta.url);
  for (const folder of EXAMPLE_FOLDERS) {
    let examples = 0;
    for (const path of await folderModules(root, folder)) {
      for (const example of docExamples(await Deno.readTextFile(new URL(path, root)))) {
        if (!TYPESCRIPT.test(example.fence.split(/\s+/)[0])) continue;
        examples++;
        const problem = exampleProblem(example);
        if (problem) console.log(`${path}:${example.line}: ${problem}`);
      }
    }
    console.log(`${folder}/\t${examples} examples`);
  }
}

if (import.meta.main) await main();
