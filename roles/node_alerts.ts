/**
 * A running node's alerts (low channel balance, a failed top-up, the town's price above the
 * ceiling, the relay disconnected): each is written to stderr as `alert: <kind>: <message>`,
 * kept for the node's status (the newest few, with counts), and POSTed to the operator's webhook
 * when one is configured (`--alert-webhook`, `TURNPIKE_ALERT_WEBHOOK`, `[alerts] webhook`;
 * transport/alert_webhook.ts: bounded queue, retries, never blocks the node).
 *
 * The same alert repeated within a minute is logged and posted once: a node paying in a loop
 * on a low channel must not flood its operator.
 *
 * @module
 */
import { type AlertWebhook, startAlertWebhook } from "../transport/alert_webhook.ts";

/** What an alert is about. */
export type AlertKind =
  | "low-balance"
  | "topup"
  | "topup-failed"
  /** A payment past the deposit waits for the channel's top-up (docs/OPERATIONS.md). */
  | "topup-wait"
  | "price-above-ceiling"
  | "relay-disconnected"
  | "town-debt"
  /** The chain would pay this node less than its newest claim (a peer's close or update). */
  | "channel-dispute";

/** One alert, as posted to the webhook (JSON). */
export interface NodeAlert {
  kind: AlertKind;
  /** One line for a human. */
  message: string;
  /** ISO time. */
  ts: string;
  /** The node's Nostr pubkey (hex), when known. */
  node?: string;
  /** Machine-readable details (channel id, amounts as decimal strings...). */
  details?: Record<string, string>;
}

/** Options for {@linkcode createNodeAlerts}. */
export interface NodeAlertsOptions {
  /** Webhook URL; none: alerts are only logged and kept. */
  webhook?: string;
  /** The node's pubkey, put in every alert. */
  node?: string;
  /** Where the alert lines go. Default `console.error`. */
  log?: (line: string) => void;
  /** Same kind and message again within this window is suppressed. Default 60 s. */
  repeatWindowMs?: number;
  /** Newest alerts kept for the status. Default 20. */
  keep?: number;
}

/** The node's alert fan-out. */
export interface NodeAlerts {
  /** Logs, keeps and posts an alert (never blocks, never throws). */
  raise(kind: AlertKind, message: string, details?: Record<string, string>): void;
  /** The newest alerts (oldest first) and the count per kind, for `node status`. */
  snapshot(): { recent: NodeAlert[]; counts: Partial<Record<AlertKind, number>> };
  /** Lets queued webhook posts go out (bounded), then stops. */
  close(): Promise<void>;
}

/**
 * Creates the fan-out.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { createNodeAlerts } from "./node_alerts.ts";
 *
 * const posted: { kind: string; details?: Record<string, string> }[] = [];
 * await using hook = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, async (req) => {
 *   posted.push(await req.json());
 *   return new Response(null, { status: 204 });
 * });
 * const lines: string[] = [];
 * const alerts = createNodeAlerts({
 *   webhook: `http://127.0.0.1:${hook.addr.port}/hook`,
 *   log: (line) => lines.push(line),
 * });
 * alerts.raise("low-balance", "channel 0xab.. has 4 M2M left", { channelId: "0xab.." });
 * alerts.raise("low-balance", "channel 0xab.. has 4 M2M left"); // within a minute: once
 * await alerts.close();
 * assert.deepEqual(lines, ["alert: low-balance: channel 0xab.. has 4 M2M left"]);
 * assert.deepEqual(posted.map((a) => [a.kind, a.details]), [["low-balance", { channelId: "0xab.." }]]);
 * assert.equal(alerts.snapshot().counts["low-balance"], 1);
 * ```
 */
export function createNodeAlerts(options: NodeAlertsOptions = {}): NodeAlerts {
  const log = options.log ?? ((line: string) => console.error(line));
  const windowMs = options.repeatWindowMs ?? 60_000;
  const keep = options.keep ?? 20;
  const hook: AlertWebhook | undefined = options.webhook
    ? startAlertWebhook({
      url: options.webhook,
      onGiveUp: (_body, why) => log(`alert webhook: an alert was not delivered (${why})`),
    })
    : undefined;
  const recent: NodeAlert[] = [];
  const counts: Partial<Record<AlertKind, number>> = {};
  const lastSeen = new Map<string, number>();
  return {
    raise(kind, message, details) {
      const key = `${kind}\n${message}`;
      const now = Date.now();
      const last = lastSeen.get(key);
      if (last !== undefined && now - last < windowMs) return;
      lastSeen.set(key, now);
      const alert: NodeAlert = {
        kind,
        message,
        ts: new Date(now).toISOString(),
        ...(options.node ? { node: options.node } : {}),
        ...(details ? { details } : {}),
      };
      counts[kind] = (counts[kind] ?? 0) + 1;
      recent.push(alert);
      if (recent.length > keep) recent.shift();
      log(`alert: ${kind}: ${message}`);
      hook?.send(alert);
    },
    snapshot: () => ({ recent: [...recent], counts: { ...counts } }),
    close: async () => {
      await hook?.close();
    },
  };
}
