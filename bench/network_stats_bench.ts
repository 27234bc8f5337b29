/**
 * The network stats (one pass joining results and feedback to requests through a map) vs the
 * obvious alternative (for each request, scan every event for its answers), on windows of 100,
 * 500 (a town's usual cap per filter) and 2000 jobs. Each job has a request, a processing
 * feedback and a result; one in ten gets error feedback instead. The events are shaped like a
 * town's (random ids, no signatures: the stats never verify, the relay query did).
 *
 *     deno bench -A bench/network_stats_bench.ts
 *
 * @module
 */
import { bytesToHex } from "@noble/hashes/utils.js";
import type { NostrEvent } from "../protocol/nostr_event.ts";
import { isJobRequestKind, isJobResultKind, JOB_FEEDBACK_KIND } from "../protocol/nip90_job.ts";
import { computeNetworkStats, percentile } from "../roles/requester/network_stats.ts";

const NOW = 1_800_000_000;
const PROVIDERS = Array.from({ length: 8 }, (_, i) => String(i).repeat(64));

function id(): string {
  return bytesToHex(crypto.getRandomValues(new Uint8Array(32)));
}

function event(kind: number, at: number, pubkey: string, tags: string[][]): NostrEvent {
  return { id: id(), pubkey, created_at: at, kind, tags, content: "", sig: "0".repeat(128) };
}

function window(jobs: number): NostrEvent[] {
  const events: NostrEvent[] = [];
  for (let i = 0; i < jobs; i++) {
    const at = NOW - 3000 + i;
    const by = PROVIDERS[i % PROVIDERS.length];
    const req = event(5601, at, "c".repeat(64), [["i", "hi", "text"]]);
    const about = [["e", req.id], ["p", req.pubkey]];
    events.push(req, event(JOB_FEEDBACK_KIND, at + 1, by, [["status", "processing"], ...about]));
    events.push(
      i % 10 === 0
        ? event(JOB_FEEDBACK_KIND, at + 2, by, [["status", "error"], ...about])
        : event(6601, at + 2 + (i % 30), by, about),
    );
  }
  return events;
}

/** The obvious way: every request looks through all events for its answers. */
function scanEachRequest(events: readonly NostrEvent[], sinceSec: number) {
  const latencies: number[] = [];
  let jobs = 0, done = 0, failed = 0;
  for (const req of events) {
    if (!isJobRequestKind(req.kind) || req.created_at < sinceSec) continue;
    jobs++;
    const answers = events.filter((e) => e.tags.some((t) => t[0] === "e" && t[1] === req.id));
    const results = answers.filter((e) => isJobResultKind(e.kind));
    if (results.length > 0) {
      done++;
      latencies.push(Math.min(...results.map((r) => r.created_at)) - req.created_at);
    } else if (
      answers.some((e) =>
        e.kind === JOB_FEEDBACK_KIND && e.tags.some((t) => t[0] === "status" && t[1] === "error")
      )
    ) failed++;
  }
  latencies.sort((a, b) => a - b);
  return { jobs, done, failed, p50: percentile(latencies, 0.5), p95: percentile(latencies, 0.95) };
}

for (const jobs of [100, 500, 2000]) {
  const events = window(jobs);
  const sinceSec = NOW - 3600;
  const ours = computeNetworkStats(events, { sinceSec, untilSec: NOW });
  const theirs = scanEachRequest(events, sinceSec);
  const same = [ours.jobs, ours.done, ours.failed, ours.latencyP50Sec, ours.latencyP95Sec]
    .join() === [theirs.jobs, theirs.done, theirs.failed, theirs.p50, theirs.p95].join();
  if (!same) throw new Error(`the two disagree at ${jobs} jobs`);
  Deno.bench(`computeNetworkStats, ${jobs} jobs`, { group: `${jobs}`, baseline: true }, () => {
    computeNetworkStats(events, { sinceSec, untilSec: NOW });
  });
  Deno.bench(`scan per request, ${jobs} jobs`, { group: `${jobs}` }, () => {
    scanEachRequest(events, sinceSec);
  });
}
