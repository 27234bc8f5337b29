/**
 * One patrol of the refinery (docs/AGENTS.md "The refinery"): the results its book has not
 * decided run through the merge queue (refinery_queue.ts), each decision booked
 * (refinery_book.ts), and each conflict sent back as a new agent task on the new tip, once per
 * sling:
 *
 * - a result whose sling was never sent back is slung again on the branch's tip after the run
 *   (`resend`), the sling written `pendingAtMs` before the post and its new job after;
 * - a result of a sling already sent back (the re-sling's own result, or a job the sling had
 *   before it) that conflicts is `rejected`: it is never slung a second time;
 * - a patrol that finds a re-sling under way (a refinery stopped between its book and its post)
 *   adopts the job `postedSince` finds for the sling, else forgets it and decides the result
 *   afresh; so a second patrol never posts a second job for one conflict.
 *
 * @module
 */
import {
  type RefineryOptions,
  type RefineryOutcome,
  type RefineryResult,
  runRefinery,
} from "./refinery_queue.ts";
import type { RefineryEvent } from "./refinery_queue.ts";
import { readRefineryBook, type RefineryBook, writeRefineryBook } from "./refinery_book.ts";

/** A delivered result and its sling's idempotency key. */
export interface PatrolResult extends RefineryResult {
  /** `bead:<bead id>`, else `job:<first job id of the sling>`. */
  key: string;
}

/** A progress line of a patrol: the queue's and the re-slings'. */
export type PatrolEvent =
  | RefineryEvent
  | {
    type: "reslung";
    job: string;
    key: string;
    to: string;
    /** The tip it starts from; absent for a job adopted after a stop (`adopted`). */
    tip?: string;
    adopted?: boolean;
  };

/** Options of {@linkcode refineryPatrol}. */
export interface PatrolOptions extends Omit<RefineryOptions, "results" | "onEvent"> {
  /** Where the book is (the profile's state dir). */
  stateDir: string;
  results: readonly PatrolResult[];
  /**
   * Posts `result`'s task again on `tip` (its conflicts said); the new job's id. Without it a
   * conflict is rejected (`--no-resling`).
   */
  resend?: (result: PatrolResult, tip: string, conflicts: string[]) => Promise<string>;
  /** A job posted at or after `sinceMs` for sling `key`, if any (a stopped re-sling's). */
  postedSince?: (key: string, sinceMs: number) => Promise<string | undefined>;
  onEvent?: (event: PatrolEvent) => void;
}

/** What a patrol did. */
export interface PatrolSummary {
  branch: string;
  from: string;
  tip: string;
  merged: number;
  reslung: number;
  rejected: number;
  waiting: number;
  /** Results the book had decided before (not tried). */
  decided: number;
  gates: number;
}

/**
 * One patrol; see the module doc.
 *
 * It runs git and the gate: no example that runs here:
 * tests/unit/roles/agent_work/refinery/refinery_patrol_test.ts.
 */
export async function refineryPatrol(o: PatrolOptions): Promise<PatrolSummary> {
  const book = await readRefineryBook(o.stateDir);
  const emit = (e: PatrolEvent) => o.onEvent?.(e);
  await recoverPending(o, book, emit);
  const open = o.results.filter((r) => book.jobs[r.job] === undefined);
  const byJob = new Map(open.map((r) => [r.job, r]));
  const outcomes: RefineryOutcome[] = [];
  const run = await runRefinery({
    ...o,
    results: open,
    onEvent: (e) => {
      // A conflict of a sling already sent back is a rejection, said as such (below).
      if (e.type === "outcome" && e.outcome === "conflict") return;
      emit(e);
    },
  });
  for (const out of run.outcomes) {
    const r = byJob.get(out.job)!;
    const at = new Date().toISOString();
    if (out.outcome === "merged") book.jobs[out.job] = { outcome: "merged", at, tip: out.tip };
    if (out.outcome === "rejected") {
      book.jobs[out.job] = { outcome: "rejected", at, tip: out.tip, reason: out.reason };
    }
    if (out.outcome === "conflict") {
      const sling = book.slings[r.key];
      if (o.resend === undefined || (sling !== undefined && sling.from !== out.job)) {
        const paths = out.conflicts.join(", ");
        const reason = o.resend === undefined
          ? `conflicts with ${o.branch} (${paths}); re-slings are off`
          : `conflicts with ${o.branch} again after its one re-sling (${paths})`;
        book.jobs[out.job] = { outcome: "rejected", at, tip: out.tip, reason };
        const rejected = { ...out, outcome: "rejected" as const, reason };
        outcomes.push(rejected);
        emit({ type: "outcome", ...rejected });
        // Booked now: `continue` skips the write below, and a rejection left out of the book
        // would be tried (and rejected) again by every later patrol.
        await writeRefineryBook(o.stateDir, book);
        continue;
      }
      emit({ type: "outcome", ...out });
      book.slings[r.key] = { from: out.job, pendingAtMs: Date.now() };
      await writeRefineryBook(o.stateDir, book);
      const to = await o.resend(r, run.tip, out.conflicts);
      book.slings[r.key] = { from: out.job, to };
      book.jobs[out.job] = { outcome: "reslung", at, tip: run.tip, reslungTo: to };
      emit({ type: "reslung", job: out.job, key: r.key, to, tip: run.tip });
    }
    outcomes.push(out);
    await writeRefineryBook(o.stateDir, book);
  }
  const of = (what: RefineryOutcome["outcome"]) =>
    outcomes.filter((x) => x.outcome === what).length;
  return {
    branch: o.branch,
    from: run.from,
    tip: run.tip,
    merged: of("merged"),
    reslung: of("conflict"),
    rejected: of("rejected"),
    waiting: of("waiting"),
    decided: o.results.length - open.length,
    gates: run.gates,
  };
}

/** A re-sling a stopped refinery left under way: its job adopted, else forgotten. */
async function recoverPending(
  o: PatrolOptions,
  book: RefineryBook,
  emit: (e: PatrolEvent) => void,
): Promise<void> {
  for (const [key, sling] of Object.entries(book.slings)) {
    if (sling.pendingAtMs === undefined) continue;
    const to = await o.postedSince?.(key, sling.pendingAtMs);
    if (to === undefined) delete book.slings[key];
    else {
      book.slings[key] = { from: sling.from, to };
      book.jobs[sling.from] = { outcome: "reslung", at: new Date().toISOString(), reslungTo: to };
      emit({ type: "reslung", job: sling.from, key, to, adopted: true });
    }
    await writeRefineryBook(o.stateDir, book);
  }
}
