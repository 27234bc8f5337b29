/**
 * How the network is doing, from what a town stores: job requests (5000-5999), results
 * (6000-6999) and feedback (7000) over a window, joined on the request id (the `e` tag). A job
 * is done when a result answers it, failed when the only answer was `error` feedback, and is
 * still open otherwise; it succeeded when done and its report does not say the work failed (a
 * ci-run whose tests fail is done, not a success: protocol/job_verdict.ts); its latency runs from the request's `created_at` to its first result's.
 * Pure: the events come in, numbers go out (the relay is read by `network_snapshot.ts`).
 *
 * @module
 */
import type { NostrEvent } from "../../protocol/nostr_event.ts";
import {
  isJobRequestKind,
  isJobResultKind,
  JOB_FEEDBACK_KIND,
  parseJobFeedback,
} from "../../protocol/nip90_job.ts";
import type { ProviderListing } from "./provider_directory.ts";
import { verdictOf } from "../../protocol/job_verdict.ts";

/** One provider's share of the window. */
export interface ProviderTally {
  pubkey: string;
  /** Its announced name, when it announced one. */
  name?: string;
  /** Jobs it answered with a result. */
  done: number;
  /** Jobs it answered with `error` feedback and no result. */
  failed: number;
}

/** What {@linkcode computeNetworkStats} reports. */
export interface NetworkStats {
  /** Start and end of the window, unix seconds. */
  sinceSec: number;
  untilSec: number;
  /** Providers with an unexpired heartbeat, and all that announced. */
  providersOnline: number;
  providersKnown: number;
  /** Job requests posted in the window. */
  jobs: number;
  done: number;
  failed: number;
  /** Neither a result nor error feedback yet. */
  open: number;
  /** Done, but the result's report says the work failed (failing tests, a build that broke). */
  doneFailed: number;
  /** Requests per minute over the window. */
  jobsPerMin: number;
  /** (done - doneFailed) / (done + failed); null before any job ended. */
  successRate: number | null;
  /** Request to first result, seconds (Nostr timestamps are whole seconds); null without results. */
  latencyP50Sec: number | null;
  latencyP95Sec: number | null;
  /** Most jobs done first. */
  topProviders: ProviderTally[];
}

/** Options for {@linkcode computeNetworkStats}. */
export interface NetworkStatsOptions {
  /** Start of the window, unix seconds: older requests are not counted. */
  sinceSec: number;
  /** End of the window, unix seconds (default the newest event's time). */
  untilSec?: number;
  /** The directory (for online counts and names); default none. */
  providers?: readonly ProviderListing[];
  /** Length of `topProviders` (default 5). */
  top?: number;
}

/** What is known of one job request. */
interface JobTrack {
  createdAt: number;
  resultAt?: number;
  resultBy?: string;
  /** The first result's report says the work failed. */
  resultFailed?: boolean;
  errorBy?: string;
}

/**
 * Computes the window's figures in one pass over the events plus one over the jobs.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { finalizeEvent, generateSecretKey } from "nostr-tools/pure";
 * import { computeNetworkStats } from "./network_stats.ts";
 *
 * const now = 1_700_000_000;
 * const request = finalizeEvent({ kind: 5600, created_at: now - 120, tags: [], content: "" }, generateSecretKey());
 * const result = finalizeEvent(
 *   { kind: 6600, created_at: now - 60, tags: [["e", request.id]], content: "ok" },
 *   generateSecretKey(),
 * );
 * const stats = computeNetworkStats([request, result], { sinceSec: now - 3600, untilSec: now });
 * assert.deepEqual([stats.jobs, stats.done, stats.open], [1, 1, 0]);
 * ```
 */
export function computeNetworkStats(
  events: readonly NostrEvent[],
  options: NetworkStatsOptions,
): NetworkStats {
  const jobs = trackJobs(events, options.sinceSec);
  const untilSec = options.untilSec ?? newestAt(events, options.sinceSec);
  const tallies = new Map<string, ProviderTally>();
  const latencies: number[] = [];
  let done = 0, failed = 0, doneFailed = 0;
  for (const job of jobs.values()) {
    if (job.resultAt !== undefined) {
      done++;
      if (job.resultFailed) doneFailed++;
      latencies.push(Math.max(0, job.resultAt - job.createdAt));
      tally(tallies, job.resultBy!).done++;
    } else if (job.errorBy !== undefined) {
      failed++;
      tally(tallies, job.errorBy).failed++;
    }
  }
  latencies.sort((a, b) => a - b);
  const providers = options.providers ?? [];
  const minutes = Math.max(untilSec - options.sinceSec, 60) / 60;
  return {
    sinceSec: options.sinceSec,
    untilSec,
    providersOnline: providers.filter((p) => p.online).length,
    providersKnown: providers.length,
    jobs: jobs.size,
    done,
    failed,
    open: jobs.size - done - failed,
    doneFailed,
    jobsPerMin: round2(jobs.size / minutes),
    successRate: done + failed === 0 ? null : round2((done - doneFailed) / (done + failed)),
    latencyP50Sec: percentile(latencies, 0.5),
    latencyP95Sec: percentile(latencies, 0.95),
    topProviders: topOf(tallies, providers, options.top ?? 5),
  };
}

/**
 * The value at rank `q` (0..1) of sorted values, nearest-rank; null when there are none.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * assert.equal(percentile([1, 2, 3, 4], 0.5), 2);
 * ```
 */
export function percentile(sorted: readonly number[], q: number): number | null {
  if (sorted.length === 0) return null;
  const rank = Math.ceil(q * sorted.length);
  return sorted[Math.min(sorted.length, Math.max(rank, 1)) - 1];
}

function trackJobs(events: readonly NostrEvent[], sinceSec: number): Map<string, JobTrack> {
  const jobs = new Map<string, JobTrack>();
  for (const e of events) {
    if (isJobRequestKind(e.kind) && e.created_at >= sinceSec) {
      jobs.set(e.id, { createdAt: e.created_at });
    }
  }
  for (const e of events) {
    if (isJobResultKind(e.kind)) noteResult(jobs, e);
    else if (e.kind === JOB_FEEDBACK_KIND) noteFeedback(jobs, e);
  }
  return jobs;
}

function requestOf(e: NostrEvent): string | undefined {
  return e.tags.find((t) => t[0] === "e")?.[1];
}

function noteResult(jobs: Map<string, JobTrack>, e: NostrEvent): void {
  const job = jobs.get(requestOf(e) ?? "");
  // The first result counts: later ones (another provider, a retry) do not make it faster.
  if (job === undefined || (job.resultAt !== undefined && job.resultAt <= e.created_at)) return;
  job.resultAt = e.created_at;
  job.resultBy = e.pubkey;
  job.resultFailed = reportVerdict(e.content) === "failed";
}

function noteFeedback(jobs: Map<string, JobTrack>, e: NostrEvent): void {
  const job = jobs.get(requestOf(e) ?? "");
  if (job === undefined || job.errorBy !== undefined) return;
  try {
    if (parseJobFeedback(e).status === "error") job.errorBy = e.pubkey;
  } catch {
    // Feedback with no status this reader knows says nothing about the outcome.
  }
}

/** The verdict of a result's JSON report; none for plain text or encrypted content. */
function reportVerdict(content: string): ReturnType<typeof verdictOf> {
  if (!content.startsWith("{") || content.length > 1024 * 1024) return undefined;
  try {
    return verdictOf(JSON.parse(content));
  } catch {
    return undefined;
  }
}

function tally(tallies: Map<string, ProviderTally>, pubkey: string): ProviderTally {
  let t = tallies.get(pubkey);
  if (t === undefined) tallies.set(pubkey, t = { pubkey, done: 0, failed: 0 });
  return t;
}

function topOf(
  tallies: Map<string, ProviderTally>,
  providers: readonly ProviderListing[],
  n: number,
): ProviderTally[] {
  const names = new Map(providers.map((p) => [p.pubkey, p.name]));
  return [...tallies.values()]
    .sort((a, b) => b.done - a.done || a.failed - b.failed || a.pubkey.localeCompare(b.pubkey))
    .slice(0, n)
    .map((t) => names.has(t.pubkey) ? { ...t, name: names.get(t.pubkey) } : t);
}

function newestAt(events: readonly NostrEvent[], floor: number): number {
  let newest = floor;
  for (const e of events) if (e.created_at > newest) newest = e.created_at;
  return newest;
}

function round2(n: number): number {
  return Math.round(n * 100) / 100;
}
