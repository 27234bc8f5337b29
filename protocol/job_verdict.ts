/**
 * The verdict of a job's report: a job can end `done` (the provider did the work and was paid)
 * while the work itself failed (the project's tests failed, the image did not build). The
 * reports of the built-in skills carry it in `status` (docs/SKILLS.md): `ci-run` `passed`,
 * `failed` or `timeout`; `docker-build` `built`, `tests-passed`, `build-failed` or
 * `tests-failed`. A report without one of these has no verdict.
 *
 * @module
 */

/** A report's verdict. */
export type JobVerdict = "passed" | "failed";

const PASSED: ReadonlySet<string> = new Set(["passed", "built", "tests-passed"]);
const FAILED: ReadonlySet<string> = new Set(["failed", "timeout", "build-failed", "tests-failed"]);

/**
 * The verdict a report's `status` gives, or undefined when it gives none.
 *
 * @example
 * ```ts
 * verdictOf({ status: "tests-failed" }); // "failed"
 * verdictOf("hello"); // undefined
 * ```
 */
export function verdictOf(report: unknown): JobVerdict | undefined {
  if (report === null || typeof report !== "object" || Array.isArray(report)) return undefined;
  const status = (report as { status?: unknown }).status;
  if (typeof status !== "string") return undefined;
  return PASSED.has(status) ? "passed" : FAILED.has(status) ? "failed" : undefined;
}
