/**
 * How a town stops (docs/OPERATIONS.md "Stopping a town"): each start-up step adds what closes
 * what it opened, and a stop closes them last opened first. The last added, so run first, is the
 * drain: new packets are refused T03 and those in flight are answered while every socket and
 * store is still open; then the sockets close, what is queued is committed, the stores close.
 *
 * @module
 */
import type { BtpRouter } from "./btp/btp_router.ts";
import type { BtpServer } from "./btp/btp_server.ts";

/** Closes what a town's start-up steps opened, last opened first. */
export class TownClosers {
  #closers: (() => Promise<void> | void)[] = [];
  #stopped: Promise<void> | undefined;

  /**
   * Adds what closes something just opened.
   *
   * @example
   * ```ts
   * import assert from "node:assert/strict";
   * import { TownClosers } from "./town_stop.ts";
   *
   * const closed: string[] = [];
   * const closers = new TownClosers();
   * closers.add(() => void closed.push("store"));
   * closers.add(() => void closed.push("server"));
   * await closers.stop();
   * assert.equal(closed.length, 2);
   * ```
   */
  add(close: () => Promise<void> | void): void {
    this.#closers.push(close);
  }

  /**
   * Runs every closer added, last added first; one that fails does not keep the rest from
   * running. Safe to call twice: the second call resolves with the first.
   *
   * @example
   * ```ts
   * import assert from "node:assert/strict";
   * import { TownClosers } from "./town_stop.ts";
   *
   * let runs = 0;
   * const closers = new TownClosers();
   * closers.add(() => void runs++);
   * await closers.stop();
   * await closers.stop(); // nothing more
   * assert.equal(runs, 1);
   * ```
   */
  stop(): Promise<void> {
    return this.#stopped ??= this.#closeAll();
  }

  async #closeAll(): Promise<void> {
    for (const close of this.#closers.splice(0).reverse()) {
      try {
        await close();
      } catch {
        // keep stopping the rest
      }
    }
  }
}

/** Options for {@linkcode drainInFlight}. */
export interface DrainInFlightOptions {
  router: BtpRouter;
  btp: BtpServer;
  /** How long to wait for the packets in flight to be answered. */
  timeoutMs: number;
  log: (line: string) => void;
}

/**
 * Refuses new packets T03 and waits, within `timeoutMs`, for those in flight to be answered: the
 * router's, then what the claim gates still hold (a FULFILL waits for its claim to be durable).
 * Logs how many were cut off, if any.
 *
 * It is a step of startTownNode (its example starts a town here)'s stop: no example that runs here:
 * tests/e2e/town_crash_test.ts.
 */
export async function drainInFlight(options: DrainInFlightOptions): Promise<void> {
  const bound = Date.now() + options.timeoutMs;
  await options.router.drain(bound - Date.now());
  // Then what the claim gates still hold (a FULFILL waits for its claim to be durable).
  const left = await options.btp.settled(Math.max(0, bound - Date.now()));
  if (left > 0) options.log(`stopping: ${left} packets still in flight are cut off`);
}
