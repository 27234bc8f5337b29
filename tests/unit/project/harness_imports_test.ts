/**
 * Imports run one way between the tests and the benches (docs/ARCHITECTURE.md "Layers"): what
 * both use (towns, networks, processes, ports, assertions) lives in harness/, which tests/ and
 * bench/ import; neither bench/ nor harness/ imports a file under tests/. Static imports,
 * dynamic `import("...")` and module URLs (`new URL("...", import.meta.url)`, or a path from
 * the repository's root) all count, the reference peers' folder too: it is harness/peers/
 * (harness/reference_peers.ts).
 */
import { assertEquals } from "../../../harness/assert.ts";

const root = new URL("../../../", import.meta.url).pathname.replace(/\/$/, "");

/** The repository-relative module paths a file names (`from` is its own path). */
function namedModules(from: string, text: string): string[] {
  const relative = [
    /(?:import|export)\s[^"';]*?from\s*"(\.\.?\/[^"]+)"/g,
    /import\s*\(\s*"(\.\.?\/[^"]+)"\s*\)/g,
    /new URL\(\s*["`](\.\.?\/[^"`$]+)["`]\s*,\s*import\.meta\.url/g,
  ];
  const found: string[] = [];
  for (const pattern of relative) {
    for (const m of text.matchAll(pattern)) {
      found.push(new URL(m[1], `file:///${from}`).pathname.replace(/^\//, ""));
    }
  }
  // From the repository's root: `new URL("tests/support/x.ts", root)`.
  for (const m of text.matchAll(/new URL\(\s*["`](tests\/[^"`$]+)["`]/g)) found.push(m[1]);
  return found;
}

/** What `from` names under tests/. */
function testFilesNamed(from: string, text: string): string[] {
  return namedModules(from, text)
    .filter((path) => path.startsWith("tests/"))
    .map((path) => `${from} imports ${path}`);
}

async function* files(dir: string): AsyncGenerator<string> {
  for await (const entry of Deno.readDir(`${root}/${dir}`)) {
    const path = `${dir}/${entry.name}`;
    if (entry.isDirectory && entry.name !== "node_modules") yield* files(path);
    else if (entry.isFile && /\.(tsx?|mjs)$/.test(entry.name)) yield path;
  }
}

Deno.test("harness imports: no file of bench/ or harness/ imports a file under tests/", async () => {
  const problems: string[] = [];
  let scanned = 0;
  for (const folder of ["bench", "harness"]) {
    for await (const file of files(folder)) {
      scanned++;
      problems.push(...testFilesNamed(file, await Deno.readTextFile(`${root}/${file}`)));
    }
  }
  assertEquals(scanned > 40, true, `only ${scanned} files scanned: the walk missed the tree`);
  assertEquals(problems, []);
});

Deno.test("harness imports: the check names a static, a lazy, a module URL and a root path into tests/", () => {
  const text = [
    'import { x } from "../tests/support/a.ts";',
    'const m = await import("../tests/support/b.ts");',
    'const w = new URL("../tests/fixtures_stages/c.ts", import.meta.url);',
    'const r = new URL("tests/support/d.ts", root);',
    'const p = new URL("../tests/peers/", import.meta.url);',
    'import { y } from "../harness/e.ts";',
  ].join("\n");
  assertEquals(testFilesNamed("bench/f.ts", text), [
    "bench/f.ts imports tests/support/a.ts",
    "bench/f.ts imports tests/support/b.ts",
    "bench/f.ts imports tests/fixtures_stages/c.ts",
    "bench/f.ts imports tests/peers/",
    "bench/f.ts imports tests/support/d.ts",
  ]);
});
