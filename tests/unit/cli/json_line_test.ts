/**
 * One typed JSON object per stdout line (docs/AGENTS.md): the helper's line, and no command of
 * the CLI printing JSON any other way.
 */
import { assertEquals } from "../../../harness/assert.ts";
import { jsonLine } from "../../../cli/json_line.ts";

Deno.test("jsonLine: one line, its type first and kept, bigints as strings", () => {
  const line = jsonLine("channel", { type: "other", deposit: 5n, nested: { a: [1n] } });
  assertEquals(line, '{"type":"channel","deposit":"5","nested":{"a":["1"]}}');
  assertEquals(line.includes("\n"), false);
});

Deno.test("the CLI prints JSON on stdout only through cli/json_line.ts", async () => {
  const dir = new URL("../../../cli/", import.meta.url);
  const offenders: string[] = [];
  for await (const entry of Deno.readDir(dir)) {
    if (!entry.name.endsWith(".ts") || entry.name === "json_line.ts") continue;
    const text = await Deno.readTextFile(new URL(entry.name, dir));
    text.split("\n").forEach((line, i) => {
      if (line.trimStart().startsWith("*") || line.trimStart().startsWith("//")) return;
      // JSON handed to console.log, or spread over several lines.
      if (/console\.log\(\s*JSON\.stringify|JSON\.stringify\([^)]*,\s*null,\s*\d/.test(line)) {
        offenders.push(`cli/${entry.name}:${i + 1}: ${line.trim()}`);
      }
    });
    if (/console\.log\(\s*\n\s*(json \? )?JSON\.stringify/.test(text)) {
      offenders.push(`cli/${entry.name}: console.log(JSON.stringify(...)) over lines`);
    }
  }
  assertEquals(offenders, []);
});

Deno.test("docs/AGENTS.md names every type a --json line of the CLI can have", async () => {
  const root = new URL("../../../", import.meta.url);
  const doc = await Deno.readTextFile(new URL("docs/AGENTS.md", root));
  const printed = new Set<string>(["error"]); // cli/cli_error.ts's line
  for (const dir of ["cli/", "roles/"]) {
    for await (const path of walkTs(new URL(dir, root))) {
      const text = await Deno.readTextFile(path);
      for (const m of text.matchAll(/\b(?:printJsonLine|jsonLine)\(\s*"([a-z-]+)"/g)) {
        printed.add(m[1]);
      }
    }
  }
  // A type is named in the doc as `type` (its table "What each command prints").
  const missing = [...printed].filter((t) => !doc.includes(`\`${t}\``)).sort();
  assertEquals(missing, []);
  // The scan finds the lines it should: the job commands' types at least.
  for (const t of ["job", "progress", "waiting", "result", "channel", "wallet-history"]) {
    assertEquals(printed.has(t), true, t);
  }
});

async function* walkTs(dir: URL): AsyncGenerator<URL> {
  for await (const entry of Deno.readDir(dir)) {
    const url = new URL(entry.name + (entry.isDirectory ? "/" : ""), dir);
    if (entry.isDirectory) yield* walkTs(url);
    else if (entry.name.endsWith(".ts")) yield url;
  }
}
