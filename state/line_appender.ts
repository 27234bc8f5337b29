/**
 * Appends lines to a file, each on disk (fsynced) before its promise resolves; lines that arrive
 * while a write is under way go together in the next write and share its fsync (group commit).
 * The payment log and the town's peer ledger write through it (docs/ARCHITECTURE.md "State on
 * disk").
 *
 * @module
 */

/** Options for {@linkcode LineAppender}. */
export interface LineAppenderOptions {
  /**
   * Runs before each batch is written (e.g. rotating the file at a new day); resolves true when
   * it moved or removed the file, so the appender opens the path again.
   */
  beforeBatch?: () => Promise<boolean>;
  /** Whether the file ends in an unfinished line (a crash mid-write): the next batch starts with a newline. */
  needsNewline?: boolean;
}

/**
 * A group-committing, fsyncing line appender for one file (created 0600 when missing).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 *
 * const path = await Deno.makeTempFile();
 * const log = new LineAppender(path);
 * await Promise.all([log.append('{"a":1}\n'), log.append('{"a":2}\n')]); // one write, one fsync
 * assert.equal(await Deno.readTextFile(path), '{"a":1}\n{"a":2}\n');
 * await Deno.remove(path);
 * ```
 */
export class LineAppender {
  readonly path: string;
  /** Whether the file ends in an unfinished line; true again after a failed write. */
  needsNewline: boolean;
  #beforeBatch: (() => Promise<boolean>) | undefined;
  #queue: { line: string; done: PromiseWithResolvers<void> }[] = [];
  #writing: Promise<void> | undefined;

  constructor(path: string, options: LineAppenderOptions = {}) {
    this.path = path;
    this.needsNewline = options.needsNewline ?? false;
    this.#beforeBatch = options.beforeBatch;
  }

  /** Queues `line` (ending in "\n"); resolves once it is on disk, rejects if its write failed. */
  append(line: string): Promise<void> {
    const done = Promise.withResolvers<void>();
    this.#queue.push({ line, done });
    this.#writing ??= this.#drain();
    return done.promise;
  }

  /** Whether no line is queued or being written: the file holds every line appended. */
  get idle(): boolean {
    return this.#writing === undefined && this.#queue.length === 0;
  }

  /** Resolves once every queued line is written (or failed). */
  async flush(): Promise<void> {
    while (this.#writing) await this.#writing;
  }

  async #drain(): Promise<void> {
    // The file stays open while batches follow one another (a busy town appends a batch per
    // group commit: an open and a close each cost about as much as the fsync's system call),
    // and is closed once the queue is empty, so nothing is held open at rest.
    let file: Deno.FsFile | undefined;
    try {
      while (this.#queue.length > 0) {
        const batch = this.#queue.splice(0);
        try {
          if (await this.#beforeBatch?.()) {
            // It moved the file (a new day's rotation): the write opens the new one.
            file?.close();
            file = undefined;
          }
          const text = (this.needsNewline ? "\n" : "") + batch.map((b) => b.line).join("");
          file ??= await Deno.open(this.path, { append: true, create: true, mode: 0o600 });
          const bytes = new TextEncoder().encode(text);
          let written = 0;
          while (written < bytes.length) written += await file.write(bytes.subarray(written));
          await file.sync();
          this.needsNewline = false;
          for (const b of batch) b.done.resolve();
        } catch (err) {
          // Part of the batch may be on disk: the next batch starts on a line of its own.
          this.needsNewline = true;
          file?.close();
          file = undefined;
          for (const b of batch) b.done.reject(err);
        }
      }
    } finally {
      file?.close();
      this.#writing = undefined;
    }
  }
}
