/**
 * The verdict of a job's report: a job can end `done` (the provider did the work and was paid)
 * while the work itself failed (the project's tests failed, the image did not build, the gate
 * rejected the agent's work). The reports of the built-in skills carry it (docs/SKILLS.md):
 * `ci-run` in `status`, `passed`, `failed` or `timeout`; `docker-build` in `status`, `built`,
 * `tests-passed`, `build-failed` or `tests-failed`; `agent-task` in `verdict`, `pass` or `fail`
 * (its gate's exit status, docs/PROTOCOL.md "agent-task (kind 5603)"). A report without one of
 * these has no verdict.
 *
 * @module
 */

/** A report's verdict. */
export type JobVerdict = "passed" | "failed";

const PASSED: ReadonlySet<string> = new Set(["passed", "built", "tests-passed"]);
const FAILED: ReadonlySet<string> = new Set(["failed", "timeout", "build-failed", "tests-failed"]);
/** An agent-task report's own `verdict`, the gate's. */
const GATE: Readonly<Record<string, JobVerdict>> = { pass: "passed", fail: "failed" };

/**
 * The verdict a report gives (an agent-task's `verdict`, else its `status`), or undefined when
 * it gives none. Every place the CLI shows or exits by a verdict reads it here.
 *
 * @example
 * ```ts
 * verdictOf({ status: "tests-failed" }); // "failed"
 * verdictOf({ verdict: "fail", gate: { exitCode: 1 } }); // "failed"
 * verdictOf("hello"); // undefined
 * ```
 */
export function verdictOf(report: unknown): JobVerdict | undefined {
  if (report === null || typeof report !== "object" || Array.isArray(report)) return undefined;
  const { verdict, status } = report as { verdict?: unknown; status?: unknown };
  if (typeof verdict === "string" && Object.hasOwn(GATE, verdict)) return GATE[verdict];
  if (typeof status !== "string") return undefined;
  return PASSED.has(status) ? "passed" : FAILED.has(status) ? "failed" : undefined;
}

/**
 * What in a report gave its verdict, for a message: `report status <s>` or `report verdict <v>`;
 * undefined when it gives none.
 *
 * @example
 * ```ts
 * verdictSource({ verdict: "fail" }); // "report verdict fail"
 * verdictSource({ status: "build-failed" }); // "report status build-failed"
 * ```
 */
export function verdictSource(report: unknown): string | undefined {
  if (verdictOf(report) === undefined) return undefined;
  const { verdict, status } = report as { verdict?: unknown; status?: unknown };
  return typeof verdict === "string" && Object.hasOwn(GATE, verdict)
    ? `report verdict ${verdict}`
    : `report status ${String(status)}`;
}
