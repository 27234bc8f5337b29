/**
 * Checkpoints of an append-only line file that is summed at open (the town's books per peer,
 * state/payments/peer_ledger.ts; its peers' credit, state/payments/peer_credit.ts): what its reader
 * held once the file's first `offset` bytes were read, so that a start reads only the lines after
 * them (docs/SCALE.md "A town's books after a long run").
 *
 * A checkpoint is derived data: written whole and renamed over the last one (state/atomic_file.ts;
 * no directory fsync: one lost to a power cut means reading the whole file once), used only when
 * the line file still begins with what it was taken of (its size at least `offset`, and the
 * {@linkcode TAIL_BYTES} before `offset` the ones it kept); a missing, torn or foreign one means
 * reading the whole file again. One is taken every `every` lines (at least four times the entries
 * the last one held, so that writing them stays a small part of the writes), only at a moment the
 * file holds every line the reader applied: its appender idle, its last line whole, no failed
 * write this run (part of a failed batch may be in the file, which a reading would count), and
 * after an opening that read `every` lines or more, at the end of the last whole line it read (the
 * file may have grown since: a reader beside the process that writes it).
 *
 * @module
 */
import { removeStaleTempFiles, writeFileAtomic } from "./atomic_file.ts";
import type { LineAppender } from "./line_appender.ts";
import { readFileRange } from "./file_range.ts";
import type { LineFileRead } from "./line_file.ts";

/** Bytes before `offset` a checkpoint keeps, to know its line file again. */
const TAIL_BYTES = 256;

/** A checkpoint read back: the reader's state (as it gave it, bigints as strings) at `offset`. */
export interface LineFileCheckpoint {
  offset: number;
  state: unknown;
}

/** Options for {@linkcode LineFileCheckpoints}. */
export interface LineFileCheckpointsOptions {
  /** The checkpoint's file. */
  path: string;
  /** The line file it is of. */
  linesPath: string;
  /** The appender that writes the line file. */
  appender: LineAppender;
  /** Lines between two checkpoints; 0: none (and none read). */
  every: number;
  /**
   * A reader beside the process that writes the file (`town balances` beside `town up`): reads
   * the checkpoint, writes none and leaves the writer's temp files alone.
   */
  readOnly?: boolean;
  /**
   * The reader's state now, as JSON (bigints are written as decimal strings), and how many
   * entries it holds.
   */
  snapshot: () => { state: unknown; entries: number };
}

/**
 * The checkpoints of one line file; see the module doc.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { LineAppender } from "./line_appender.ts";
 * import { LineFileCheckpoints } from "./line_file_checkpoint.ts";
 *
 * const dir = await Deno.makeTempDir();
 * const appender = new LineAppender(`${dir}/sums.jsonl`);
 * let sum = 0;
 * const checkpoints = new LineFileCheckpoints({
 *   path: `${dir}/sums.checkpoint.json`,
 *   linesPath: `${dir}/sums.jsonl`,
 *   appender,
 *   every: 2,
 *   snapshot: () => ({ state: { sum }, entries: 0 }),
 * });
 * for (const n of [1, 2, 3, 4]) {
 *   sum += n;
 *   await appender.append(`${n}\n`);
 *   checkpoints.written();
 *   await checkpoints.flush(); // one being written takes no other meanwhile
 * }
 * assert.deepEqual(await checkpoints.read(), { offset: 8, state: { sum: 10 } });
 * await Deno.remove(dir, { recursive: true });
 * ```
 */
export class LineFileCheckpoints {
  readonly #o: LineFileCheckpointsOptions;
  /** Lines written since the last checkpoint (or read after it). */
  #since = 0;
  /** Entries the last checkpoint held. */
  #entries = 0;
  #writing: Promise<void> | undefined;
  #failed = false;

  constructor(options: LineFileCheckpointsOptions) {
    this.#o = options;
  }

  /**
   * The last checkpoint, when the line file still begins with what it was taken of; undefined
   * otherwise (and when checkpoints are off). Removes what a write cut short by a kill left.
   */
  async read(): Promise<LineFileCheckpoint | undefined> {
    if (this.#o.every <= 0) return undefined;
    if (!this.#o.readOnly) await removeStaleTempFiles(this.#o.path).catch(() => 0);
    let json: { version?: unknown; offset?: unknown; tail?: unknown; state?: unknown };
    try {
      json = JSON.parse(await Deno.readTextFile(this.#o.path));
    } catch {
      return undefined;
    }
    const { offset, tail } = json ?? {};
    if (json?.version !== 1 || !Number.isSafeInteger(offset) || typeof tail !== "string") {
      return undefined;
    }
    if ((offset as number) <= 0) return undefined;
    const now = await tailOf(this.#o.linesPath, offset as number).catch(() => undefined);
    return now === tail ? { offset: offset as number, state: json.state } : undefined;
  }

  /**
   * What the opening read after the checkpoint (state/line_file.ts; undefined: no file): takes
   * one at its `linesEnd` when that was `every` lines or more and the file ended on a line's end
   * (a cut last line is counted skipped, which a reading from `linesEnd` would count again).
   */
  opened(read: LineFileRead | undefined): void {
    this.#since = read?.lines ?? 0;
    if (read?.endsInNewline) this.#take(read.linesEnd);
  }

  /** A line's write resolved: takes a checkpoint when one is due and the file holds every line. */
  written(): void {
    this.#since++;
    this.#take();
  }

  /** A write failed: no checkpoint until the next opening. */
  failed(): void {
    this.#failed = true;
  }

  /** Resolves once no checkpoint is being written. */
  async flush(): Promise<void> {
    while (this.#writing) await this.#writing;
  }

  /** Takes one when due, of the file's first `at` bytes (default: all, the appender idle). */
  #take(at?: number): void {
    const { every, appender, linesPath, path } = this.#o;
    if (
      every <= 0 || this.#o.readOnly || this.#since < Math.max(every, 4 * this.#entries) ||
      this.#writing || this.#failed || !appender.idle || appender.needsNewline
    ) return;
    let offset: number;
    try {
      offset = at ?? Deno.statSync(linesPath).size;
    } catch {
      return;
    }
    if (offset === 0) return;
    const { state, entries } = this.#o.snapshot();
    this.#since = 0;
    this.#entries = entries;
    // Derived data: one that fails to be written only means a longer start.
    this.#writing = write(path, linesPath, offset, state).catch(() => {})
      .finally(() => this.#writing = undefined);
  }
}

async function write(path: string, linesPath: string, offset: number, state: unknown) {
  // The tail is read after the snapshot: the bytes before `offset` never change.
  const tail = await tailOf(linesPath, offset);
  const json = JSON.stringify(
    { version: 1, offset, tail, state },
    (_, v) => typeof v === "bigint" ? v.toString() : v,
  );
  await writeFileAtomic(path, json, { skipDirSync: true });
}

/** The last {@linkcode TAIL_BYTES} bytes before `offset` of the file, as text. */
async function tailOf(path: string, offset: number): Promise<string> {
  using file = await Deno.open(path, { read: true });
  if ((await file.stat()).size < offset) throw new RangeError("the file is shorter");
  const start = Math.max(0, offset - TAIL_BYTES);
  const buf = new Uint8Array(offset - start);
  if (!await readFileRange(file, buf, start)) throw new RangeError("the file is shorter");
  return new TextDecoder().decode(buf);
}
