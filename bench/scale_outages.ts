/**
 * Which chaos outage a failed job of the scale harness lived through (docs/SCALE.md, "failure
 * modes"): the intervals between each SIGKILL or stop in the chaos log and the matching restart,
 * and the first one that touched the job's own processes while it was in flight.
 *
 * @module
 */

/** One chaos log entry, as the harness records it. */
export interface ChaosEvent {
  atMs: number;
  what: string;
}

/** A process (or PostgreSQL) down from `fromMs` to `toMs` (the end of the run if never back). */
export interface Outage {
  /** `provider host 3`, `requester host 1`, `town 0`, `postgres`. */
  who: string;
  fromMs: number;
  toMs: number;
}

/** What a job depends on: the names of {@linkcode Outage.who} that stop it. */
export interface JobParts {
  /** Its provider's host (`--provider-hosts`), if any. */
  providerHost?: number;
  /** Its requester's host (`--requester-hosts`), if any. */
  requesterHost?: number;
  /** Its requester's town, and its provider's town (the same one unless it crosses). */
  towns: number[];
  /** Whether one of its towns keeps its store on PostgreSQL. */
  postgres: boolean;
}

/** The kinds of outage, in the order a job is charged to one. */
export const OUTAGE_KINDS = [
  "provider host down",
  "requester host down",
  "its town restarting",
  "PostgreSQL restarting",
  "no outage",
] as const;

/** One of {@linkcode OUTAGE_KINDS}. */
export type OutageKind = typeof OUTAGE_KINDS[number];

const DOWN = [
  [/^provider host (\d+) SIGKILL$/, "provider host"],
  [/^requester host (\d+) SIGKILL$/, "requester host"],
  [/^town (\d+)(?: process \d+)? SIGKILL$/, "town"],
  [/^PostgreSQL stopped/, "postgres"],
] as const;
const UP = [
  [/^provider host (\d+) restarted$/, "provider host"],
  [/^requester host (\d+) restarted$/, "requester host"],
  [/^town (\d+) restarted$/, "town"],
  [/^PostgreSQL restarted$/, "postgres"],
] as const;

function match(what: string, table: typeof DOWN | typeof UP): string | undefined {
  for (const [re, name] of table) {
    const m = re.exec(what);
    if (m) return m[1] === undefined ? name : `${name} ${m[1]}`;
  }
  return undefined;
}

/**
 * The outages in a chaos log: each SIGKILL or stop paired with the next restart of the same
 * process; one never restarted lasts until `endMs`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { outagesOf } from "./scale_outages.ts";
 *
 * const o = outagesOf([
 *   { atMs: 1000, what: "provider host 2 SIGKILL" },
 *   { atMs: 9000, what: "provider host 2 restarted" },
 * ], 60_000);
 * assert.deepEqual(o, [{ who: "provider host 2", fromMs: 1000, toMs: 9000 }]);
 * ```
 */
export function outagesOf(events: readonly ChaosEvent[], endMs: number): Outage[] {
  const open = new Map<string, number>();
  const out: Outage[] = [];
  for (const e of events) {
    const down = match(e.what, DOWN);
    if (down !== undefined) {
      if (!open.has(down)) open.set(down, e.atMs);
      continue;
    }
    const up = match(e.what, UP);
    const from = up === undefined ? undefined : open.get(up);
    if (up !== undefined && from !== undefined) {
      out.push({ who: up, fromMs: from, toMs: e.atMs });
      open.delete(up);
    }
  }
  for (const [who, fromMs] of open) out.push({ who, fromMs, toMs: endMs });
  return out;
}

/**
 * The outage a job from `startMs` to `endMs` is charged to: the first of
 * {@linkcode OUTAGE_KINDS} whose process it needs was down at some instant of its life.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { outageOfJob } from "./scale_outages.ts";
 *
 * const outages = [{ who: "provider host 2", fromMs: 1000, toMs: 9000 }];
 * const parts = { providerHost: 2, towns: [0], postgres: false };
 * assert.equal(outageOfJob(outages, parts, 500, 130_000), "provider host down");
 * assert.equal(outageOfJob(outages, parts, 10_000, 20_000), "no outage"); // after the restart
 * ```
 */
export function outageOfJob(
  outages: readonly Outage[],
  parts: JobParts,
  startMs: number,
  endMs: number,
): OutageKind {
  const hit = (who: string) =>
    outages.some((o) => o.who === who && o.fromMs <= endMs && o.toMs >= startMs);
  if (parts.providerHost !== undefined && hit(`provider host ${parts.providerHost}`)) {
    return "provider host down";
  }
  if (parts.requesterHost !== undefined && hit(`requester host ${parts.requesterHost}`)) {
    return "requester host down";
  }
  if (parts.towns.some((t) => hit(`town ${t}`))) return "its town restarting";
  if (parts.postgres && hit("postgres")) return "PostgreSQL restarting";
  return "no outage";
}
