/**
 * A town that does not answer is `town-unreachable` whatever the command ran into (docs/AGENTS.md
 * "A town that does not answer"), never `internal`.
 */
import { assertEquals } from "../../../harness/assert.ts";
import { asCliError } from "../../../cli/job_command.ts";
import { cliErrorJson } from "../../../cli/cli_error.ts";
import { JobNotPostedError } from "../../../roles/requester/town_down.ts";
import { TownUnreachableError } from "../../../roles/requester/town_link.ts";
import { BtpConnectionError, BtpTimeoutError } from "../../../transport/btp_client.ts";

Deno.test("asCliError: every way a town does not answer is town-unreachable", () => {
  const job = "ab".repeat(32);
  const cases = [
    new TownUnreachableError("BTP btp+ws://127.0.0.1:1: refused"),
    new JobNotPostedError(job, "BTP btp+ws://127.0.0.1:1"),
    new BtpConnectionError("not connected to ws://127.0.0.1:1 within 30000 ms"),
    new BtpTimeoutError("no response within 30000 ms"),
  ];
  for (const err of cases) {
    const json = cliErrorJson(asCliError(err));
    assertEquals([json.type, json.code, json.exit], ["error", "town-unreachable", 1], err.name);
  }
  const notPosted = cliErrorJson(asCliError(cases[1]));
  assertEquals([notPosted.job, notPosted.status], [job, "error"]);
});
