/**
 * One run of the refinery's merge queue on an integration branch (docs/AGENTS.md "The
 * refinery"). What goes in: delivered agent-task results, each already a commit of the
 * repository (`job results --apply` made its branch) with the acceptance command its job was
 * sent with. What comes out: each result `merged`, `conflict` (for the caller to sling again on
 * the new tip), `rejected` with its reason, or `waiting` (past `limit`), and the branch moved to
 * the green tip. Progress goes to `onEvent` as it happens.
 *
 * 1. The results already in the branch are `merged` at once; the rest are ordered
 *    (refinery_order.ts) and the first `limit` tried.
 * 2. A batch is taken from the head of the order: one result while fewer than
 *    {@linkcode BATCH_FROM_DEPTH} wait, else up to half of those waiting and at most `maxBatch`,
 *    never mixing priorities (nor overdue results with others), as bors never batches different
 *    priorities.
 * 3. Each result of the batch is checked against the tip so far with `git merge-tree
 *    --write-tree` and merged with `git commit-tree` (merge_check.ts): no working tree, no index.
 *    One that conflicts with the green tip itself is a `conflict`; one that conflicts only with
 *    another result of the batch is deferred until the batch is settled, then checked again.
 * 4. The acceptance command of each result in the batch (each distinct one once) runs on the
 *    merged commit, in turnpike's local sandbox as `--verify` runs it (../local_gate.ts). Green:
 *    the branch is fast-forwarded there (a compare-and-swap: a branch moved by someone else
 *    meanwhile stops the run, {@linkcode RefineryBranchMovedError}). Red: a batch of one is
 *    `rejected` with the gate's output; a larger one is cut in two halves, each settled in
 *    turn on the tip the first left (Mergify's bisection).
 *
 * Every step only adds objects until the branch moves to a green commit, so a run stopped at
 * any point leaves the branch green and the next run starts from it.
 *
 * @module
 */
import { RoleError } from "../../role_error.ts";
import { runGit } from "../git_command.ts";
import { type LocalGateVerdict, runLocalGate } from "../local_gate.ts";
import { fastForwardBranch } from "../result_apply.ts";
import { checkMerge, mergeCommit } from "./merge_check.ts";
import { orderQueue, type QueuedResult, type QueueScore } from "./refinery_order.ts";

/** The depth of the queue from which results are tried in batches. */
export const BATCH_FROM_DEPTH = 4;

/** The most results in one batch, by default. */
export const DEFAULT_MAX_BATCH = 8;

/** A delivered result, as the refinery takes it. */
export interface RefineryResult extends QueuedResult {
  /** The result's commit (its applied branch's tip), in the repository. */
  tip: string;
  /** Its job's acceptance command (`--accept`). */
  accept: string;
  /** A short name for the merge commit's message (the bead's id, the branch). */
  label?: string;
}

/** The gate's verdict the refinery reads. */
export type GateVerdict = Pick<LocalGateVerdict, "verdict" | "exitCode" | "logTail">;

/** What became of a result in a run. */
export type RefineryOutcome =
  | { job: string; outcome: "merged"; tip: string; already?: boolean }
  | { job: string; outcome: "conflict"; tip: string; conflicts: string[] }
  | { job: string; outcome: "rejected"; tip: string; reason: string; logTail?: string }
  | { job: string; outcome: "waiting" };

/** A progress line of a run; `--json` prints each (docs/AGENTS.md "The refinery"). */
export type RefineryEvent =
  | { type: "queued"; job: string; position: number; score: QueueScore }
  | { type: "gate"; jobs: string[]; commit: string; accept: string; verdict: string }
  | (RefineryOutcome & { type: "outcome" });

/** Options of {@linkcode runRefinery}. */
export interface RefineryOptions {
  /** The repository (holds every result's commit). */
  repoDir: string;
  /** The integration branch (`main`). */
  branch: string;
  results: readonly RefineryResult[];
  /** Unix ms now (the results' age). */
  nowMs?: number;
  /** The starvation bound (refinery_order.ts). */
  maxWaitMs?: number;
  /** Newest first, one at a time: the baseline the bench compares with. */
  newestFirst?: boolean;
  /** The most results in a batch; {@linkcode DEFAULT_MAX_BATCH} by default, 1: no batches. */
  maxBatch?: number;
  /** The most results tried in this run; the rest are `waiting`. All by default. */
  limit?: number;
  /** Runs an acceptance command on a commit; the local sandbox (../local_gate.ts) by default. */
  gate?: (commit: string, accept: string) => Promise<GateVerdict>;
  /** Host paths the default gate must never see (the profile's state dir). */
  hiddenPaths?: string[];
  onEvent?: (event: RefineryEvent) => void;
  /** Milliseconds each git command may take. */
  timeoutMs?: number;
}

/** What a run did. */
export interface RefineryRun {
  /** The branch's tip before. */
  from: string;
  /** The branch's tip after (green). */
  tip: string;
  outcomes: RefineryOutcome[];
  /** Gate runs made. */
  gates: number;
}

/** The integration branch moved under the run (another refinery, a push). */
export class RefineryBranchMovedError extends RoleError {
  override name = "RefineryBranchMovedError";
}

/**
 * Runs the queue once; see the module doc.
 *
 * It runs git and the gate: no example that runs here: tests/e2e/refinery_test.ts.
 */
export async function runRefinery(o: RefineryOptions): Promise<RefineryRun> {
  const git = async (args: string[], allowCodes?: number[]) =>
    await runGit(args, { dir: o.repoDir, timeoutMs: o.timeoutMs, allowCodes });
  const from = (await git(["rev-parse", "--verify", `refs/heads/${o.branch}^{commit}`])).stdout
    .trim();
  let tip = from;
  let gates = 0;
  const outcomes: RefineryOutcome[] = [];
  const emit = (e: RefineryEvent) => o.onEvent?.(e);
  const decide = (out: RefineryOutcome) => {
    outcomes.push(out);
    emit({ type: "outcome", ...out });
  };
  const gate = o.gate ?? ((commit: string, accept: string) =>
    runLocalGate({
      repoDir: o.repoDir,
      commit,
      accept,
      hiddenPaths: o.hiddenPaths ?? [],
    }));

  const pending: RefineryResult[] = [];
  for (const r of o.results) {
    const inBranch = await git(["merge-base", "--is-ancestor", r.tip, tip], [1]);
    if (inBranch.code === 0) decide({ job: r.job, outcome: "merged", tip, already: true });
    else pending.push(r);
  }
  const order = orderQueue(pending, {
    nowMs: o.nowMs ?? Date.now(),
    maxWaitMs: o.maxWaitMs,
    newestFirst: o.newestFirst,
  });
  order.forEach(({ result, score }, i) =>
    emit({ type: "queued", job: result.job, position: i + 1, score })
  );
  const tried = order.slice(0, o.limit ?? order.length);
  for (const { result } of order.slice(tried.length)) {
    decide({ job: result.job, outcome: "waiting" });
  }

  /** The merged commit of `items` on `tip`, and the items that conflict on the way. */
  const chainOf = async (items: readonly RefineryResult[]) => {
    let head = tip;
    const chain: RefineryResult[] = [];
    const deferred: RefineryResult[] = [];
    for (const r of items) {
      const check = await checkMerge(o.repoDir, head, r.tip, o.timeoutMs);
      if (!check.clean && chain.length === 0) {
        decide({ job: r.job, outcome: "conflict", tip, conflicts: check.conflicts });
      } else if (!check.clean) deferred.push(r);
      else {
        const message = `Merge ${r.label ?? `turnpike job ${r.job.slice(0, 12)}`}\n\n` +
          `Turnpike-Job: ${r.job}\n`;
        head = await mergeCommit(o.repoDir, head, r.tip, check.tree, message, o.timeoutMs);
        chain.push(r);
      }
    }
    return { head, chain, deferred };
  };

  /** Every distinct acceptance command of `chain` on `head`; the first red one, or undefined. */
  const gateChain = async (head: string, chain: readonly RefineryResult[]) => {
    for (const accept of new Set(chain.map((r) => r.accept))) {
      const seen = await gate(head, accept);
      gates++;
      emit({
        type: "gate",
        jobs: chain.map((r) => r.job),
        commit: head,
        accept,
        verdict: seen.verdict,
      });
      if (seen.verdict !== "pass") return { accept, seen };
    }
    return undefined;
  };

  const advance = async (head: string) => {
    try {
      await fastForwardBranch(o.repoDir, o.branch, { base: tip, tip: head }, o.timeoutMs);
    } catch (err) {
      throw new RefineryBranchMovedError(
        `${o.branch} moved from ${tip} during the run: ${(err as Error).message}`,
        { cause: err },
      );
    }
    tip = head;
  };

  const settle = async (items: readonly RefineryResult[]): Promise<void> => {
    if (items.length === 0) return;
    const { head, chain, deferred } = await chainOf(items);
    if (chain.length > 0) {
      const red = await gateChain(head, chain);
      if (red === undefined) {
        await advance(head);
        for (const r of chain) decide({ job: r.job, outcome: "merged", tip });
      } else if (chain.length === 1) {
        decide({
          job: chain[0]!.job,
          outcome: "rejected",
          tip,
          reason: `\`${red.accept}\` fails on ${o.branch} with it merged (exit ${
            red.seen.exitCode ?? "none"
          })`,
          logTail: red.seen.logTail,
        });
      } else {
        const half = Math.ceil(chain.length / 2);
        await settle(chain.slice(0, half));
        await settle(chain.slice(half));
      }
    }
    await settle(deferred);
  };

  const maxBatch = Math.max(1, o.newestFirst ? 1 : o.maxBatch ?? DEFAULT_MAX_BATCH);
  let next = 0;
  while (next < tried.length) {
    const left = tried.length - next;
    const size = left < BATCH_FROM_DEPTH ? 1 : Math.min(maxBatch, Math.floor(left / 2));
    const head = tried[next]!.score;
    const batch: RefineryResult[] = [];
    while (batch.length < size && next < tried.length) {
      const s = tried[next]!.score;
      if (s.overdue !== head.overdue || (!s.overdue && s.priority !== head.priority)) break;
      batch.push(tried[next++]!.result);
    }
    await settle(batch);
  }
  return { from, tip, outcomes, gates };
}
