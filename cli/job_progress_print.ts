/**
 * How `job submit --wait` and `job wait` print a job's progress and its node's `waiting` lines:
 * NDJSON on stdout with `--output json`, else human lines on stderr, network text escaped
 * (cli/terminal_text.ts).
 *
 * @module
 */
import { TERMINAL_JOB_STATUSES } from "../state/jobs/job_record.ts";
import type { JobProgress } from "../roles/requester/requester_node.ts";
import { progressLine } from "./job_report.ts";
import { printJsonLine } from "./json_line.ts";
import { terminalText } from "./terminal_text.ts";

/**
 * Progress lines: NDJSON on stdout in json mode, else human lines on stderr. A job's end is left
 * to `follow`, which prints it once with its error (text mode said "done" twice).
 *
 * @example
 * ```ts
 * import { progressPrinter } from "./job_progress_print.ts";
 *
 * const print = progressPrinter(false);
 * print({ jobId: "c1c254bf".repeat(8), status: "paid", detail: "receipt 74c6f0d8" });
 * ```
 */
export function progressPrinter(json: boolean): (p: JobProgress) => void {
  const ends: readonly string[] = TERMINAL_JOB_STATUSES;
  return json ? (p) => printJsonLine("progress", { ...progressLine(p) }) : (p) => {
    if (ends.includes(p.status)) return;
    console.error(
      `  ${p.jobId.slice(0, 12)} ${p.status}${p.detail ? `  ${terminalText(p.detail)}` : ""}`,
    );
  };
}

/**
 * A `waiting` line of the profile's node (roles/requester/job_heartbeat.ts): as it is in json
 * mode, else a human line on stderr; one of a job whose provider stopped beating says that.
 *
 * @example
 * ```ts
 * import { printWaiting } from "./job_progress_print.ts";
 *
 * printWaiting({
 *   job: "c1c254bf".repeat(8),
 *   for: "result",
 *   status: "processing",
 *   since: new Date().toISOString(),
 * }, false);
 * ```
 */
export function printWaiting(line: Record<string, unknown>, json: boolean): void {
  if (json) return printJsonLine("waiting", line);
  const since = Math.round((Date.now() - Date.parse(String(line.since))) / 1000);
  if (typeof line.provider === "string") {
    // A provider that stopped beating: not the line of one at work (job_heartbeat.ts).
    const silent = typeof line.providerSilentS === "number"
      ? `silent for ${line.providerSilentS} s`
      : "silent (no live heartbeat)";
    return console.error(terminalText(
      `  ${String(line.job).slice(0, 12)} provider ${line.provider.slice(0, 12)} ${silent} ` +
        `(the job waits for the ${line.for}, ${line.status})`,
    ));
  }
  console.error(
    `  ${String(line.job).slice(0, 12)} waiting for the ${line.for} ` +
      `(${line.status}, nothing new for ${since} s)`,
  );
}
