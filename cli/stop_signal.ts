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
 * declare const node: { stop(): Promise<void> };
 * const stopped = stopSignal();
 * console.log("town up");
 * await stopped;
 * await node.stop();
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
