/**
 * The signal that stops a long-running command (`town up`, `node up`, `requester`, `chain up`).
 * Listening starts when this is called, which must be before the command tells anyone it is up:
 * a SIGINT that arrives between the banner and a later `addSignalListener` would kill the
 * process with Deno's default action (exit 130) instead of a clean stop (exit 0).
 *
 * @module
 */

/**
 * Starts listening for SIGINT and SIGTERM; resolves with the first one (listeners removed).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { stopSignal } from "./stop_signal.ts";
 *
 * const stopped = stopSignal();
 * const waiting = setInterval(() => {}, 1000); // a signal listener alone keeps no test alive
 * Deno.kill(Deno.pid, "SIGTERM"); // what `kill <pid>` sends the node
 * assert.equal(await stopped, "SIGTERM");
 * clearInterval(waiting);
 * ```
 */
export function stopSignal(): Promise<Deno.Signal> {
  const signals: Deno.Signal[] = ["SIGINT", "SIGTERM"];
  return new Promise((resolve) => {
    const listeners = signals.map((signal) => {
      const onSignal = () => {
        signals.forEach((s, i) => Deno.removeSignalListener(s, listeners[i]));
        resolve(signal);
      };
      return onSignal;
    });
    signals.forEach((s, i) => Deno.addSignalListener(s, listeners[i]));
  });
}
