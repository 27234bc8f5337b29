/**
 * A converted profile's lost job index rebuilt from the audit trail. Once a state dir's
 * requester records are rows of `<state dir>/index.sqlite` (`jobs/RECORDS_IN_INDEX.txt`), that
 * file and the audit trail are their only copies: the trail's HEAD holds every record, as
 * `jobs/<id>.toml`, as of its last commit (docs/ARCHITECTURE.md "The requester's job records as
 * rows").
 *
 * An index that is missing, not a database, or without its tables is, when the repository is
 * opened with its audit trail by the writer (the requester's node, `job prune`):
 *
 * 1. read from HEAD: every `jobs/<id>.toml` blob and every sidecar, `requester/<id>.json`
 *    (`state/audit/audit_head_files.ts`: three git processes a folder whatever the number of
 *    jobs);
 * 2. moved aside, never deleted: `index.sqlite` and its `-wal` and `-shm` renamed to
 *    `index.sqlite-lost-<time>` (and `-wal`, `-shm`: SQLite opens them together), names the
 *    state dir's `.gitignore` keeps out of the history;
 * 3. made again in one transaction: the tables, a row per record and per sidecar, unflagged (HEAD holds its
 *    text), versions from the time of the rebuild up, so that they stay above every version a
 *    reader saw before (a change poll's mark only rises); a blob that is not a record is named
 *    in the `corrupt` table (`<commit>:jobs/<id>.toml`). A kill before its commit leaves no
 *    schema: the next open moves that file aside too and rebuilds again;
 * 4. said on stderr (the caller's `warn`): what was lost, where the damaged files are, and what
 *    may be lost: the writes after HEAD's commit, at most the audit window and one commit.
 *
 * It is refused ({@linkcode JobIndexLostError}, nothing touched) by a reader (`job list`,
 * `stats`: no audit trail, and a node may run beside it) and when the trail has no commit, each
 * with what to do in its message.
 *
 * @module
 */
import type { DatabaseSync } from "node:sqlite";
import type { AuditLog } from "../audit/audit_log.ts";
import type { HeadFiles } from "../audit/audit_head_files.ts";
import { syncDir } from "../atomic_file.ts";
import { JobIndexLostError } from "./job_repository_errors.ts";
import {
  type CorruptJobFile,
  type RebuildReport,
  SIDECARS_DIR,
  writeIndexRows,
} from "./job_index_schema.ts";
import {
  IN_FLIGHT_JOB_STATUSES,
  JobRecordFormatError,
  MAX_JOB_RECORD_BYTES,
  parseJobRecord,
  type RequesterJobRecord,
} from "./job_record.ts";

/** How the index was found: not there, not a database, or a database without the job tables. */
export type JobIndexLoss = "missing" | "damaged" | "empty";

/** Options for {@linkcode recoverJobIndex}. */
export interface JobIndexRecoveryOptions {
  /** `<state dir>/index.sqlite`. */
  indexPath: string;
  loss: JobIndexLoss;
  /** What opening the damaged file threw. */
  cause?: unknown;
  /** The state dir's audit trail; undefined (a reader, or no audit): refused. */
  audit?: AuditLog;
  /** Opens (creates) the index at `indexPath` with the repository's settings. */
  open: () => DatabaseSync;
  /** Where the warning goes. */
  warn: (line: string) => void;
}

/** The folder of HEAD the records are read from. */
const JOBS_FOLDER = "jobs";
const JOB_PATH = /^jobs\/([0-9a-f]{64})\.toml$/;
const SIDECAR_PATH = new RegExp(`^${SIDECARS_DIR}/([0-9a-f]{64})\\.json$`);

/**
 * Rebuilds a lost index from the audit trail's HEAD (see the module doc); returns the open
 * index and what went into it.
 * @throws {JobIndexLostError} when there is no audit trail to rebuild from (nothing touched).
 *
 * It needs a lost index and its audit trail: no example that runs here:
 * tests/unit/state/jobs/job_index_recovery_test.ts.
 */
export async function recoverJobIndex(
  options: JobIndexRecoveryOptions,
): Promise<{ db: DatabaseSync; report: RebuildReport }> {
  const { indexPath, audit } = options;
  const what = describeLoss(options);
  if (audit === undefined) {
    throw new JobIndexLostError(
      `${what}; it is rebuilt from the audit trail's HEAD when the profile's requester node ` +
        "opens it: start it (`turnpike requester`, or any command that pays) " +
        '(docs/OPERATIONS.md "State directory")',
      { cause: options.cause },
    );
  }
  const head = await audit.headFiles(JOBS_FOLDER);
  // The jobs' sidecars, rows beside them (an older profile's are files, and stay so).
  const sidecarFiles = head === undefined ? undefined : await audit.headFiles(SIDECARS_DIR);
  if (head === undefined) {
    throw new JobIndexLostError(
      `${what}, and the state dir's audit trail has no commit to rebuild it from: restore ` +
        `${indexPath} from a backup of the state dir (docs/OPERATIONS.md "State directory")`,
      { cause: options.cause },
    );
  }
  const moved = await moveAside(indexPath);
  const db = options.open();
  let report: RebuildReport & { inFlight: number };
  try {
    report = fillFromHead(db, head, sidecarFiles?.files ?? new Map());
  } catch (err) {
    db.close();
    throw err;
  }
  await syncDir(indexPath.replace(/\/[^/]*$/, ""));
  options.warn(warning(what, head, report, moved, audit.windowMs));
  return { db, report: { indexed: report.indexed, corrupt: report.corrupt } };
}

/** The tables and HEAD's records, in one transaction with the schema. */
function fillFromHead(
  db: DatabaseSync,
  head: HeadFiles,
  sidecarFiles: ReadonlyMap<string, Uint8Array>,
): RebuildReport & { inFlight: number } {
  const rows: { record: RequesterJobRecord; text: string }[] = [];
  const corrupt: CorruptJobFile[] = [];
  for (const [path, bytes] of head.files) {
    const id = JOB_PATH.exec(path)?.[1];
    if (id === undefined) continue;
    try {
      if (bytes.length > MAX_JOB_RECORD_BYTES) {
        throw new JobRecordFormatError(`over ${MAX_JOB_RECORD_BYTES} bytes`);
      }
      const text = new TextDecoder("utf-8", { fatal: true }).decode(bytes);
      const record = parseJobRecord(text);
      if (record.id !== id) throw new JobRecordFormatError(`blob holds job ${record.id}`);
      rows.push({ record, text });
    } catch (err) {
      if (!(err instanceof JobRecordFormatError) && !(err instanceof TypeError)) throw err;
      corrupt.push({ path: `${head.commit}:${path}`, error: err.message });
    }
  }
  const sidecars = new Map<string, string>();
  for (const [path, bytes] of sidecarFiles) {
    const id = SIDECAR_PATH.exec(path)?.[1];
    if (id === undefined) continue;
    try {
      sidecars.set(id, new TextDecoder("utf-8", { fatal: true }).decode(bytes));
    } catch {
      // Not UTF-8: its job is not followed again (as a missing sidecar), `job status` shows it.
    }
  }
  // Above every version a reader saw before: a profile makes far fewer writes than ms since 1970.
  writeIndexRows(db, rows, corrupt, { version: Date.now(), sidecars });
  const inFlight = rows.filter((r) => IN_FLIGHT_JOB_STATUSES.includes(r.record.status)).length;
  return { indexed: rows.length, corrupt, inFlight };
}

/** Renames the index's files that are there to `<index>-lost-<time>[-wal|-shm]`. */
async function moveAside(indexPath: string): Promise<string[]> {
  const stamp = new Date().toISOString().replace(/[:.]/g, "-");
  const moved: string[] = [];
  for (const suffix of ["", "-wal", "-shm"]) {
    const to = `${indexPath}-lost-${stamp}${suffix}`;
    try {
      await Deno.rename(`${indexPath}${suffix}`, to);
      moved.push(to);
    } catch (err) {
      if (!(err instanceof Deno.errors.NotFound)) throw err;
    }
  }
  return moved;
}

function describeLoss(o: JobIndexRecoveryOptions): string {
  const why = o.cause instanceof Error ? ` (${o.cause.message})` : "";
  const how = o.loss === "missing"
    ? "is missing"
    : o.loss === "damaged"
    ? `is damaged${why}`
    : "holds no job table";
  return `the job index ${o.indexPath} ${how}; the job records are its rows only ` +
    "(jobs/RECORDS_IN_INDEX.txt)";
}

function warning(
  what: string,
  head: HeadFiles,
  report: RebuildReport & { inFlight: number },
  moved: string[],
  windowMs: number,
): string {
  const at = new Date(head.committedAtMs).toISOString();
  const corrupt = report.corrupt.length === 0
    ? ""
    : `; ${report.corrupt.length} not readable, named in the index's corrupt table`;
  const aside = moved.length === 0
    ? "Nothing was left of it to move aside."
    : `Moved aside, kept and never read: ${moved.join(", ")}.`;
  return `warning: ${what}. Rebuilt from the audit trail's HEAD (commit ${
    head.commit.slice(0, 12)
  }, ${at}): ${report.indexed} job records, ${report.inFlight} of them in flight${corrupt}. ` +
    `${aside} What may be lost: the record writes after that commit, at most the audit window ` +
    `(${windowMs} ms) and one commit before the index was lost; a job written then is back at ` +
    "the version that commit holds (its payments are in the payment log) " +
    '(docs/OPERATIONS.md "State directory").';
}
