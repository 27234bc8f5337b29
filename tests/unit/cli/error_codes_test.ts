/**
 * The agent contract lists exactly the CLI's error codes and exit statuses (cli/error_codes.ts
 * is the one table; docs/AGENTS.md and the Claude skill are its readers), and the CLI prints
 * no code outside it.
 */
import { assert, assertEquals } from "../../../harness/assert.ts";
import { ERROR_CODES, EXIT_STATUSES, isErrorCode } from "../../../cli/error_codes.ts";
import { ExitCode } from "../../../cli/exit_codes.ts";
import { CliError, cliErrorJson } from "../../../cli/cli_error.ts";

const root = new URL("../../../", import.meta.url);

/** The first-column codes of the markdown table under a heading. */
function tableCodes(markdown: string, heading: string): string[] {
  const start = markdown.indexOf(heading);
  assert(start >= 0, `no "${heading}" in the doc`);
  const rest = markdown.slice(start + heading.length);
  const end = rest.search(/\n## /);
  const section = end < 0 ? rest : rest.slice(0, end);
  return section.split("\n")
    .filter((l) => l.startsWith("| `"))
    .flatMap((l) => [...l.split("|")[1].matchAll(/`([^`]+)`/g)].map((m) => m[1]));
}

Deno.test("docs/AGENTS.md lists every error code of the table, and no other", async () => {
  const doc = await Deno.readTextFile(new URL("docs/AGENTS.md", root));
  const listed = tableCodes(doc, "## Errors");
  assertEquals([...listed].sort(), Object.keys(ERROR_CODES).sort());
});

Deno.test("docs/AGENTS.md lists every exit status, with the codes' exits agreeing", async () => {
  const doc = await Deno.readTextFile(new URL("docs/AGENTS.md", root));
  const listed = tableCodes(doc, "## Exit codes").map(Number);
  assertEquals(listed.sort((a, b) => a - b), Object.values(ExitCode).sort((a, b) => a - b));
  assertEquals(
    Object.keys(EXIT_STATUSES).map(Number).sort(),
    listed.map(String).sort().map(Number),
  );
  for (const [code, info] of Object.entries(ERROR_CODES)) {
    assert((Object.values(ExitCode) as number[]).includes(info.exit), code);
  }
});

Deno.test("the Claude skill names the error codes an agent acts on", async () => {
  const skill = await Deno.readTextFile(
    new URL("integrations/claude/skills/turnpike-jobs/SKILL.md", root),
  );
  for (const code of ["no-provider", "bid-below-price", "node-busy", "passphrase", "channel"]) {
    assert(skill.includes(`\`${code}\``), `SKILL.md does not name ${code}`);
  }
});

Deno.test("every code literal the CLI's sources give a CliError is in the table", async () => {
  const found = new Set<string>();
  for (const dir of ["cli", "roles"]) {
    for await (const entry of Deno.readDir(new URL(`${dir}/`, root))) {
      if (!entry.isFile || !entry.name.endsWith(".ts")) continue;
      const text = await Deno.readTextFile(new URL(`${dir}/${entry.name}`, root));
      for (const m of text.matchAll(/\bcode: "([a-z-]+)"/g)) found.add(m[1]);
    }
  }
  assert(found.size > 10, `only ${found.size} codes found: the scan is broken`);
  const unknown = [...found].filter((c) => !isErrorCode(c));
  assertEquals(unknown, [], "codes given but not in cli/error_codes.ts");
});

Deno.test("an error that is not a CliError is `internal`; fields go into the object", () => {
  assertEquals(cliErrorJson(new TypeError("boom")).code, "internal");
  const json = cliErrorJson(
    new CliError("bid too low", { code: "bid-below-price", fields: { price: "120", bid: "50" } }),
  );
  assertEquals([json.code, json.price, json.bid, json.exit], ["bid-below-price", "120", "50", 1]);
  // The contract's own keys win over a field of the same name.
  const clash = cliErrorJson(new CliError("x", { code: "failed", fields: { type: "y" } }));
  assertEquals(clash.type, "error");
});
