/**
 * One read of a town for the network view: the providers (announcements and heartbeats) and
 * the job traffic of a window (requests, results, feedback), in a single REQ, turned into the
 * provider directory and the window's stats.
 *
 * @module
 */
import { HANDLER_KIND } from "../../protocol/nip89_handler.ts";
import { HEARTBEAT_KIND } from "../../protocol/provider_heartbeat.ts";
import {
  isJobRequestKind,
  isJobResultKind,
  JOB_FEEDBACK_KIND,
  JOB_REQUEST_KINDS,
  JOB_RESULT_OFFSET,
} from "../../protocol/nip90_job.ts";
import type { NostrEvent } from "../../protocol/nostr_event.ts";
import type { NostrFilter } from "../../protocol/nostr_filter.ts";
import { queryRelays, type RelayQueryFailure } from "../../transport/relay_query_many.ts";
import { buildProviderDirectory, type ProviderListing } from "./provider_directory.ts";
import { computeNetworkStats, type NetworkStats } from "./network_stats.ts";

/** Options for {@linkcode fetchNetworkSnapshot}. */
export interface NetworkSnapshotOptions {
  relayUrl: string;
  /** More towns read too (`[towns.<name>]`); the snapshot is over all of them. */
  moreRelays?: string[];
  /** Told about a town that could not be read (while another was). */
  onRelayFailure?: (failure: RelayQueryFailure) => void;
  /** Length of the window, seconds (default 3600). */
  windowSec?: number;
  /** Unix seconds (default now). */
  nowSec?: number;
  timeoutMs?: number;
  /** Most events read per filter (default 500, a town's usual cap). */
  limit?: number;
}

/** The directory and the window's stats. */
export interface NetworkSnapshot {
  providers: ProviderListing[];
  stats: NetworkStats;
  /**
   * True when a filter returned as many events as asked for: the town may hold more, so the
   * counts are a lower bound (narrow the window).
   */
  truncated: boolean;
}

/** The request kinds 5000-5999 as a list (filters have no ranges). */
function requestKinds(): number[] {
  const kinds: number[] = [];
  for (let k = JOB_REQUEST_KINDS.first; k <= JOB_REQUEST_KINDS.last; k++) kinds.push(k);
  return kinds;
}

/**
 * The filters of the snapshot: providers, then the window's job traffic.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * const filters = networkFilters(1_700_000_000 - 3600, 500);
 * assert.equal(filters.length, 5);
 * assert(filters.every((f) => f.limit === 500));
 * ```
 */
export function networkFilters(sinceSec: number, limit: number): NostrFilter[] {
  const requests = requestKinds();
  return [
    { kinds: [HANDLER_KIND], limit },
    { kinds: [HEARTBEAT_KIND], limit },
    { kinds: requests, since: sinceSec, limit },
    { kinds: requests.map((k) => k + JOB_RESULT_OFFSET), since: sinceSec, limit },
    { kinds: [JOB_FEEDBACK_KIND], since: sinceSec, limit },
  ];
}

/**
 * Reads the town once and computes the directory and the stats.
 *
 * It reads towns: no example that runs here: tests/e2e/network_view_test.ts.
 * @throws {RelayQueryError} when the relay cannot be read.
 */
export async function fetchNetworkSnapshot(o: NetworkSnapshotOptions): Promise<NetworkSnapshot> {
  const nowSec = o.nowSec ?? Math.floor(Date.now() / 1000);
  const sinceSec = nowSec - (o.windowSec ?? 3600);
  const limit = o.limit ?? 500;
  const filters = networkFilters(sinceSec, limit);
  const { events, failures } = await queryRelays([o.relayUrl, ...(o.moreRelays ?? [])], filters, {
    timeoutMs: o.timeoutMs,
    maxEvents: filters.length * limit,
    maxBytes: 256 * 1024 * 1024,
  });
  for (const failure of failures) o.onRelayFailure?.(failure);
  return snapshotOf(events, { sinceSec, nowSec, limit });
}

/**
 * The snapshot of events already read (also what a live subscription recomputes).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { snapshotOf } from "./network_snapshot.ts";
 * import { finalizeEvent, generateSecretKey } from "nostr-tools/pure";
 * import { buildHandlerAnnouncement } from "../../protocol/nip89_handler.ts";
 * import { HEARTBEAT_KIND } from "../../protocol/provider_heartbeat.ts";
 *
 * const now = 1_700_000_000;
 * const provider = generateSecretKey();
 * const metadata = { name: "mayor", paymentMethods: ["ilp"], price: { amount: "10", per: "job" } };
 * const announce = buildHandlerAnnouncement({ d: "mayor", kinds: [5600], metadata, createdAt: now });
 * const beat = { kind: HEARTBEAT_KIND, created_at: now, tags: [["expiration", String(now + 60)]], content: "" };
 * const events = [finalizeEvent(announce, provider), finalizeEvent(beat, provider)];
 * const snap = snapshotOf(events, { sinceSec: now - 3600, nowSec: now, limit: 500 });
 * assert.deepEqual([snap.providers.length, snap.stats.providersOnline, snap.truncated], [1, 1, false]);
 * ```
 */
export function snapshotOf(
  events: readonly NostrEvent[],
  o: { sinceSec: number; nowSec: number; limit?: number },
): NetworkSnapshot {
  const providers = buildProviderDirectory(events, o.nowSec);
  const stats = computeNetworkStats(events, {
    sinceSec: o.sinceSec,
    untilSec: o.nowSec,
    providers,
  });
  return { providers, stats, truncated: o.limit !== undefined && isTruncated(events, o.limit) };
}

function isTruncated(events: readonly NostrEvent[], limit: number): boolean {
  let requests = 0, results = 0, feedback = 0;
  for (const e of events) {
    if (e.kind === JOB_FEEDBACK_KIND) feedback++;
    else if (isJobResultKind(e.kind)) results++;
    else if (isJobRequestKind(e.kind)) requests++;
  }
  return requests >= limit || results >= limit || feedback >= limit;
}
