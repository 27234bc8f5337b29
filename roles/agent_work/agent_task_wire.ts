/**
 * The names an agent task travels under, on both sides of it (docs/PROTOCOL.md "agent-task (kind
 * 5603)"): what the requester writes (roles/agent_work/requester/) the provider reads
 * (roles/agent_work/provider/), and back. One table, so that the two halves cannot drift apart.
 * (The result's short logs carry their key labels in roles/agent_work/result_logs.ts, the one
 * module both sides seal and open them with.)
 *
 * @module
 */
import { JOB_KIND_NAMES } from "../../protocol/job_kind_names.ts";

/** The request kind of an agent task. */
export const AGENT_TASK_KIND: number = JOB_KIND_NAMES["agent-task"];

/**
 * The job's params, by what each carries: the provider's preset, the base commit (40 hex), the
 * gate, the repository bundle's key (64 hex), the repository delta's key (64 hex; the delta is the
 * second blob input) when the base goes as a delta, the budget (base units), the protected globs.
 *
 * @example
 * ```ts
 * import { AGENT_TASK_PARAM } from "./agent_task_wire.ts";
 *
 * if (AGENT_TASK_PARAM.repoKey !== "repo-key") throw new Error();
 * ```
 */
export const AGENT_TASK_PARAM = {
  agent: "agent",
  base: "base",
  accept: "accept",
  repoKey: "repo-key",
  repoDelta: "repo-delta",
  budget: "budget",
  protect: "protect",
} as const;

/** The job's blob input: the repository bundle, sealed with the `repo-key` param's key. */
export const SEALED_REPOSITORY_NAME = "repository.sealed";
/** The job's second blob input, when the base goes as a delta: sealed with its own key. */
export const SEALED_REPOSITORY_DELTA_NAME = "repository-delta.sealed";
/** The result's blob output: the result bundle, sealed with the result's key. */
export const SEALED_RESULT_NAME = "result.bundle.sealed";
/** The result's blob output: the agent's transcript, sealed with a key derived from it. */
export const SEALED_TRANSCRIPT_NAME = "transcript.log.sealed";
/** The label the transcript's key is derived with from the result's (`derivedBlobKey`). */
export const TRANSCRIPT_KEY_LABEL = "agent-task transcript";

/**
 * The label each sealed blob's key is derived with from the result's key; absent: the key itself.
 *
 * @example
 * ```ts
 * import { BLOB_KEY_LABELS, SEALED_TRANSCRIPT_NAME } from "./agent_task_wire.ts";
 *
 * if (BLOB_KEY_LABELS[SEALED_TRANSCRIPT_NAME] !== "agent-task transcript") throw new Error();
 * ```
 */
export const BLOB_KEY_LABELS: Readonly<Record<string, string>> = {
  [SEALED_TRANSCRIPT_NAME]: TRANSCRIPT_KEY_LABEL,
};

/**
 * The preset a job's params name when it is an agent task; undefined for any other job.
 *
 * @example
 * ```ts
 * import { agentPresetOf } from "./agent_task_wire.ts";
 *
 * const params = [{ name: "agent", values: ["claude"] }];
 * if (agentPresetOf({ kind: 5603, params }) !== "claude") throw new Error();
 * if (agentPresetOf({ kind: 5600, params }) !== undefined) throw new Error();
 * ```
 */
export function agentPresetOf(
  job: { kind: number; params: readonly { name: string; values: readonly string[] }[] },
): string | undefined {
  if (job.kind !== AGENT_TASK_KIND) return undefined;
  return job.params.find((p) => p.name === AGENT_TASK_PARAM.agent)?.values[0];
}
