/**
 * `deno task check`: type-checks every module (`deno check .`), then the `@example`s of every
 * module with examples (`deno check --doc`) except those listed in
 * `tools/doc_examples_pending.txt`, which do not compile yet. That list only shrinks: a module
 * whose examples are fixed is taken off it (tests/unit/doc_examples_pending_test.ts fails on an
 * entry that no longer exists or has no example).
 *
 * Run: deno run --allow-read=. --allow-run=deno tools/check_doc_examples.ts
 *
 * @module
 */

/** The list of modules whose examples are not checked yet. */
export const PENDING_LIST = "tools/doc_examples_pending.txt";

const SKIP_DIRS = new Set(["node_modules", "dist", ".git"]);

/** Options for {@linkcode modulesWithExamples}. */
export interface ModulesWithExamplesOptions {
  /** The repository root. Default ".". */
  root?: string;
}

/**
 * Every TypeScript module under `root` with a fenced example in a doc comment, as sorted paths
 * relative to it.
 *
 * @example
 * ```ts
 * import { modulesWithExamples } from "./check_doc_examples.ts";
 *
 * const modules = await modulesWithExamples({ root: "." });
 * console.log(modules.length);
 * ```
 */
export async function modulesWithExamples(
  options: ModulesWithExamplesOptions = {},
): Promise<string[]> {
  const root = options.root ?? ".";
  const found: string[] = [];
  const walk = async (dir: string) => {
    for await (const entry of Deno.readDir(`${root}/${dir}`)) {
      const path = dir === "" ? entry.name : `${dir}/${entry.name}`;
      if (entry.isDirectory && !SKIP_DIRS.has(entry.name)) await walk(path);
      else if (entry.isFile && /\.tsx?$/.test(entry.name)) {
        const text = await Deno.readTextFile(`${root}/${path}`);
        if (/^\s*\*\s*```(ts|tsx|typescript)?\s*$/m.test(text)) found.push(path);
      }
    }
  };
  await walk("");
  return found.sort();
}

/**
 * The modules of the pending list (comments after `#` and blank lines left out).
 *
 * @example
 * ```ts
 * import { readPendingList } from "./check_doc_examples.ts";
 *
 * console.log((await readPendingList(".")).length);
 * ```
 */
export async function readPendingList(root = "."): Promise<string[]> {
  const text = await Deno.readTextFile(`${root}/${PENDING_LIST}`);
  return text.split("\n").map((line) => line.replace(/#.*/, "").trim()).filter((l) => l !== "");
}

async function deno(args: string[]): Promise<boolean> {
  const { success } = await new Deno.Command("deno", {
    args,
    stdout: "inherit",
    stderr: "inherit",
  }).output();
  return success;
}

if (import.meta.main) {
  if (!(await deno(["check", "."]))) Deno.exit(1);
  const pending = new Set(await readPendingList());
  const checked = (await modulesWithExamples()).filter((path) => !pending.has(path));
  console.log(`checking the examples of ${checked.length} modules (${pending.size} pending)`);
  if (!(await deno(["check", "--doc", ...checked]))) Deno.exit(1);
}
