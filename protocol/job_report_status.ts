/**
 * Whether a job result's report says the work failed: the skills that report JSON (ci-run,
 * docker-build; skills/<name>/SKILL.md) put their outcome in `status`. A result is an answer,
 * not a success: a ci-run whose tests fail ends `done` with `{"status": "failed", ...}`.
 *
 * @module
 */

/** Report statuses that mean the work did not succeed (ci-run, docker-build). */
export const FAILED_REPORT_STATUSES: readonly string[] = [
  "failed",
  "timeout",
  "build-failed",
  "tests-failed",
];

/**
 * True when `content` is a JSON report whose `status` is a failure; false for anything else (a
 * passing report, plain text, encrypted content).
 *
 * @example
 * ```ts
 * reportSaysFailed('{"status":"failed","exitCode":1}'); // true
 * reportSaysFailed("3 words"); // false
 * ```
 */
export function reportSaysFailed(content: string): boolean {
  if (!content.startsWith("{") || content.length > 1024 * 1024) return false;
  try {
    const status = (JSON.parse(content) as { status?: unknown }).status;
    return typeof status === "string" && FAILED_REPORT_STATUSES.includes(status);
  } catch {
    return false;
  }
}
