/**
 * An agent-task's live spend (docs/PROTOCOL.md "Live spend"): while the agent runs, its model
 * gateway's spend so far is reported at most once per interval, only when it changed since the
 * last report, and at most {@linkcode MAX_SPEND_REPORTS} times a job: each report is a feedback
 * the provider pays the town to write, and the job's quote counts that many
 * (roles/provider/jobs/job_pricing.ts).
 *
 * @module
 */
import type { AgentSpend } from "../../../protocol/agent_spend.ts";
import type { GatewaySpend } from "./gateway_ledger.ts";

/** The most spend reports one job sends. */
export const MAX_SPEND_REPORTS = 30;
/** The least time between two reports of a job, by default. */
export const DEFAULT_SPEND_EVERY_MS = 10_000;

/** Options for {@linkcode startSpendReporter}. */
export interface SpendReporterOptions {
  /** The gateway's spend so far. */
  spend: () => GatewaySpend;
  /** Sends one report. */
  report: (spend: AgentSpend) => void;
  /** The least time between two reports (ms). */
  everyMs: number;
  /** The most reports (default {@linkcode MAX_SPEND_REPORTS}). */
  max?: number;
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
  const timer = setInterval(() => {
    const s = o.spend();
    const now = `${s.cost}/${s.calls}`;
    if (now === last || sent >= max) return;
    last = now;
    sent++;
    o.report({
      cost: String(s.cost),
      budget: String(s.budget),
      calls: s.calls,
      inputTokens: s.inputTokens,
      outputTokens: s.outputTokens,
    });
    if (sent >= max) clearInterval(timer);
  }, Math.max(1, o.everyMs));
  return { stop: () => clearInterval(timer) };
}
