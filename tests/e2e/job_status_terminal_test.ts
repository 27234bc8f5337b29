/**
 * `turnpike job status` prints a job's record as it was told by the network (a provider's error
 * feedback, its name) with its control characters shown as text (cli/terminal_text.ts): an escape
 * sequence in a provider's feedback cannot clear the requester's screen or set its window title.
 */
import { assertEquals, assertStringIncludes } from "../../harness/assert.ts";
import { runCli } from "../../harness/run_cli.ts";
import { makeJobRecord } from "../../harness/job_record_factory.ts";
import { openAuditLog } from "../../state/audit/audit_log.ts";
import { openJobRepository } from "../../state/jobs/job_repository.ts";

const HOSTILE = "\x1b[2J\x1b]0;pwned\x07";

Deno.test("job status: escape sequences in a provider's error feedback are printed as visible text, no raw ESC or BEL", async () => {
  const dir = await Deno.makeTempDir({ prefix: "job_status_terminal_" });
  try {
    const job = makeJobRecord(7, { status: "error", error: `provider said: ${HOSTILE}` });
    const audit = await openAuditLog({ dir });
    const repo = await openJobRepository({ stateDir: dir, audit });
    await repo.create(job);
    repo.close();
    await audit.close();
    const status = await runCli(["--state-dir", dir, "job", "status", job.id]);
    assertEquals(status.code, 0, status.stderr);
    const raw = ["\x1b", "\x07", "\x9b"].filter((c) => status.stdout.includes(c));
    assertEquals(raw, [], JSON.stringify(status.stdout));
    assertStringIncludes(status.stdout, "provider said: \\x1b[2J\\x1b]0;pwned\\x07");
    // JSON output keeps the text as it came (JSON escapes it).
    const json = await runCli(["--state-dir", dir, "--json", "job", "status", job.id]);
    assertEquals(JSON.parse(json.stdout).error, `provider said: ${HOSTILE}`);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
