/**
 * Test helper for the audit log crash test: opens a job repository with a git audit log in
 * `Deno.args[0]` and creates jobs forever, printing each id only after `create` returned (ids
 * from `Deno.args[1]` on; `Deno.args[2]`: the audit's window, ms, default 20). The test SIGKILLs
 * it (often mid `git commit`, or with a long window before any) and checks every printed id
 * after a restart.
 *
 * @module
 */
import { openAuditLog } from "../../state/audit/audit_log.ts";
import { openJobRepository } from "../../state/jobs/job_repository.ts";
import { makeJobRecord } from "../../harness/job_record_factory.ts";

const audit = await openAuditLog({ dir: Deno.args[0], windowMs: Number(Deno.args[2] ?? "20") });
const repo = await openJobRepository({ stateDir: Deno.args[0], audit });
const encoder = new TextEncoder();
const base = Number(Deno.args[1] ?? "0");
for (let i = 1;; i++) {
  const job = await repo.create(makeJobRecord(base + i));
  // writeSync: a printed line is readable by the parent even after SIGKILL.
  Deno.stdout.writeSync(encoder.encode(job.id + "\n"));
}
