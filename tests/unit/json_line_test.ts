/**
 * One typed JSON object per stdout line (docs/AGENTS.md): the helper's line, and no command of
 * the CLI printing JSON any other way.
 */
import { assertEquals } from "../support/assert.ts";
import { jsonLine } from "../../cli/json_line.ts";

Deno.test("jsonLine: one line, its type first and kept, bigints as strings", () => {
  const line = jsonLine("channel", { type: "other", deposit: 5n, nested: { a: [1n] } });
  assertEquals(line, '{"type":"channel","deposit":"5","nested":{"a":["1"]}}');
  assertEquals(line.includes("\n"), false);
});

Deno.test("the CLI prints JSON on stdout only through cli/json_line.ts", async () => {
  const dir = new URL("../../cli/", import.meta.url);
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
