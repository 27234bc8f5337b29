/**
 * The source folders whose every doc example runs (docs/ARCHITECTURE.md "The test suite"): the
 * suite gives each one a `deno test --doc <folder>/` piece (tools/test_suite.ts), and
 * `deno task test:doc` runs them all; {@linkcode EXAMPLE_FILES} does the same for modules outside
 * them (a folder's root files, the command's entry point). An example there is code a reader can paste: real values
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
  "fixtures",
  "bench",
];

/**
 * Modules outside {@linkcode EXAMPLE_FOLDERS} whose every example runs, as `deno test` takes them:
 * a folder's root files as a glob (`roles/*.ts`: its subfolders are entries of their own), or a
 * file. Each is a piece of the suite, `deno test --doc <entry>`.
 */
export const EXAMPLE_FILES: readonly string[] = ["roles/*.ts", "cli.ts"];

const TYPESCRIPT = /^([cm]?[jt]s|[jt]sx|javascript|typescript)$/;

/**
 * The block is code `deno test --doc` would read (TypeScript or JavaScript, with or without
 * `ignore`), not a block in another language (`sh`, `toml`).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { docExamples } from "./library_examples.ts";
 * import { isCodeExample } from "./example_folders.ts";
 *
 * const fence = "\x60\x60\x60";
 * const source = `/**\n * ${fence}sh\n * deno task test:doc\n * ${fence}\n *\u002f\n`;
 * assert.equal(isCodeExample(docExamples(source)[0]), false);
 * ```
 */
export function isCodeExample(example: DocExample): boolean {
  return TYPESCRIPT.test(example.fence.split(/\s+/)[0]);
}

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
  if (!isCodeExample(example)) return undefined;
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

/**
 * What `deno test --doc` is given for an entry of {@linkcode EXAMPLE_FOLDERS} or
 * {@linkcode EXAMPLE_FILES}: a folder as `folder/`, a file or a glob as it is.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { exampleArgument } from "./example_folders.ts";
 *
 * assert.deepEqual(["stages", "roles/*.ts", "cli.ts"].map(exampleArgument), ["stages/", "roles/*.ts", "cli.ts"]);
 * ```
 */
export function exampleArgument(entry: string): string {
  return /\.tsx?$/.test(entry) ? entry : `${entry}/`;
}

/**
 * The TypeScript modules `deno test --doc <argument>` reads, relative to `root` (a directory
 * URL), sorted: a folder's (`stages/`, walked), a folder's root files (`roles/*.ts`), or a file.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { argumentModules } from "./example_folders.ts";
 *
 * const root = new URL("..", import.meta.url);
 * const roots = await argumentModules(root, "roles/*.ts");
 * assert(roots.includes("roles/role_error.ts"));
 * assert(!roots.some((path) => path.startsWith("roles/town/")));
 * assert.deepEqual(await argumentModules(root, "cli.ts"), ["cli.ts"]);
 * ```
 */
export async function argumentModules(root: URL, argument: string): Promise<string[]> {
  if (argument.endsWith("/")) return await folderModules(root, argument.slice(0, -1));
  const glob = /^(.*)\/\*\.ts$/.exec(argument);
  if (glob === null) return [argument];
  const found: string[] = [];
  for await (const entry of Deno.readDir(new URL(`${glob[1]}/`, root))) {
    if (entry.isFile && entry.name.endsWith(".ts")) found.push(`${glob[1]}/${entry.name}`);
  }
  return found.sort();
}

async function main(): Promise<void> {
  const root = new URL("..", import.meta.url);
  for (const folder of [...EXAMPLE_FOLDERS, ...EXAMPLE_FILES]) {
    let examples = 0;
    for (const path of await argumentModules(root, exampleArgument(folder))) {
      for (const example of docExamples(await Deno.readTextFile(new URL(path, root)))) {
        if (!isCodeExample(example)) continue;
        examples++;
        const problem = exampleProblem(example);
        if (problem) console.log(`${path}:${example.line}: ${problem}`);
      }
    }
    console.log(`${exampleArgument(folder)}\t${examples} examples`);
  }
}

if (import.meta.main) await main();
