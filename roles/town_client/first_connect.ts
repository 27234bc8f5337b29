/**
 * A node's first connection to its town, tried again while the town cannot be reached (it is
 * restarting, or its port accepts and closes the socket before BTP auth): a node started while
 * its town restarts comes up once the town is back, instead of exiting (docs/OPERATIONS.md
 * "Stopping a town"). Bad credentials are not tried again.
 *
 * @module
 */
import { type BtpClient, BtpConnectionError } from "../../transport/btp_client.ts";
import { backoffDelay, sleep } from "../../protocol/backoff.ts";

/** How long a first connection is tried by default. */
export const DEFAULT_FIRST_CONNECT_MS = 60_000;

/** Options for {@linkcode connectFirst}. */
export interface FirstConnectOptions {
  /** Makes a new client for each attempt (a client whose connect failed is closed). */
  make: () => BtpClient;
  /** How long attempts go on (default {@linkcode DEFAULT_FIRST_CONNECT_MS}); then the last error. */
  withinMs?: number;
  /** One line per failed attempt. */
  log?: (line: string) => void;
}

/**
 * Connects a new client, again after a backoff (250 ms doubling to 5 s) while the failure is a
 * connection's ({@linkcode BtpConnectionError}) and time is left; resolves with the connected
 * client.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { BtpClient } from "../../transport/btp_client.ts";
 * import { connectFirst } from "./first_connect.ts";
 *
 * // Nothing listens on port 9: after the time given, the connection's error.
 * const make = () => new BtpClient({ url: "btp+ws://127.0.0.1:9", authToken: "t" });
 * await assert.rejects(connectFirst({ make, withinMs: 300 }), /127\.0\.0\.1:9/);
 * ```
 */
export async function connectFirst(o: FirstConnectOptions): Promise<BtpClient> {
  const deadline = Date.now() + (o.withinMs ?? DEFAULT_FIRST_CONNECT_MS);
  for (let attempt = 0;; attempt++) {
    const client = o.make();
    try {
      await client.connect();
      return client;
    } catch (err) {
      const left = deadline - Date.now();
      if (!(err instanceof BtpConnectionError) || left <= 0) throw err;
      const wait = Math.min(backoffDelay(attempt, { initialMs: 250, maxMs: 5_000 }), left);
      o.log?.(`town not reached (${err.message}): trying again in ${wait} ms`);
      await sleep(wait);
    }
  }
}
