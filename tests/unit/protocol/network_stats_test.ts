/**
 * The network stats on signed job requests, results and feedback as requesters and providers
 * publish them, joined with a provider directory built from signed announcements.
 */
import { finalizeEvent, generateSecretKey, getPublicKey } from "nostr-tools";
import { buildJobFeedback, buildJobRequest, buildJobResult } from "../../../protocol/nip90_job.ts";
import { buildHandlerAnnouncement } from "../../../protocol/nip89_handler.ts";
import { HEARTBEAT_KIND } from "../../../protocol/provider_heartbeat.ts";
import type { NostrEvent } from "../../../protocol/nostr_event.ts";
import { buildProviderDirectory } from "../../../roles/requester/provider_directory.ts";
import { computeNetworkStats, percentile } from "../../../roles/requester/network_stats.ts";
import { networkFilters, snapshotOf } from "../../../roles/requester/network_snapshot.ts";
import { validateFilter } from "../../../protocol/nostr_filter.ts";
import { assertEquals } from "../../../harness/assert.ts";

const NOW = 1_800_000_000;
const customer = generateSecretKey();
const alpha = generateSecretKey();
const beta = generateSecretKey();

function request(at: number, kind = 5601): NostrEvent {
  return finalizeEvent(
    buildJobRequest({ kind, inputs: [{ data: "hi", type: "text" }], createdAt: at }),
    customer,
  );
}

function result(req: NostrEvent, by: Uint8Array, at: number): NostrEvent {
  return finalizeEvent({ ...buildJobResult({ request: req, content: "ok" }), created_at: at }, by);
}

function feedback(req: NostrEvent, by: Uint8Array, status: "error" | "processing", at: number) {
  return finalizeEvent(buildJobFeedback({ request: req, status, createdAt: at }), by);
}

function announce(key: Uint8Array, name: string, expires: number): NostrEvent[] {
  return [
    finalizeEvent(
      buildHandlerAnnouncement({
        d: "turnpike-provider",
        kinds: [5601],
        metadata: { name, skills: [{ name: "echo", kinds: [5601], price: "100" }] },
        createdAt: NOW - 500,
      }),
      key,
    ),
    finalizeEvent({
      kind: HEARTBEAT_KIND,
      created_at: NOW - 60,
      tags: [["d", "turnpike-heartbeat"], ["expiration", String(expires)]],
      content: "",
    }, key),
  ];
}

Deno.test("network stats: done, failed, open, rate, latency, top providers", () => {
  const r1 = request(NOW - 600), r2 = request(NOW - 500), r3 = request(NOW - 400);
  const r4 = request(NOW - 300), old = request(NOW - 4000);
  const events = [
    r1,
    r2,
    r3,
    r4,
    old,
    feedback(r1, alpha, "processing", NOW - 599),
    result(r1, alpha, NOW - 590), // 10 s
    result(r2, alpha, NOW - 470), // 30 s
    result(r2, beta, NOW - 460), // a second answer: the first one counts
    feedback(r3, beta, "error", NOW - 399),
    result(old, beta, NOW - 3990), // request outside the window
    ...announce(alpha, "alpha", NOW + 100),
    ...announce(beta, "beta", NOW - 1),
  ];
  const providers = buildProviderDirectory(events, NOW);
  const stats = computeNetworkStats(events, { sinceSec: NOW - 3600, untilSec: NOW, providers });
  assertEquals(stats.jobs, 4);
  assertEquals([stats.done, stats.failed, stats.open], [2, 1, 1]);
  assertEquals(stats.successRate, 0.67);
  assertEquals(stats.jobsPerMin, round2(4 / 60));
  assertEquals([stats.latencyP50Sec, stats.latencyP95Sec], [10, 30]);
  assertEquals([stats.providersOnline, stats.providersKnown], [1, 2]);
  assertEquals(stats.topProviders, [
    { pubkey: getPublicKey(alpha), name: "alpha", done: 2, failed: 0 },
    { pubkey: getPublicKey(beta), name: "beta", done: 0, failed: 1 },
  ]);
});

Deno.test("network stats: a result whose report says the work failed is done but not a success", () => {
  const passed = request(NOW - 300, 5600), failedTests = request(NOW - 200, 5600);
  const report = (status: string) =>
    JSON.stringify({ status, exitCode: status === "passed" ? 0 : 1 });
  const answer = (req: NostrEvent, content: string, at: number) =>
    finalizeEvent({ ...buildJobResult({ request: req, content }), created_at: at }, alpha);
  const stats = computeNetworkStats([
    passed,
    failedTests,
    answer(passed, report("passed"), NOW - 290),
    answer(failedTests, report("failed"), NOW - 190),
  ], { sinceSec: NOW - 3600, untilSec: NOW });
  assertEquals([stats.done, stats.doneFailed, stats.failed, stats.successRate], [2, 1, 0, 0.5]);
});

Deno.test("network stats: an empty window has no rate and no latency", () => {
  const stats = computeNetworkStats([], { sinceSec: NOW - 60, untilSec: NOW });
  assertEquals(
    [stats.jobs, stats.jobsPerMin, stats.successRate, stats.latencyP50Sec, stats.topProviders],
    [0, 0, null, null, []],
  );
});

Deno.test("network stats: an error then a result is a success", () => {
  const r = request(NOW - 100);
  const stats = computeNetworkStats([
    r,
    feedback(r, alpha, "error", NOW - 90),
    result(r, beta, NOW - 80),
  ], { sinceSec: NOW - 3600, untilSec: NOW });
  assertEquals([stats.done, stats.failed, stats.successRate], [1, 0, 1]);
  assertEquals(stats.topProviders.map((t) => t.pubkey), [getPublicKey(beta)]);
});

Deno.test("percentile: nearest rank", () => {
  const values = Array.from({ length: 100 }, (_, i) => i + 1);
  assertEquals([percentile(values, 0.5), percentile(values, 0.95)], [50, 95]);
  assertEquals([percentile([7], 0.95), percentile([], 0.5)], [7, null]);
});

Deno.test("network snapshot: filters a town accepts; truncation flagged at the limit", () => {
  for (const f of networkFilters(NOW - 3600, 500)) validateFilter(f);
  const events = [request(NOW - 10), request(NOW - 20)];
  assertEquals(snapshotOf(events, { sinceSec: NOW - 60, nowSec: NOW, limit: 2 }).truncated, true);
  assertEquals(snapshotOf(events, { sinceSec: NOW - 60, nowSec: NOW, limit: 3 }).truncated, false);
});

function round2(n: number): number {
  return Math.round(n * 100) / 100;
}
