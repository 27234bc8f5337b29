/**
 * Test helper: a profile's CLI driven as an agent drives it (docs/AGENTS.md): every command its
 * own `turnpike --profile <p> --json ...` process, the passphrase flags only on the commands
 * that pay (`job submit|wait|cancel`), stdout read line by line, each line required to be one
 * JSON object with a string `type`.
 *
 * @module
 */
import { assert, assertEquals } from "./assert.ts";
import { type CliResult, runCli } from "./run_cli.ts";

/** A command's outcome, with its stdout parsed. */
export interface AgentResult extends CliResult {
  /** Every stdout line, parsed (a line that is not one typed object fails the test). */
  lines: Record<string, unknown>[];
}

/** Options for {@linkcode agentCli}. */
export interface AgentCliOptions {
  profile: string;
  /** The environment (TURNPIKE_HOME). */
  env: Record<string, string>;
  /** The passphrase flags (`--passphrase-file <f> --non-interactive`). */
  secret: string[];
}

/**
 * Every line of `stdout`, parsed; each must be one JSON object with a string `type`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { ndjsonLines } from "./agent_cli.ts";
 *
 * assert.deepEqual(ndjsonLines('{"type":"job","id":"ab"}\n'), [{ type: "job", id: "ab" }]);
 * ```
 */
export function ndjsonLines(stdout: string): Record<string, unknown>[] {
  return stdout.split("\n").filter((l) => l !== "").map((line) => {
    const parsed = JSON.parse(line);
    assert(
      typeof parsed === "object" && parsed !== null && !Array.isArray(parsed),
      `not one object: ${line}`,
    );
    assertEquals(typeof parsed.type, "string", `no type: ${line}`);
    return parsed as Record<string, unknown>;
  });
}

/**
 * A runner of the profile's commands, as an agent runs them.
 *
 * It runs the CLI against a requester network's town and provider, so it has no example here:
 * tests/e2e/agent_accounting_test.ts drives its profiles with it.
 */
export function agentCli(
  options: AgentCliOptions,
): (...args: string[]) => Promise<AgentResult> {
  return async (...args) => {
    // `results --apply` pays a timed-out agent task's late delivery (docs/AGENTS.md).
    const pays = args[0] === "job" && (["submit", "wait", "cancel"].includes(args[1]) ||
      (args[1] === "results" && args.includes("--apply")));
    const out = await runCli(
      ["--profile", options.profile, "--json", ...args, ...(pays ? options.secret : [])],
      { env: options.env },
    );
    return { ...out, lines: ndjsonLines(out.stdout) };
  };
}
