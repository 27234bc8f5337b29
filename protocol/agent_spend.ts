/**
 * An agent-task's model spend so far, as its provider reports it in a `processing` feedback
 * (docs/PROTOCOL.md "agent-task (kind 5603)", "Live spend"): the tag
 * `["spend", <cost>, <budget>, <calls>, <input tokens>, <output tokens>]`, amounts in the
 * provider's asset base units, the rest counts; the feedback's status line says the same in words.
 *
 * @module
 */

/** The tag's name. */
export const SPEND_TAG = "spend";

/** What the agent's model calls cost so far (all decimal strings on the wire). */
export interface AgentSpend {
  /** What the calls cost, base units. */
  cost: string;
  /** The most they may cost, base units. */
  budget: string;
  calls: number;
  inputTokens: number;
  outputTokens: number;
}

/**
 * The `spend` tag of a `processing` feedback.
 *
 * @example
 * ```ts
 * import { spendTag } from "./agent_spend.ts";
 *
 * const tag = spendTag({ cost: "4", budget: "1000", calls: 2, inputTokens: 2000, outputTokens: 400 });
 * if (tag.join(" ") !== "spend 4 1000 2 2000 400") throw new Error(tag.join(" "));
 * ```
 */
export function spendTag(spend: AgentSpend): string[] {
  return [
    SPEND_TAG,
    spend.cost,
    spend.budget,
    String(spend.calls),
    String(spend.inputTokens),
    String(spend.outputTokens),
  ];
}

/**
 * The spend a feedback's tags report, or undefined when they carry no well-formed `spend` tag.
 *
 * @example
 * ```ts
 * import { parseSpendTag } from "./agent_spend.ts";
 *
 * const spend = parseSpendTag([["status", "processing"], ["spend", "4", "1000", "2", "9", "3"]]);
 * if (spend?.cost !== "4" || spend.calls !== 2) throw new Error();
 * if (parseSpendTag([["spend", "x"]]) !== undefined) throw new Error();
 * ```
 */
export function parseSpendTag(tags: readonly (readonly string[])[]): AgentSpend | undefined {
  const tag = tags.find((t) => t[0] === SPEND_TAG);
  if (tag === undefined || tag.length < 6) return undefined;
  const [cost, budget, calls, input, output] = tag.slice(1, 6);
  if (![cost, budget, calls, input, output].every((v) => /^\d{1,30}$/.test(v))) return undefined;
  const count = (v: string) => Number(v);
  if (![calls, input, output].every((v) => Number.isSafeInteger(count(v)))) return undefined;
  return {
    cost,
    budget,
    calls: count(calls),
    inputTokens: count(input),
    outputTokens: count(output),
  };
}

/**
 * The `processing` feedback's human line for a spend.
 *
 * @example
 * ```ts
 * import { spendInfo } from "./agent_spend.ts";
 *
 * const line = spendInfo({ cost: "4", budget: "1000", calls: 2, inputTokens: 9, outputTokens: 3 });
 * if (line !== "agent running: its model calls cost 4 of 1000 so far (2 calls)") throw new Error();
 * ```
 */
export function spendInfo(spend: AgentSpend): string {
  return `agent running: its model calls cost ${spend.cost} of ${spend.budget} so far ` +
    `(${spend.calls} calls)`;
}
