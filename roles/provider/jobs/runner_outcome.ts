/**
 * The outcome of a job a skill runner ended before (or instead of) a sandbox run: bad input, a
 * refused request, a failed step of its own. Shared by the runners that prepare a job on the host
 * (docs/ARCHITECTURE.md "The roles": the Docker runner, the agent-task runner).
 *
 * @module
 */
import type { SkillOutcome, SkillOutcomeStatus } from "../sandbox/skill_sandbox.ts";

/** Says an outcome with its status, reason and optional stdout. */
export type RunnerOutcome = (
  status: SkillOutcomeStatus,
  reason: string,
  stdout?: string,
) => SkillOutcome;

/**
 * The outcomes of one job's run: no exit code, no stderr, the time since `started`.
 *
 * @example
 * ```ts
 * import { runnerOutcome } from "./runner_outcome.ts";
 *
 * const outcome = runnerOutcome("/tmp/jobs/abc", performance.now());
 * const refused = outcome("bad-input", "no repository");
 * if (refused.exitCode !== null || refused.workDir !== "/tmp/jobs/abc") throw new Error();
 * ```
 */
export function runnerOutcome(workDir: string, started: number): RunnerOutcome {
  return (status, reason, stdout = "") => ({
    status,
    reason,
    exitCode: null,
    stdout: new TextEncoder().encode(stdout),
    stderrTail: "",
    stderrTruncated: false,
    durationMs: performance.now() - started,
    workDir,
  });
}
