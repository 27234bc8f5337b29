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
import { CliError, CliLayerError } from "./cli_error.ts";
import type { JobBlobOutput } from "../protocol/job_blobs.ts";
import { transferProgressPrinter } from "./transfer_progress.ts";
import { lazyImport } from "./lazy_import.ts";

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
 * import assert from "node:assert/strict";
 * import { inlineReportLogs } from "./report_logs.ts";
 *
 * const report = { status: "failed", logBytes: 3, logTailEncoding: "utf8", logTail: "ko\n" };
 * const [log] = await inlineReportLogs(report, []);
 * assert.equal(log.name, "ci.log");
 * assert.equal(new TextDecoder().decode(log.bytes), "ko\n");
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

/** Largest result blob fetched by `job results --save`. */
const MAX_SAVED_BLOB_BYTES = 4 * 1024 * 1024 * 1024;

/** Options of {@linkcode saveResultBlobs}. */
export interface SaveResultBlobsOptions {
  /** Where they are written: `<dir>/<name>`. */
  dir: string;
  /**
   * The profile's towns' Blossom servers: each blob is fetched by its hash from these, never
   * from the URL its tag names (the provider's word, docs/PROTOCOL.md "Blobs in jobs").
   */
  towns: readonly string[];
  /** No progress on stderr. */
  quiet?: boolean;
  /** The report's inline logs, written beside the blobs. */
  inline?: readonly InlineLog[];
}

/**
 * `job results --save <dir>`: the result's blobs fetched by hash from the profile's towns into
 * `dir`, each within the size its tag states (refused on the Content-Length before a byte is
 * written, or as the stream passes it) and hashed as it streams to `<name>.part`, renamed only
 * when the hash matches; and the report's inline logs written beside them; what was written, by
 * name.
 *
 * @example
 * ```ts
 * import { saveResultBlobs } from "./report_logs.ts";
 *
 * const dir = `${await Deno.makeTempDir()}/out`;
 * const log = { name: "ci.log", bytes: new TextEncoder().encode("ok\n") };
 * const saved = await saveResultBlobs([], { dir, towns: [], quiet: true, inline: [log] });
 * if (saved[0].path !== `${dir}/ci.log` || saved[0].from !== "report") throw new Error();
 * await Deno.remove(dir, { recursive: true });
 * ```
 */
export async function saveResultBlobs(
  blobs: readonly JobBlobOutput[],
  o: SaveResultBlobsOptions,
): Promise<{ name: string; path: string; from?: "report" }[]> {
  const { dir, inline = [] } = o;
  if (blobs.length === 0 && inline.length === 0) {
    // Nothing to fetch: no empty directory left behind, and the user is told why.
    console.error(`no blobs to save: the result names no logs or artifacts (${dir} not created)`);
    return [];
  }
  await Deno.mkdir(dir, { recursive: true });
  const { fetchBlobFromTowns } = await lazyImport<
    typeof import("../roles/requester/town_blob_fetch.ts")
  >(new URL("../roles/requester/town_blob_fetch.ts", import.meta.url));
  const saved: { name: string; path: string; from?: "report" }[] = [];
  for (const log of inline) {
    const path = `${dir}/${log.name}`;
    await Deno.writeFile(path, log.bytes);
    saved.push({ name: log.name, path, from: "report" });
  }
  for (const b of blobs) {
    const path = `${dir}/${b.name}`;
    try {
      await fetchBlobFromTowns({
        servers: o.towns,
        sha256: b.sha256,
        maxBytes: Math.min(b.size, MAX_SAVED_BLOB_BYTES),
        to: path,
        onProgress: transferProgressPrinter({ label: `download ${b.name}`, quiet: o.quiet }),
      });
    } catch (err) {
      throw new CliError(`cannot fetch the result's blob ${b.name}: ${(err as Error).message}`, {
        context: `sha256 ${b.sha256}`,
        suggestion: "the town may have dropped it (blobs are kept for its retention period)",
        cause: err,
      });
    }
    saved.push({ name: b.name, path });
  }
  return saved;
}
