/**
 * The agent tasks a requester cancelled whose transcript may still come: a cancelled job is ended
 * the moment its kind 5 is sent, and its provider's `error` feedback, which carries the agent's
 * transcript sealed, comes after it (docs/PROTOCOL.md "Errors of an encrypted job"). The feed
 * reads that one feedback of such a job for {@linkcode AFTER_CANCEL_MS}, then forgets it.
 *
 * @module
 */

/**
 * How long a cancelled agent task's error feedback is waited for. The provider sees the kind 5 on
 * its feed, stops the agent, seals and uploads the transcript, then sends the error, that write
 * sent again for up to 30 s while a town restarts (roles/provider/jobs/job_publisher.ts): twice
 * that leaves the stop and the upload room, and a bound keeps a provider that never answers from
 * holding the job's watch for ever (a restart of the node forgets the watch too).
 */
export const AFTER_CANCEL_MS = 60_000;

/** Options for {@linkcode AfterCancel}. */
export interface AfterCancelOptions {
  /** How long each job is watched (default {@linkcode AFTER_CANCEL_MS}). */
  ms?: number;
}

/**
 * The cancelled jobs watched for their transcript, each for a bounded time; see the module doc.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { AfterCancel } from "./after_cancel.ts";
 *
 * const watch = new AfterCancel({ ms: 1000 });
 * watch.keep("ab".repeat(32));
 * assert(watch.has("ab".repeat(32)));
 * watch.drop("ab".repeat(32)); // its transcript came
 * assert(!watch.has("ab".repeat(32)));
 * watch.stop();
 * ```
 */
export class AfterCancel {
  #ms: number;
  #timers = new Map<string, ReturnType<typeof setTimeout>>();

  constructor(options: AfterCancelOptions = {}) {
    this.#ms = options.ms ?? AFTER_CANCEL_MS;
  }

  /** Watches a cancelled job (again from now, when it was watched). */
  keep(id: string): void {
    clearTimeout(this.#timers.get(id));
    this.#timers.set(id, setTimeout(() => this.#timers.delete(id), this.#ms));
  }

  /** Whether the job is watched. */
  has(id: string): boolean {
    return this.#timers.has(id);
  }

  /** Stops watching the job (its error came). */
  drop(id: string): void {
    clearTimeout(this.#timers.get(id));
    this.#timers.delete(id);
  }

  /** How many jobs are watched. */
  get count(): number {
    return this.#timers.size;
  }

  /** Stops every watch (the node is closing). */
  stop(): void {
    for (const t of this.#timers.values()) clearTimeout(t);
    this.#timers.clear();
  }
}
