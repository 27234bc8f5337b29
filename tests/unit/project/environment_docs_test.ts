/**
 * Every `TURNPIKE_*` environment variable the code reads or sets is named in the docs (README.md
 * or docs/*.md), so a user can find it: names are read off the source's string literals, the way
 * the code passes them to `Deno.env` and the settings pickers.
 */
import { assertEquals } from "../../../harness/assert.ts";

const ROOTS = ["cli", "config", "roles", "state", "stages", "transport", "pipeline", "protocol"];
const MORE_ROOTS = ["chain", "identity", "skills"];

async function* sourceFiles(dir: string): AsyncGenerator<string> {
  for await (const entry of Deno.readDir(dir)) {
    const path = `${dir}/${entry.name}`;
    if (entry.isDirectory && entry.name !== "node_modules") yield* sourceFiles(path);
    else if (entry.isFile && /\.(ts|tsx)$/.test(entry.name)) yield path;
  }
}

Deno.test("environment variables: every TURNPIKE_* name in the source is documented", async () => {
  const names = new Map<string, string>();
  for (const root of [...ROOTS, ...MORE_ROOTS]) {
    const exists = await Deno.stat(root).then(() => true, () => false);
    if (!exists) continue;
    for await (const file of sourceFiles(root)) {
      const text = await Deno.readTextFile(file);
      // Names inside a string literal; a prefix (ending in `_`) is documented as a pattern.
      for (const m of text.matchAll(/["'`](TURNPIKE_[A-Z0-9_]*[A-Z0-9])["'`]/g)) {
        if (!names.has(m[1])) names.set(m[1], file);
      }
    }
  }
  let docs = await Deno.readTextFile("README.md");
  for await (const entry of Deno.readDir("docs")) {
    if (entry.isFile && entry.name.endsWith(".md")) {
      docs += await Deno.readTextFile(`docs/${entry.name}`);
    }
  }
  const patterns = [...docs.matchAll(/`(TURNPIKE_[A-Z0-9_]*_)<NAME>`/g)].map((m) => m[1]);
  const missing = [...names].filter(([name]) =>
    !docs.includes(name) && !patterns.some((p) => name.startsWith(p))
  ).map(([name, file]) => `${name} (${file})`);
  assertEquals(missing, [], "variables read in the code and named in no doc");
  // The scan itself works: it found the variables the docs' tables are built around.
  for (const known of ["TURNPIKE_HOME", "TURNPIKE_PROVIDER_MAX_IN_FLIGHT", "TURNPIKE_JOB_ID"]) {
    assertEquals(names.has(known), true, `${known} found in the source`);
  }
});
