/**
 * An agent-task result's logs (roles/agent_work/result_logs.ts) travel sealed with keys derived
 * from the bundle's: the report says nothing of them in the clear, and they open with that key
 * only; the verdict is read from the report all the same (protocol/job_verdict.ts).
 */
import { SealedBlobTamperedError } from "../../../../roles/agent_work/agent_work_errors.ts";
import { openResultLogs, sealResultLogs } from "../../../../roles/agent_work/result_logs.ts";
import { verdictOf, verdictSource } from "../../../../protocol/job_verdict.ts";
import { assert, assertEquals, assertRejects } from "../../../../harness/assert.ts";

const GATE_OUTPUT = "H4sIAAAAAAACA0XLsQ7CIBRG4f0+xZ/IAKEXKRJrN14FhFqikUGGJsZ318HodnKSL9dlAfOl";

Deno.test("a result's sealed logs hold none of their text and open with the bundle's key to it", async () => {
  const key = crypto.getRandomValues(new Uint8Array(32));
  const logs = await sealResultLogs(key, { agent: "agent: édité add.sh", gate: GATE_OUTPUT });
  const report = {
    verdict: "fail",
    agent: { preset: "fix", exitCode: 0, logTailSealed: logs.agent },
    gate: { command: "sh test.sh", exitCode: 1, logTailSealed: logs.gate },
    diffstat: { files: 1, insertions: 1, deletions: 0 },
  };
  assert(!JSON.stringify(report).includes(GATE_OUTPUT.slice(0, 12)));
  assertEquals(verdictOf(report), "failed");
  const opened = await openResultLogs(report, key);
  assertEquals(opened.agent, { preset: "fix", exitCode: 0, logTail: "agent: édité add.sh" });
  assertEquals(opened.gate, { command: "sh test.sh", exitCode: 1, logTail: GATE_OUTPUT });
  assertEquals(opened.diffstat, report.diffstat);
  const other = crypto.getRandomValues(new Uint8Array(32));
  await assertRejects(() => openResultLogs(report, other), SealedBlobTamperedError);
});

Deno.test("a report's verdict: an agent-task's gate verdict, else its status", () => {
  assertEquals(verdictOf({ verdict: "pass", gate: { exitCode: 0 } }), "passed");
  assertEquals(verdictOf({ verdict: "fail" }), "failed");
  assertEquals(verdictOf({ status: "tests-failed" }), "failed");
  assertEquals(verdictOf({ verdict: "maybe" }), undefined);
  assertEquals(verdictSource({ verdict: "fail" }), "report verdict fail");
  assertEquals(verdictSource({ status: "build-failed" }), "report status build-failed");
  assertEquals(verdictSource({}), undefined);
});
