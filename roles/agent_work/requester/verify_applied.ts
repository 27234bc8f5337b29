/**
 * `job results --apply --verify`: the job's own acceptance command run on the applied branch on
 * the requester's machine, sandboxed with no network (roles/agent_work/local_gate.ts), its
 * verdict kept beside the provider's (docs/AGENTS.md).
 *
 * @module
 */
import type { RequesterJobRecord } from "../../../state/jobs/job_record.ts";
import { type AgentTaskLocal, rememberAgentTask } from "../../../state/jobs/agent_task_record.ts";
import { LocalGateUnavailableError } from "./requester_agent_errors.ts";

/**
 * The job's acceptance command run here on the applied tip (roles/agent_work/local_gate.ts), its
 * verdict kept in the profile's `agent-tasks/<id>.json` beside the provider's; `mismatch` when
 * the gate fails here and the provider reported it passed. Throws
 * {@linkcode LocalGateUnavailableError} when the gate cannot run here.
 *
 * It runs the sandbox and git: no example that runs here: tests/e2e/agent_task_verify_test.ts.
 */
export async function verifyApplied(
  o: { stateDir: string; record: RequesterJobRecord },
  local: AgentTaskLocal,
  tip: string,
  providerVerdict: unknown,
): Promise<Record<string, unknown>> {
  // Loaded by --verify only: the sandbox's modules stay out of a plain --apply (a specifier
  // known only when the import runs is read then, docs/SCALE.md "A command's start").
  const { runLocalGate }: typeof import("../local_gate.ts") = await import(
    new URL("../local_gate.ts", import.meta.url).href
  );
  const seen = await runLocalGate({
    repoDir: local.repo,
    commit: tip,
    accept: local.accept!,
    hiddenPaths: [o.stateDir],
  }).catch((err: Error) => {
    throw new LocalGateUnavailableError(err.message, { cause: err });
  });
  const verified = {
    ...seen,
    provider: typeof providerVerdict === "string" ? providerVerdict : null,
    mismatch: seen.verdict === "fail" && providerVerdict === "pass",
    tip,
  };
  await rememberAgentTask(o.stateDir, o.record.id, { ...local, verified });
  return verified;
}
