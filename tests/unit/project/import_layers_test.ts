/**
 * Imports flow one way (docs/ARCHITECTURE.md "Layers"): a module imports only from its own folder
 * or from a lower layer, never from a higher one nor from a sibling of its own layer. Static
 * imports, re-exports, dynamic `import("...")` and worker URLs (`new URL("...", import.meta.url)`)
 * all count: a lazily loaded module is still a dependency.
 */
import { assertEquals } from "../../../harness/assert.ts";

/** Lowest first; folders on one row are siblings and must not import each other. */
const LAYERS: readonly (readonly string[])[] = [
  ["protocol"],
  ["transport", "state"],
  ["config"],
  ["identity", "chain"],
  ["stages"],
  ["pipeline"],
  ["roles"],
  ["cli"],
];

const root = new URL("../../../", import.meta.url).pathname.replace(/\/$/, "");

function layerOf(folder: string): number {
  return LAYERS.findIndex((row) => row.includes(folder));
}

/** The relative specifiers a module's text names: imports, re-exports, dynamic imports, worker URLs. */
function relativeSpecifiers(text: string): string[] {
  const found: string[] = [];
  const patterns = [
    /(?:import|export)\s[^"';]*?from\s*"(\.\.?\/[^"]+)"/g,
    /import\s*\(\s*"(\.\.?\/[^"]+)"\s*\)/g,
    /new URL\(\s*"(\.\.?\/[^"]+\.ts)"\s*,\s*import\.meta\.url/g,
  ];
  for (const pattern of patterns) {
    for (const m of text.matchAll(pattern)) found.push(m[1]);
  }
  return found;
}

/** `from` and `to` are repository-relative paths; the first segment is the folder. */
function violation(from: string, to: string): string | undefined {
  const source = from.split("/")[0];
  const target = to.split("/")[0];
  if (source === target) return undefined;
  const s = layerOf(source);
  const t = layerOf(target);
  if (s < 0) return undefined;
  if (t < 0) return `${from} imports ${to}, outside every layer`;
  if (t > s) return `${from} imports ${to}, a higher layer`;
  if (t === s) return `${from} imports ${to}, a sibling of its layer`;
  return undefined;
}

function resolve(file: string, specifier: string): string {
  const url = new URL(specifier, `file:///${file}`);
  return url.pathname.replace(/^\//, "");
}

async function* sourceFiles(dir: string): AsyncGenerator<string> {
  for await (const entry of Deno.readDir(`${root}/${dir}`)) {
    const path = `${dir}/${entry.name}`;
    if (entry.isDirectory && entry.name !== "node_modules") yield* sourceFiles(path);
    else if (entry.isFile && /\.tsx?$/.test(entry.name)) yield path;
  }
}

Deno.test("import layers: no module imports a higher layer or a sibling layer", async () => {
  const problems: string[] = [];
  let edges = 0;
  for (const folder of LAYERS.flat()) {
    for await (const file of sourceFiles(folder)) {
      const text = await Deno.readTextFile(`${root}/${file}`);
      for (const specifier of relativeSpecifiers(text)) {
        edges++;
        const problem = violation(file, resolve(file, specifier));
        if (problem) problems.push(problem);
      }
    }
  }
  // The walk saw the tree (thousands of imports), so an empty list means something.
  assertEquals(edges > 1000, true, `only ${edges} imports found: the walk missed the tree`);
  assertEquals(problems, []);
});

Deno.test("import layers: the check names an upward, a sibling and a lazy import", () => {
  const text = [
    'import { x } from "../roles/town/town_node.ts";',
    'export { y } from "../state/event_store.ts";',
    'const m = await import("../cli/cli_main.ts");',
    'const w = new Worker(new URL("../pipeline/worker.ts", import.meta.url));',
    'import { z } from "./toon_codec.ts";',
  ].join("\n");
  const problems = relativeSpecifiers(text)
    .map((s) => violation("transport/btp_client.ts", resolve("transport/btp_client.ts", s)))
    .filter((p) => p !== undefined);
  assertEquals(problems, [
    "transport/btp_client.ts imports roles/town/town_node.ts, a higher layer",
    "transport/btp_client.ts imports state/event_store.ts, a sibling of its layer",
    "transport/btp_client.ts imports cli/cli_main.ts, a higher layer",
    "transport/btp_client.ts imports pipeline/worker.ts, a higher layer",
  ]);
});
