/**
 * A late result: an agent task that ended `timed-out` here after its deposit was paid, whose
 * provider finished and published all the same. Its result is looked up on the towns (a REQ for
 * the result kind referencing the job, from the provider paid), so its delivery can be paid and
 * its key had (docs/AGENTS.md "A result that came after the timeout").
 *
 * @module
 */
import { JOB_KIND_NAMES } from "../../protocol/job_kind_names.ts";
import type { NostrEvent } from "../../protocol/nostr_event.ts";
import type { RequesterJobRecord } from "../../state/jobs/job_record.ts";
import { queryRelays } from "../../transport/relay_query_many.ts";
import type { QueryRelayOptions } from "../../transport/relay_query.ts";
import { encodeEventToon } from "../../protocol/toon_codec.ts";
import type { JobRepository } from "../../state/jobs/job_repository.ts";
import { JobEventRouter, type JobFeedOptions } from "./job_feed.ts";
import { authenticateWith } from "../../protocol/nip42_auth.ts";
import type { JobFollower } from "./job_follower.ts";
import { formatJobSidecar, readJobSidecar } from "./job_sidecar.ts";

/** How long a job reopened for its late result is followed before it times out again. */
export const LATE_RESULT_WINDOW_MS = 120_000;

/**
 * Whether a job is an agent task that timed out here with its deposit paid to a known provider:
 * one whose late result is worth looking up.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { wantsLateResult } from "./late_result.ts";
 *
 * const record = { id: "ab".repeat(32), kind: 5600, skill: "none", status: "sent" as const, createdAtMs: 1, updatedAtMs: 1, payments: [] };
 * assert.equal(wantsLateResult(record), false); // not an agent task that timed out
 * ```
 */
export function wantsLateResult(record: RequesterJobRecord): boolean {
  return record.kind === JOB_KIND_NAMES["agent-task"] && record.status === "timed-out" &&
    record.provider !== undefined && record.payments.some((p) => p.status === "paid");
}

/** Options for {@linkcode findLateResult}. */
export interface FindLateResultOptions {
  /** The towns' relay URLs. */
  relays: readonly string[];
  /** The job (its kind, id and the provider its deposit was paid to). */
  record: RequesterJobRecord;
  /** Answers a town's NIP-42 challenge: result kinds may be private. */
  authenticate?: QueryRelayOptions["authenticate"];
  /** Per town (default the query's own). */
  timeoutMs?: number;
}

/**
 * The newest result of the job its provider published on any of the towns, if any.
 *
 * It reads towns: no example that runs here: tests/e2e/agent_task_late_result_test.ts.
 */
export async function findLateResult(
  options: FindLateResultOptions,
): Promise<NostrEvent | undefined> {
  const { record } = options;
  const { events } = await queryRelays(options.relays, [{
    kinds: [record.kind + 1000],
    authors: [record.provider!],
    "#e": [record.id],
    limit: 5,
  }], { authenticate: options.authenticate, timeoutMs: options.timeoutMs });
  return events.sort((a, b) => b.created_at - a.created_at)[0];
}

/** Options for {@linkcode LateResults}. */
export interface LateResultsOptions {
  /** The profile's state dir (the stored results; an older profile's sidecar files). */
  stateDir: string;
  /** The towns' relay URLs. */
  relays: readonly string[];
  /** Answers a town's NIP-42 challenge. */
  authenticate?: QueryRelayOptions["authenticate"];
  /** The job records and their sidecars. */
  repo: Pick<JobRepository, "read" | "update" | "sidecarText" | "putSidecar">;
  /** The jobs followed. */
  jobs: Pick<JobFollower, "isFollowed" | "waitFor" | "keepSidecar" | "track">;
  /** Handles the result as the feed's (checked, its delivery paid once, the job ended). */
  router: Pick<JobEventRouter, "onToon">;
}

/**
 * Gets timed-out agent tasks' late results: looked up on the towns from the provider paid; when
 * there, the job is followed again for {@linkcode LATE_RESULT_WINDOW_MS} and the result handled
 * as the feed's, ending it `done` (or `error`, as any result).
 *
 * It reads towns: no example that runs here: tests/e2e/agent_task_late_result_test.ts.
 */
export class LateResults {
  #o: LateResultsOptions;
  #running = new Map<string, Promise<RequesterJobRecord>>();

  constructor(options: LateResultsOptions) {
    this.#o = options;
  }

  /** The job's record once its late result was handled; unchanged when there is none. */
  get(id: string): Promise<RequesterJobRecord> {
    // One lookup per job at a time: two commands asking at once share it.
    const running = this.#running.get(id);
    if (running) return running;
    const lookup = this.#lookUp(id).finally(() => this.#running.delete(id));
    this.#running.set(id, lookup);
    return lookup;
  }

  async #lookUp(id: string): Promise<RequesterJobRecord> {
    const { jobs, repo, stateDir } = this.#o;
    if (jobs.isFollowed(id)) return await jobs.waitFor(id);
    const record = await repo.read(id);
    if (!record || !wantsLateResult(record)) return record!;
    const event = await findLateResult({ ...this.#o, record });
    if (!event) return record;
    // Followed again with a new deadline, written first: a crash from here resumes it as any job
    // in flight (the feed replays the result, the payer pays it at most once).
    const stored = await readJobSidecar(stateDir, id, repo);
    if (!stored) return record;
    const sidecar = { ...stored, deadlineMs: Date.now() + LATE_RESULT_WINDOW_MS };
    await repo.putSidecar(id, formatJobSidecar(sidecar), { action: "late-result" });
    // The timeout kept an empty stored result (callback_runner.ts): the late one takes its
    // place. A callback skill, run once at the timeout, is not run again.
    const payload = `${stateDir}/callbacks/${id}.in.payload`;
    if ((await Deno.stat(payload).catch(() => undefined))?.size === 0) await Deno.remove(payload);
    jobs.keepSidecar(id, sidecar);
    const reopened = await repo.update(
      id,
      (r) => ({ ...r, status: "paid", error: undefined }),
      { action: "late-result" },
    );
    jobs.track(reopened, sidecar);
    this.#o.router.onToon(encodeEventToon(event));
    return await jobs.waitFor(id);
  }
}

/**
 * The requester node's {@linkcode LateResults}: the feed's towns, signer, jobs and a router of its
 * own that handles a late result as the feed's.
 *
 * It reads towns: no example that runs here: tests/e2e/agent_task_late_result_test.ts.
 */
export function lateResultsOf(
  feed: JobFeedOptions,
  o: Pick<LateResultsOptions, "repo" | "jobs">,
): LateResults {
  return new LateResults({
    ...o,
    stateDir: feed.stateDir,
    relays: feed.relays,
    authenticate: feed.signer ? authenticateWith(feed.signer) : undefined,
    router: new JobEventRouter(feed),
  });
}
