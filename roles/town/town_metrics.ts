/**
 * The town's counters and gauges, rendered as Prometheus text (`/metrics`).
 *
 * @module
 */
import type { TownLimits } from "../../config/town_limits.ts";
import type { PeerBalance } from "../../state/payments/peer_ledger.ts";

/** Counters the read side increments. */
export interface TownCounters {
  connectionsTotal: number;
  messagesReceivedTotal: number;
  eventsSentTotal: number;
  eosesSentTotal: number;
  noticesSentTotal: number;
  closedSentTotal: number;
  countsAnsweredTotal: number;
  invalidMessagesTotal: number;
  oversizeMessagesTotal: number;
  rateLimitedTotal: number;
  tooManySubscriptionsTotal: number;
  slowConsumerDisconnectsTotal: number;
  paymentRequiredTotal: number;
  ownerEventsStoredTotal: number;
  expiredPurgedTotal: number;
  /** Connections closed for ignoring `rate-limited` answers. */
  rateLimitedDisconnectsTotal: number;
  /** REQs refused because the town's read budget was spent. */
  queriesRefusedBusyTotal: number;
  /** EVENTs refused for a `created_at` outside the window. */
  createdAtRefusedTotal: number;
}

/** Gauges read at scrape time. */
export interface TownGauges {
  connectionsOpen: number;
  subscriptionsOpen: number;
  eventsStored: number;
  eventsPublishedTotal: number;
  liveDeliveriesTotal: number;
  /** Blob store gauges and counters (absent on a town without one). */
  blobsStored?: number;
  blobBytesStored?: number;
  blobUploadsInProgress?: number;
  blobUploadsTotal?: number;
  blobUploadBytesTotal?: number;
  blobDownloadsTotal?: number;
  blobDownloadBytesTotal?: number;
  blobRequestsRefusedTotal?: number;
  blobPaymentsTotal?: number;
  /** The read budget: queries in flight and bytes read but not yet sent. */
  queriesInFlight?: number;
  queuedQueryBytes?: number;
  /** Bytes waiting to be sent on the town's WebSockets, both ports (transport/slow_consumer_guard.ts). */
  outboundBufferedBytes?: number;
  /** The BTP listener's counters (absent on a read-only server). */
  btpAuthFailuresTotal?: number;
  btpAuthBlocksTotal?: number;
  btpAuthBlockedRefusalsTotal?: number;
  btpConnectionsRefusedTotal?: number;
  btpConnectionsOpen?: number;
  btpHandshakesFailedTotal?: number;
  btpAcceptErrorsTotal?: number;
  /** BTP peers closed for not reading what the town sent them. */
  btpSlowConsumerDisconnectsTotal?: number;
  /** The soft open-file limit after raising it at start (absent when unknown). */
  openFileLimit?: number;
  /** The NIP-01/HTTP port's listener (transport/http_front.ts). */
  /** Connections refused by the caps. */
  connectionsRefusedTotal?: number;
  /** Request heads not whole in time (slow headers), too large, malformed or refused. */
  httpHandshakesFailedTotal?: number;
  /** Accepts that failed (out of file descriptors) and were retried. */
  httpAcceptErrorsTotal?: number;
  /** Plain HTTP requests closed for idling both ways. */
  httpIdleClosedTotal?: number;
  /** Times the internal HTTP server failed (out of file descriptors) and was started again. */
  httpListenerRestartsTotal?: number;
  /** `/health` and `/metrics` requests served on connections the caps refused. */
  httpOperatorLaneServedTotal?: number;
  /** Idle WebSockets closed to admit a new connection while the caps were reached. */
  httpIdleEvictedTotal?: number;
  /** SPSP requests refused T05 (pubkey, account or total limit). */
  spspRateLimitedTotal?: number;
  /** Packets of peers without a channel refused T04 over their credit (btp/peer_credit_gate.ts). */
  peerCreditRefusedTotal?: number;
}

/** Fresh, zeroed counters. */
export function createTownCounters(): TownCounters {
  return {
    connectionsTotal: 0,
    messagesReceivedTotal: 0,
    eventsSentTotal: 0,
    eosesSentTotal: 0,
    noticesSentTotal: 0,
    closedSentTotal: 0,
    countsAnsweredTotal: 0,
    invalidMessagesTotal: 0,
    oversizeMessagesTotal: 0,
    rateLimitedTotal: 0,
    tooManySubscriptionsTotal: 0,
    slowConsumerDisconnectsTotal: 0,
    paymentRequiredTotal: 0,
    ownerEventsStoredTotal: 0,
    expiredPurgedTotal: 0,
    rateLimitedDisconnectsTotal: 0,
    queriesRefusedBusyTotal: 0,
    createdAtRefusedTotal: 0,
  };
}

function snake(name: string): string {
  return name.replace(/[A-Z]/g, (c) => "_" + c.toLowerCase());
}

/**
 * Prometheus text exposition (version 0.0.4) of the counters, gauges and limits, and the books
 * per BTP peer (`turnpike_town_peer_<owed|claimed|settled|in_flight|in_doubt>{account="..."}`,
 * base units).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { createTownCounters, renderTownMetrics } from "./town_metrics.ts";
 * import { DEFAULT_TOWN_LIMITS } from "../../config/town_limits.ts";
 *
 * const gauges = { connectionsOpen: 2, subscriptionsOpen: 3, eventsStored: 10,
 *   eventsPublishedTotal: 10, liveDeliveriesTotal: 4 };
 * const text = renderTownMetrics(createTownCounters(), gauges, DEFAULT_TOWN_LIMITS);
 * assert.match(text, /^turnpike_town_connections_open 2$/m);
 * new Response(text, { headers: { "content-type": "text/plain; version=0.0.4" } }); // /metrics
 * ```
 */
export function renderTownMetrics(
  counters: TownCounters,
  gauges: TownGauges,
  limits: TownLimits,
  peers: readonly PeerBalance[] = [],
): string {
  const lines: string[] = [];
  for (const [key, value] of Object.entries(counters)) {
    const name = `turnpike_town_${snake(key)}`;
    lines.push(`# TYPE ${name} counter`, `${name} ${value}`);
  }
  for (const [key, value] of Object.entries(gauges)) {
    if (value === undefined) continue;
    const name = `turnpike_town_${snake(key)}`;
    lines.push(`# TYPE ${name} ${key.endsWith("Total") ? "counter" : "gauge"}`, `${name} ${value}`);
  }
  lines.push("# TYPE turnpike_town_limit gauge");
  for (const [key, value] of Object.entries(limits)) {
    lines.push(`turnpike_town_limit{name="${snake(key)}"} ${value}`);
  }
  const columns = ["owed", "claimed", "settled", "inFlight", "inDoubt"] as const;
  for (const column of columns) {
    if (peers.length === 0) break;
    const name = `turnpike_town_peer_${snake(column)}`;
    lines.push(`# TYPE ${name} gauge`);
    for (const p of peers) lines.push(`${name}{account="${p.account}"} ${p[column]}`);
  }
  return lines.join("\n") + "\n";
}
