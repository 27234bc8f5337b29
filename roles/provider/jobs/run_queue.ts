/**
 * The provider's run queue: paid jobs wait here in arrival order and at most `maxConcurrent` of
 * them run at once, each with its own abort signal (a requester's cancel, or the provider
 * stopping). A job is queued or running once, however often it is enqueued (a payment retried,
 * a restart's recovery).
 *
 * @module
 */

/** Options for {@linkcode RunQueue}. */
export interface RunQueueOptions {
  /** Jobs running at once. */
  maxConcurrent: number;
  /**
   * Runs the job `id` until it ends or `signal` aborts; undefined when the job is no longer
   * runnable (gone, or not paid), and it is skipped.
   */
  run(id: string, signal: AbortSignal): Promise<void> | undefined;
  /** Told when a run has ended (`error` when its promise rejected). */
  settled?(id: string, error?: unknown): void;
  /** Whether `id` waits behind every other job queued (a plain relay's, docs/PROTOCOL.md). */
  behind?(id: string): boolean;
}

/**
 * Runs queued jobs, a few at a time.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { RunQueue } from "./run_queue.ts";
 *
 * const ran: string[] = [];
 * const runJob = async (id: string, _signal: AbortSignal) => void ran.push(id);
 * const queue = new RunQueue({ maxConcurrent: 2, run: (id, signal) => runJob(id, signal) });
 * queue.enqueue("job-1");
 * queue.enqueue("job-1"); // a payment retried: queued once
 * queue.enqueue("job-2");
 * await queue.idle();
 * assert.deepEqual(ran, ["job-1", "job-2"]);
 * ```
 */
export class RunQueue {
  readonly #o: RunQueueOptions;
  #waiting: string[] = [];
  readonly #running = new Map<string, AbortController>();
  readonly #runs = new Set<Promise<void>>();
  #idleWaiters: (() => void)[] = [];
  #stopped = false;

  constructor(options: RunQueueOptions) {
    this.#o = options;
  }

  /** Jobs running now. */
  get running(): number {
    return this.#running.size;
  }

  /** Queues `id` unless it is queued or running already, then starts what fits. */
  enqueue(id: string): void {
    if (this.#stopped || this.#waiting.includes(id) || this.#running.has(id)) return;
    this.#waiting.push(id);
    this.#pump();
  }

  /**
   * Cancels `id`: "running" when its run was aborted with `reason` (the run records the
   * outcome), "queued" when it was taken off the queue, undefined when it was neither.
   */
  cancel(id: string, reason: Error): "running" | "queued" | undefined {
    const running = this.#running.get(id);
    if (running !== undefined) {
      running.abort(reason);
      return "running";
    }
    const before = this.#waiting.length;
    this.#waiting = this.#waiting.filter((waiting) => waiting !== id);
    return this.#waiting.length < before ? "queued" : undefined;
  }

  /** Resolves when nothing is queued or running. */
  idle(): Promise<void> {
    if (this.#running.size === 0 && this.#waiting.length === 0) return Promise.resolve();
    return new Promise((resolve) => this.#idleWaiters.push(resolve));
  }

  /** Drops the queue, aborts the runs with `reason` and waits for them to end. */
  async stop(reason: Error): Promise<void> {
    this.#stopped = true;
    this.#waiting.length = 0;
    for (const ac of this.#running.values()) ac.abort(reason);
    await Promise.allSettled([...this.#runs]);
  }

  #pump(): void {
    while (
      !this.#stopped && this.#running.size < this.#o.maxConcurrent && this.#waiting.length > 0
    ) {
      const first = this.#waiting.findIndex((w) => !this.#o.behind?.(w));
      const [id] = this.#waiting.splice(first === -1 ? 0 : first, 1);
      const ac = new AbortController();
      const run = this.#o.run(id, ac.signal);
      if (run === undefined) continue;
      this.#running.set(id, ac);
      const end = (failed: boolean, error?: unknown) => {
        this.#running.delete(id);
        this.#runs.delete(done);
        if (failed) this.#o.settled?.(id, error);
        else this.#o.settled?.(id);
        this.#pump();
      };
      const done: Promise<void> = run.then(() => end(false), (err) => end(true, err));
      this.#runs.add(done);
    }
    if (this.#running.size === 0 && this.#waiting.length === 0) {
      for (const wake of this.#idleWaiters.splice(0)) wake();
    }
  }
}
