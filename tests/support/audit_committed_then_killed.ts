/**
 * Test helper for the audit log's open after a kill: opens an audit log in `Deno.args[0]` (window
 * 1 ms, the in-process commit writer), records one row-held job file (its bytes given, not on
 * disk), waits until that commit is in history, prints `committed`, then waits to be SIGKILLed:
 * the index stays as the in-process writer leaves it (behind HEAD), as after any kill.
 *
 * @module
 */
import { openAuditLog } from "../../state/audit/audit_log.ts";

const dir = Deno.args[0];
const audit = await openAuditLog({ dir, windowMs: 1 });
const id = "ab".repeat(32);
const path = `jobs/${id}.toml`;
audit.record({
  action: "create",
  resource: "job",
  id,
  paths: [path],
  contents: { [path]: new TextEncoder().encode("id = 1\n") },
});
while (audit.commits === 0 || audit.pendingCount > 0) {
  await new Promise((r) => setTimeout(r, 5));
}
Deno.stdout.writeSync(new TextEncoder().encode("committed\n"));
await new Promise(() => {}); // until the SIGKILL
