/**
 * What the refinery reads of the profile's delivered agent tasks (docs/AGENTS.md "The
 * refinery"), and the task it sends back for a conflict:
 *
 * - a result's sling key: the key of the refinery's own re-sling when the job is one
 *   (refinery_book.ts), else `bead:<bead id>` or `job:<job id>`, as the Witness keys its slings;
 * - its priority: the bead's `priority`, read from the task the profile sent (the job's sidecar
 *   spec keeps it in plain text);
 * - the task sent back: the same spec, its repository bundled again at the branch's new tip
 *   (requester/agent_task_out.ts), to the same provider, with a line saying why it came back.
 *
 * @module
 */
import type { JobSpec } from "../../requester/job_spec.ts";
import type { RequesterJobRecord } from "../../../state/jobs/job_record.ts";
import { type AgentTask, parseAgentTask } from "../agent_task.ts";
import { AGENT_TASK_PARAM as PARAM } from "../agent_task_wire.ts";
import { type AgentTaskParts, sealAgentTask } from "../requester/agent_task_out.ts";
import type { RefineryBook } from "./refinery_book.ts";

/**
 * The sling a result belongs to.
 *
 * @example
 * ```ts
 * import { slingKeyOf } from "./refinery_inputs.ts";
 *
 * const book = { jobs: {}, slings: { "bead:gt-1": { from: "aa", to: "bb" } } };
 * if (slingKeyOf(book, { id: "bb" }) !== "bead:gt-1") throw new Error();
 * if (slingKeyOf(book, { id: "cc", bead: { id: "gt-2" } }) !== "bead:gt-2") throw new Error();
 * ```
 */
export function slingKeyOf(
  book: RefineryBook,
  record: Pick<RequesterJobRecord, "id" | "bead">,
): string {
  const mine = Object.entries(book.slings).find(([, s]) => s.to === record.id);
  if (mine) return mine[0];
  return record.bead ? `bead:${record.bead.id}` : `job:${record.id}`;
}

/**
 * The task an agent-task spec carries (its first text input), undefined when it has none.
 *
 * @example
 * ```ts
 * import { taskOfSpec } from "./refinery_inputs.ts";
 *
 * const data = JSON.stringify({ id: "gt-1", title: "Fix", priority: 1 });
 * if (taskOfSpec({ inputs: [{ type: "text", data }] })?.priority !== 1) throw new Error();
 * ```
 */
export function taskOfSpec(spec: Pick<JobSpec, "inputs">): AgentTask | undefined {
  const input = spec.inputs.find((i) => i.type === "text");
  if (input === undefined) return undefined;
  try {
    return parseAgentTask(input.data);
  } catch {
    return undefined;
  }
}

/** Options of {@linkcode reslingParts}. */
export interface ReslingOptions {
  /** The spec the conflicting job was posted with. */
  spec: JobSpec;
  /** The repository. */
  repo: string;
  /** The branch's tip the task starts again from. */
  tip: string;
  /** The branch's name (said in the task). */
  branch: string;
  /** The paths in conflict (said in the task). */
  conflicts: readonly string[];
  /** The provider to send it to. */
  provider: string;
}

/**
 * The conflicting task sent again at `tip`: its spec (the sealed repository to upload with it is
 * `parts.sealedPath`, a temporary file) and the parts `job submit` would add.
 *
 * It bundles with git: no example that runs here: tests/e2e/refinery_test.ts.
 */
export async function reslingParts(
  o: ReslingOptions,
): Promise<{ spec: JobSpec; parts: AgentTaskParts }> {
  const task = taskOfSpec(o.spec);
  const value = (name: string) => o.spec.params.find((p) => p.name === name)?.values;
  const agent = value(PARAM.agent)?.[0];
  const accept = value(PARAM.accept)?.[0];
  if (task === undefined || agent === undefined || accept === undefined) {
    throw new RangeError("the job's spec is not an agent task's (no task, agent or accept)");
  }
  const why = `This task comes back: its previous result conflicted with ${o.branch} in ` +
    `${o.conflicts.join(", ")}. Do it again on the repository as it is now.`;
  const again: AgentTask = {
    ...task,
    description: task.description ? `${task.description}\n\n${why}` : why,
  };
  const parts = await sealAgentTask({
    repo: o.repo,
    base: o.tip,
    task: again,
    agent,
    accept,
    budget: value(PARAM.budget)?.[0],
    protect: value(PARAM.protect) ?? [],
    provider: o.provider,
    directory: [],
  });
  const spec: JobSpec = {
    ...o.spec,
    inputs: parts.inputs,
    params: parts.params,
    providers: [o.provider],
    then: [],
  };
  delete spec.blobs;
  return { spec, parts };
}
