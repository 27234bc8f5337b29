/**
 * The logs a result's report carries inline, as files `job results --save <dir>` writes beside
 * the result's blobs (docs/AGENTS.md "Reading a result again"), so that an agent reads every log
 * from the directory, whatever its size. ci-run (skills/ci-run/SKILL.md) returns its log as the
 * blob `ci.log` only when it is over its 16 KiB tail; a shorter log is whole in the report's
 * `logTail` (UTF-8, or `gzip+base64` when `logTailEncoding` says so), and is saved as `ci.log`.
 * docker-build returns its logs as blobs always: nothing inline to add.
 *
 * @module
 */
import { CliLayerError } from "./cli_error.ts";

/** A log from the report, to be written under `name`. */
export interface InlineLog {
  name: string;
  bytes: Uint8Array;
}

/** A report's inline log cannot be decoded (a bad base64 or gzip). */
export class InlineLogError extends CliLayerError {
  override name = "InlineLogError";
}

/** The name ci-run gives its log blob. */
const CI_LOG = "ci.log";

/**
 * The logs `report` carries whole that are not among the result's blobs (`blobNames`): ci-run's
 * `logTail` as `ci.log` when the log is no longer than the tail and no blob of that name came.
 *
 * @example
 * ```ts
 * import { inlineReportLogs } from "./report_logs.ts";
 *
 * const report = { status: "failed", logBytes: 3, logTailEncoding: "utf8", logTail: "ko\n" };
 * const [log] = await inlineReportLogs(report, []);
 * console.log(log.name, new TextDecoder().decode(log.bytes)); // "ci.log" "ko\n"
 * ```
 * @throws {InlineLogError} when the tail is not valid `gzip+base64`.
 */
export async function inlineReportLogs(
  report: unknown,
  blobNames: readonly string[],
): Promise<InlineLog[]> {
  if (report === null || typeof report !== "object" || Array.isArray(report)) return [];
  const r = report as Record<string, unknown>;
  if (typeof r.logTail !== "string") return [];
  const name = typeof r.logBlob === "string" ? r.logBlob : CI_LOG;
  if (blobNames.includes(name)) return [];
  const bytes = r.logTailEncoding === "gzip+base64"
    ? await gunzipBase64(r.logTail)
    : new TextEncoder().encode(r.logTail);
  // A tail shorter than the log is not the log: the whole one is a blob (or was not returned).
  if (typeof r.logBytes === "number" && bytes.length < r.logBytes) return [];
  return [{ name: CI_LOG, bytes }];
}

async function gunzipBase64(text: string): Promise<Uint8Array> {
  try {
    const gz = Uint8Array.from(atob(text), (c) => c.charCodeAt(0));
    const stream = new Blob([gz]).stream().pipeThrough(new DecompressionStream("gzip"));
    return new Uint8Array(await new Response(stream).arrayBuffer());
  } catch (err) {
    throw new InlineLogError(`the report's logTail is not gzip+base64: ${(err as Error).message}`);
  }
}
