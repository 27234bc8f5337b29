/**
 * Coalesces writes of a value that only matters in its newest version (a channel's newest
 * claim): while one write runs, later values wait and only the newest of them is written next.
 * Each caller gets a promise that resolves once a write including its value (or a newer one)
 * is durable, so many packets share one fsync without any of them being answered before the
 * claim that covers it is on disk.
 *
 * @module
 */

/** Options for {@linkcode CoalescedWriter}. */
export interface CoalescedWriterOptions<T> {
  /** Writes one value durably (e.g. atomic file write with fsync). */
  write: (value: T) => Promise<void>;
}

/**
 * Writes the newest value, one write at a time.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 *
 * const path = await Deno.makeTempFile();
 * const writer = new CoalescedWriter<number>({ write: (n) => Deno.writeTextFile(path, `${n}`) });
 * await Promise.all([writer.save(1), writer.save(2), writer.save(3)]);
 * assert.equal(writer.writes, 1); // saved together: only the newest, 3, is written
 * assert.equal(await Deno.readTextFile(path), "3");
 * await Deno.remove(path);
 * ```
 */
export class CoalescedWriter<T> {
  readonly #write: (value: T) => Promise<void>;
  #latest?: { value: T };
  #running: Promise<void> = Promise.resolve();
  #queued?: Promise<void>;
  #durable: Promise<void> = Promise.resolve();
  #writes = 0;

  constructor(options: CoalescedWriterOptions<T>) {
    this.#write = options.write;
  }

  /** Writes done so far. */
  get writes(): number {
    return this.#writes;
  }

  /** Schedules `value`; resolves when it (or a newer value) is written, rejects if that fails. */
  save(value: T): Promise<void> {
    this.#latest = { value };
    if (!this.#queued) {
      this.#queued = this.#running.catch(() => {}).then(() => {
        this.#queued = undefined;
        const latest = this.#latest!;
        this.#latest = undefined;
        this.#writes++;
        // Set before any await so a save() from now on queues behind this write.
        this.#running = this.#write(latest.value);
        return this.#running;
      });
      this.#durable = this.#queued;
    }
    return this.#queued;
  }

  /** Resolves when the newest value saved so far is written. */
  durable(): Promise<void> {
    return this.#durable;
  }
}
