/**
 * An agent-task's heartbeat (docs/PROTOCOL.md "Agent heartbeat"): while the agent runs, its
 * provider sends the job's `processing` feedback (with its spend, protocol/agent_spend.ts) at
 * least once per period, and says the period in the tag `["heartbeat", "<seconds>"]`. A requester
 * that has seen no feedback of the job for {@linkcode STALLED_AFTER_BEATS} periods takes its
 * worker as stalled (docs/AGENTS.md "The Witness").
 *
 * @module
 */

/** The tag's name. */
export const AGENT_HEARTBEAT_TAG = "heartbeat";

/** Periods without a beat after which a worker is stalled. */
export const STALLED_AFTER_BEATS = 3;

/**
 * The `heartbeat` tag of a period in ms (whole seconds, at least 1).
 *
 * @example
 * ```ts
 * import { agentHeartbeatTag } from "./agent_heartbeat.ts";
 *
 * if (agentHeartbeatTag(60_000).join(" ") !== "heartbeat 60") throw new Error();
 * ```
 */
export function agentHeartbeatTag(periodMs: number): string[] {
  return [AGENT_HEARTBEAT_TAG, String(Math.max(1, Math.ceil(periodMs / 1000)))];
}

/**
 * The period (s) a feedback's tags say, or undefined without a well-formed `heartbeat` tag.
 *
 * @example
 * ```ts
 * import { parseAgentHeartbeatTag } from "./agent_heartbeat.ts";
 *
 * if (parseAgentHeartbeatTag([["heartbeat", "60"]]) !== 60) throw new Error();
 * if (parseAgentHeartbeatTag([["heartbeat", "x"]]) !== undefined) throw new Error();
 * ```
 */
export function parseAgentHeartbeatTag(
  tags: readonly (readonly string[])[],
): number | undefined {
  const value = tags.find((t) => t[0] === AGENT_HEARTBEAT_TAG)?.[1];
  if (value === undefined || !/^[1-9]\d{0,6}$/.test(value)) return undefined;
  return Number(value);
}
