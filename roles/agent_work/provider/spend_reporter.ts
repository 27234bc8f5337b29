/**
 * An agent-task's live spend (docs/PROTOCOL.md "Live spend"): while the agent runs, its model
 * gateway's spend so far is reported at most once per interval, only when it changed since the
 * last report, and at most {@linkcode MAX_SPEND_REPORTS} times a job: each report is a feedback
 * the provider pays the town to write, and the job's quote counts that many
 * (roles/provider/jobs/job_pricing.ts).
 *
 * With `beatMs`, the same report is also the job's heartbeat (docs/PROTOCOL.md "Agent
 * heartbeat"): when nothing was reported for `beatMs`, the spend goes again unchanged, so that
 * the requester's Witness tells a worker at work from a silent one (docs/AGENTS.md "The
 * Witness"). Beats are not counted against `max`: the agent's time limit bounds them.
 *
 * @module
 */
import type { AgentSpend } from "../../../protocol/agent_spend.ts";
import type { GatewaySpend } from "./gateway_ledger.ts";

/** The most spend reports one job sends. */
export const MAX_SPEND_REPORTS = 30;
/** The least time between two reports of a job, by default. */
export const DEFAULT_SPEND_EVERY_MS = 10_000;
/**
 * Default agent heartbeat period: a Witness takes a worker silent for three periods as stalled
 * (docs/AGENTS.md "The Witness"), so a stopped one is seen within 3 min; each beat is a
 * `processing` feedback billed to its job (its cost measured by bench/agent_heartbeat_cost.ts).
 */
export const DEFAULT_AGENT_HEARTBEAT_MS = 60_000;

/** Options for {@linkcode startSpendReporter}. */
export interface SpendReporterOptions {
  /** The gateway's spend so far. */
  spend: () => GatewaySpend;
  /** Sends one report. */
  report: (spend: AgentSpend) => void;
  /** The least time between two reports (ms). */
  everyMs: number;
  /** The most reports of a changed spend (default {@linkcode MAX_SPEND_REPORTS}). */
  max?: number;
  /** Report the spend unchanged when nothing was reported for this long (ms); none without. */
  beatMs?: number;
  /** Unix ms (tests). */
  now?: () => number;
}

/**
 * Starts reporting; `stop()` ends it (no report after it).
 *
 * @example
 * ```ts
 * import { startSpendReporter } from "./spend_reporter.ts";
 * import type { GatewaySpend } from "./gateway_ledger.ts";
 *
 * const spend: GatewaySpend = {
 *   calls: 1, unmeteredCalls: 0, refused: 0, inputTokens: 10, outputTokens: 2,
 *   cost: 3n, budget: 100n, exhausted: false,
 * };
 * const seen: string[] = [];
 * const { promise, resolve } = Promise.withResolvers<void>();
 * const reporter = startSpendReporter({
 *   spend: () => spend,
 *   report: (s) => {
 *     seen.push(s.cost);
 *     resolve();
 *   },
 *   everyMs: 5,
 * });
 * await promise;
 * reporter.stop();
 * if (seen.join() !== "3") throw new Error(seen.join());
 * ```
 */
export function startSpendReporter(o: SpendReporterOptions): { stop(): void } {
  let last = "0/0";
  let sent = 0;
  const max = o.max ?? MAX_SPEND_REPORTS;
  const clock = o.now ?? Date.now;
  let reportedAt = clock();
  let changedAt = -Infinity;
  const beat = o.beatMs;
  const tick = () => {
    const s = o.spend();
    const now = `${s.cost}/${s.calls}`;
    const at = clock();
    const change = now !== last && sent < max && at - changedAt >= o.everyMs;
    if (change) {
      last = now;
      sent++;
      changedAt = at;
    } else if (beat === undefined || at - reportedAt < beat) return;
    reportedAt = at;
    o.report({
      cost: String(s.cost),
      budget: String(s.budget),
      calls: s.calls,
      inputTokens: s.inputTokens,
      outputTokens: s.outputTokens,
    });
    if (sent >= max && beat === undefined) clearInterval(timer);
  };
  // A beat shorter than the spend's interval is looked at as often as it is due.
  const timer = setInterval(tick, Math.max(1, Math.min(o.everyMs, beat ?? o.everyMs)));
  return { stop: () => clearInterval(timer) };
}

/**
 * A host preset's spend: no model call went through a gateway of this job.
 *
 * @example
 * ```ts
 * import { noSpend } from "./spend_reporter.ts";
 *
 * if (noSpend(100n).cost !== 0n) throw new Error();
 * ```
 */
export function noSpend(budget: bigint): GatewaySpend {
  return {
    calls: 0,
    unmeteredCalls: 0,
    refused: 0,
    inputTokens: 0,
    outputTokens: 0,
    cost: 0n,
    budget,
    exhausted: false,
  };
}
