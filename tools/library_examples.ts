/**
 * The library's doc examples (docs/ARCHITECTURE.md "The test suite"): the modules a user reads
 * through `mod.ts` (it and every module it re-exports from, read from its `export ... from`
 * lines, so a new export is covered), and the fenced code blocks in their doc comments, each
 * classed as `deno test --doc` treats it.
 *
 * An example runs unless it is compile-only: its body in `Deno.test({ ignore: true, ... })`, which
 * `deno test --doc` type-checks and reports as ignored (Deno has no fence that type-checks a block
 * without running it; `ignore` skips both). No module keeps one any more: what needs what a test
 * cannot have (a relay, a chain, a Docker engine) has no example, its prose naming the test that
 * runs it; the class stays so tests/unit/project/doc_examples_test.ts can name one.
 *
 * ```sh
 * deno run -R tools/library_examples.ts    # examples, compile-only, run, assert; per module
 * ```
 *
 * @module
 */

/** The languages `deno test --doc` type-checks and runs (a block with none it leaves alone). */
const CODE_LANGUAGES = new Set([
  "js",
  "javascript",
  "mjs",
  "cjs",
  "jsx",
  "ts",
  "typescript",
  "mts",
  "cts",
  "tsx",
]);

/** One fenced code block of a doc comment. */
export interface DocExample {
  /** The line of its opening fence, from 1. */
  line: number;
  /** The fence's words after the backticks (`ts`, `ts ignore`). */
  fence: string;
  /** The block's code, the comment's ` * ` taken off. */
  code: string;
  /** `deno test --doc` type-checks it (a code language, no `ignore`). */
  checked: boolean;
  /** Checked, and its body wrapped in an ignored `Deno.test`. */
  compileOnly: boolean;
  /** Checked and run. */
  runs: boolean;
  /** Runs and calls an assertion (`node:assert`; not `console.assert`, which never throws). */
  asserts: boolean;
}

/**
 * The modules of the library's face, relative to the project root: `mod.ts` and each module it
 * re-exports from, sorted.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { libraryModules } from "./library_examples.ts";
 *
 * const mod = 'export { a } from "./protocol/a.ts";\nexport { b, c } from "./chain/b.ts";\n';
 * assert.deepEqual(libraryModules(mod), ["chain/b.ts", "mod.ts", "protocol/a.ts"]);
 * ```
 */
export function libraryModules(modText: string): string[] {
  const modules = new Set(["mod.ts"]);
  for (const m of modText.matchAll(/^export [^;]*? from "\.\/([^"]+)";/gms)) {
    modules.add(m[1]);
  }
  return [...modules].sort();
}

/**
 * The fenced code blocks of a module's doc comments, in order.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { docExamples } from "./library_examples.ts";
 *
 * const fence = "\x60\x60\x60";
 * const source = `/**\n * @example\n * ${fence}ts\n * assert.equal(1, 1);\n * ${fence}\n *\u002f\n`;
 * const [example] = docExamples(source);
 * assert.deepEqual([example.line, example.runs, example.asserts], [3, true, true]);
 * ```
 */
export function docExamples(source: string): DocExample[] {
  const examples: DocExample[] = [];
  const lines = source.split("\n");
  let inComment = false;
  let open: { line: number; fence: string; code: string[] } | undefined;
  for (const [i, raw] of lines.entries()) {
    if (!inComment) {
      if (/^\s*\/\*\*/.test(raw) && !/\*\/\s*$/.test(raw)) inComment = true;
      continue;
    }
    if (/^\s*\*\/\s*$/.test(raw) || (!open && /\*\/\s*$/.test(raw))) {
      inComment = false;
      open = undefined;
      continue;
    }
    const text = raw.replace(/^\s*\* ?/, "");
    const fence = /^```(.*)$/.exec(text.trim());
    if (!open) {
      if (fence) open = { line: i + 1, fence: fence[1].trim(), code: [] };
      continue;
    }
    if (!fence) {
      open.code.push(text);
      continue;
    }
    const code = open.code.join("\n");
    const [language = "", ...attributes] = open.fence.split(/\s+/);
    const checked = CODE_LANGUAGES.has(language) &&
      !attributes.includes("ignore");
    const compileOnly = checked && /Deno\.test\(\{[^]*?ignore: true/.test(code);
    const runs = checked && !compileOnly;
    const asserts = runs && /(?<!console\.)\bassert(\.\w+)?\(/.test(code);
    examples.push({
      line: open.line,
      fence: open.fence,
      code,
      checked,
      compileOnly,
      runs,
      asserts,
    });
    open = undefined;
  }
  return examples;
}

async function main(): Promise<void> {
  const root = new URL("..", import.meta.url);
  const modules = libraryModules(
    await Deno.readTextFile(new URL("mod.ts", root)),
  );
  const total = {
    examples: 0,
    compileOnly: 0,
    runs: 0,
    asserts: 0,
    unchecked: 0,
  };
  for (const path of modules) {
    const examples = docExamples(await Deno.readTextFile(new URL(path, root)))
      .filter((e) => CODE_LANGUAGES.has(e.fence.split(/\s+/)[0]));
    const count = {
      examples: examples.length,
      compileOnly: examples.filter((e) => e.compileOnly).length,
      runs: examples.filter((e) => e.runs).length,
      asserts: examples.filter((e) => e.asserts).length,
      unchecked: examples.filter((e) => !e.checked).length,
    };
    for (const key of Object.keys(total) as (keyof typeof total)[]) {
      total[key] += count[key];
    }
    console.log(`${path}\t${Object.values(count).join("\t")}`);
  }
  console.log(`${modules.length} modules\t${Object.values(total).join("\t")}`);
  console.log("(examples, compile-only, run, assert, neither checked nor run)");
}

if (import.meta.main) await main();
