/**
 * Posts alerts to an operator's webhook: one JSON object per POST, retried with exponential
 * backoff, from a bounded queue. Sending never blocks the caller and never throws into it: a
 * full queue drops the oldest alert (and counts it), a webhook that keeps failing costs retries,
 * not a stalled node.
 *
 * @module
 */
import { TransportError } from "./transport_error.ts";
import { backoffDelay, sleep } from "../protocol/backoff.ts";

/** Options for {@linkcode startAlertWebhook}. */
export interface AlertWebhookOptions {
  /** http(s) URL the alerts are POSTed to. */
  url: string;
  /** Alerts waiting at most; the oldest is dropped beyond. Default 64. */
  maxQueue?: number;
  /** Attempts per alert (the first included). Default 5. */
  attempts?: number;
  /** First retry delay; doubled per attempt. Default 500 ms. */
  backoffMs?: number;
  /** Per-request timeout. Default 5 s. */
  timeoutMs?: number;
  /** Told when an alert is given up (after its attempts, or dropped from a full queue). */
  onGiveUp?: (body: unknown, why: string) => void;
}

/** A running webhook sender. */
export interface AlertWebhook {
  /** Queues one alert; returns at once. */
  send(body: unknown): void;
  /** Alerts delivered, given up and dropped so far. */
  readonly stats: { delivered: number; failed: number; dropped: number };
  /** Waits up to `graceMs` (default 2 s) for the queue to drain, then stops. */
  close(graceMs?: number): Promise<void>;
}

/** The webhook URL is not usable. */
export class AlertWebhookError extends TransportError {
  override name = "AlertWebhookError";
}

/**
 * Starts a sender for `url`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { startAlertWebhook } from "./alert_webhook.ts";
 *
 * const received: unknown[] = [];
 * await using server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, async (req) => {
 *   received.push(await req.json());
 *   return new Response(null, { status: 204 });
 * });
 * const hook = startAlertWebhook({ url: `http://127.0.0.1:${server.addr.port}/alerts` });
 * hook.send({ kind: "low-balance", message: "channel 0x12.. has 4 M2M left" });
 * await hook.close();
 * assert.equal(hook.stats.delivered, 1);
 * assert.deepEqual(received, [{ kind: "low-balance", message: "channel 0x12.. has 4 M2M left" }]);
 * ```
 * @throws {AlertWebhookError} for a URL that is not http(s).
 */
export function startAlertWebhook(options: AlertWebhookOptions): AlertWebhook {
  let url: URL;
  try {
    url = new URL(options.url);
  } catch {
    throw new AlertWebhookError(`alert webhook ${JSON.stringify(options.url)} is not a URL`);
  }
  if (url.protocol !== "http:" && url.protocol !== "https:") {
    throw new AlertWebhookError(`alert webhook must be http(s), got ${url.protocol}`);
  }
  const maxQueue = options.maxQueue ?? 64;
  const attempts = options.attempts ?? 5;
  const backoffMs = options.backoffMs ?? 500;
  const timeoutMs = options.timeoutMs ?? 5_000;
  const queue: unknown[] = [];
  const stats = { delivered: 0, failed: 0, dropped: 0 };
  const stop = new AbortController();
  let running: Promise<void> | undefined;

  const post = async (body: unknown): Promise<void> => {
    const res = await fetch(url, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify(body),
      signal: AbortSignal.any([stop.signal, AbortSignal.timeout(timeoutMs)]),
    });
    await res.body?.cancel();
    if (!res.ok) throw new AlertWebhookError(`HTTP ${res.status}`);
  };
  const deliver = async (body: unknown): Promise<void> => {
    let why = "";
    for (let attempt = 0; attempt < attempts && !stop.signal.aborted; attempt++) {
      if (attempt > 0) {
        await sleep(backoffDelay(attempt - 1, { initialMs: backoffMs, jitter: 0 }), stop.signal);
      }
      try {
        await post(body);
        stats.delivered++;
        return;
      } catch (err) {
        why = (err as Error).message;
      }
    }
    stats.failed++;
    options.onGiveUp?.(body, why || "stopped");
  };
  const drain = async (): Promise<void> => {
    while (queue.length > 0 && !stop.signal.aborted) await deliver(queue.shift());
  };
  const kick = () => {
    running ??= drain().finally(() => {
      running = undefined;
      if (queue.length > 0 && !stop.signal.aborted) kick();
    });
  };
  return {
    stats,
    send(body) {
      if (stop.signal.aborted) return;
      if (queue.length >= maxQueue) {
        stats.dropped++;
        options.onGiveUp?.(queue.shift(), "queue full");
      }
      queue.push(body);
      kick();
    },
    async close(graceMs = 2_000) {
      let timer: ReturnType<typeof setTimeout> | undefined;
      const grace = new Promise<void>((r) => timer = setTimeout(r, graceMs));
      await Promise.race([running ?? Promise.resolve(), grace]);
      clearTimeout(timer);
      stop.abort();
      await running?.catch(() => {});
    },
  };
}
