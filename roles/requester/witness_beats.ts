/**
 * What the Witness knows of a running agent task's beats (docs/AGENTS.md "The Witness",
 * docs/PROTOCOL.md "Agent heartbeat"): its newest `processing` feedback from its provider on the
 * towns (the spend it carries, the period its `heartbeat` tag says), and the newest event of the
 * job the profile's node wrote on its record (`lastSeenCreatedAt`). Before any beat the deposit's
 * payment counts as one: the agent starts once it is paid.
 *
 * @module
 */
import { parseSpendTag } from "../../protocol/agent_spend.ts";
import { parseAgentHeartbeatTag, STALLED_AFTER_BEATS } from "../../protocol/agent_heartbeat.ts";
import { JOB_FEEDBACK_KIND } from "../../protocol/nip90_kinds.ts";
import type { NostrEvent } from "../../protocol/nostr_event.ts";
import type { RequesterJobRecord } from "../../state/jobs/job_record.ts";
import { queryRelays } from "../../transport/relay_query_many.ts";
import type { AgentSpend } from "../../protocol/agent_spend.ts";

/** A running job's beats. */
export interface JobBeats {
  /** Unix s of the last beat (or of the deposit's payment), if any. */
  lastBeat?: number;
  /** The beat period (s) its provider said, if it said one. */
  periodS?: number;
  spend?: AgentSpend;
}

/**
 * The newest feedback per job among `events`, from each job's provider.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { beatsOf } from "./witness_beats.ts";
 *
 * const record = {
 *   id: "ab".repeat(32), kind: 5603, skill: "none", status: "processing" as const, createdAtMs: 1,
 *   updatedAtMs: 1, payments: [], lastSeenCreatedAt: 1_700_000_000,
 * };
 * assert.deepEqual(beatsOf([record], []).get(record.id), { lastBeat: 1_700_000_000 });
 * ```
 */
export function beatsOf(
  records: readonly RequesterJobRecord[],
  events: readonly NostrEvent[],
): Map<string, JobBeats> {
  const out = new Map<string, JobBeats>();
  for (const r of records) {
    const paid = r.payments.find((p) => p.status === "paid")?.finishedAtMs;
    let lastBeat = Math.max(r.lastSeenCreatedAt ?? 0, paid ? Math.floor(paid / 1000) : 0);
    let newest: NostrEvent | undefined;
    for (const e of events) {
      if (e.pubkey !== r.provider || !e.tags.some((t) => t[0] === "e" && t[1] === r.id)) continue;
      if (!newest || e.created_at > newest.created_at) newest = e;
    }
    lastBeat = Math.max(lastBeat, newest?.created_at ?? 0);
    out.set(r.id, {
      ...(lastBeat > 0 ? { lastBeat } : {}),
      ...(newest ? { periodS: parseAgentHeartbeatTag(newest.tags) } : {}),
      ...(newest && parseSpendTag(newest.tags) ? { spend: parseSpendTag(newest.tags) } : {}),
    });
  }
  return out;
}

/**
 * Reads the running jobs' feedback from the towns (one query); none when they cannot be read
 * (the records' own beats then stand alone).
 *
 * It reads towns: no example that runs here: tests/e2e/witness_resling_test.ts.
 */
export async function readJobBeats(
  relays: readonly string[],
  records: readonly RequesterJobRecord[],
): Promise<Map<string, JobBeats>> {
  if (records.length === 0) return new Map();
  const providers = [...new Set(records.flatMap((r) => r.provider ? [r.provider] : []))];
  const events = await queryRelays(relays, [{
    kinds: [JOB_FEEDBACK_KIND],
    authors: providers,
    "#e": records.map((r) => r.id),
    limit: 20 * records.length,
  }], { timeoutMs: 3_000 }).then((r) => r.events, () => []);
  return beatsOf(records, events);
}

/**
 * Whether a worker silent for `silentS` with beat period `periodS` is stalled: silent past
 * {@linkcode STALLED_AFTER_BEATS} periods.
 *
 * @example
 * ```ts
 * import { isStalled } from "./witness_beats.ts";
 *
 * if (isStalled(180, 60) || !isStalled(181, 60)) throw new Error();
 * ```
 */
export function isStalled(silentS: number, periodS: number): boolean {
  return silentS > STALLED_AFTER_BEATS * periodS;
}
