/**
 * `job results --apply --verify`: the job's own acceptance command run on the applied branch on
 * the requester's machine, sandboxed with no network (roles/agent_work/local_gate.ts), its
 * verdict kept beside the provider's (docs/AGENTS.md).
 *
 * @module
 */
import { CliError } from "./cli_error.ts";
import { lazyImport } from "./lazy_import.ts";
import { type AgentTaskLocal, rememberAgentTask } from "./agent_task_options.ts";
import type { ApplyAgentResultOptions } from "./agent_task_command.ts";

/**
 * The job's acceptance command run here on the applied tip (roles/agent_work/local_gate.ts), its
 * verdict kept in the profile's `agent-tasks/<id>.json` beside the provider's; `mismatch` when
 * the gate fails here and the provider reported it passed.
 *
 * @example
 * ```ts
 * import { verifyApplied } from "./agent_task_verify.ts";
 * import type { AgentTaskLocal } from "./agent_task_options.ts";
 * import type { RequesterJobRecord } from "../state/jobs/job_record.ts";
 *
 * declare const record: RequesterJobRecord, local: AgentTaskLocal, tip: string;
 * const verified = await verifyApplied({ stateDir: "/home/me/.turnpike/alice", record }, local, tip, "pass");
 * if (verified.mismatch) console.log("the provider said pass; it fails here");
 * ```
 */
export async function verifyApplied(
  o: Pick<ApplyAgentResultOptions, "stateDir" | "record">,
  local: AgentTaskLocal,
  tip: string,
  providerVerdict: unknown,
): Promise<Record<string, unknown>> {
  // Loaded by --verify only: the sandbox's modules stay out of a plain --apply.
  const { runLocalGate } = await lazyImport<typeof import("../roles/agent_work/local_gate.ts")>(
    new URL("../roles/agent_work/local_gate.ts", import.meta.url),
  );
  const seen = await runLocalGate({
    repoDir: local.repo,
    commit: tip,
    accept: local.accept!,
    hiddenPaths: [o.stateDir],
  }).catch((err: Error) => {
    throw new CliError(`--verify: the gate could not run here: ${err.message}`, { cause: err });
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
