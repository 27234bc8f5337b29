/**
 * The file a submitted agent task leaves in the requester's profile for `job results --apply`
 * (`agent-tasks/<job id>.json`: the repository, its base, the acceptance command sent, the
 * requester's own verdict once `--verify` ran), and where `--apply` writes the opened transcript
 * (`agent-tasks/<job id>.transcript.log`). docs/AGENTS.md "A coding agent's task".
 *
 * @module
 */

/** What `--apply` needs of a submitted agent task: its repository and base commit. */
export interface AgentTaskLocal {
  repo: string;
  base: string;
  /** The acceptance command sent (`--accept`); absent in records written before it was kept. */
  accept?: string;
  /** The requester's own run of it (`job results --apply --verify`), once made. */
  verified?: Record<string, unknown>;
}

/**
 * Where `job submit` keeps what `--apply` needs.
 *
 * @example
 * ```ts
 * import { agentTaskFile } from "./agent_task_record.ts";
 *
 * if (agentTaskFile("/p", "ab") !== "/p/agent-tasks/ab.json") throw new Error();
 * ```
 */
export function agentTaskFile(stateDir: string, jobId: string): string {
  return `${stateDir}/agent-tasks/${jobId}.json`;
}

/**
 * Where `job results --apply` writes an agent task's transcript (the agent's stdout and stderr,
 * opened with the delivery's key).
 *
 * @example
 * ```ts
 * import { agentTranscriptFile } from "./agent_task_record.ts";
 *
 * if (agentTranscriptFile("/p", "ab") !== "/p/agent-tasks/ab.transcript.log") throw new Error();
 * ```
 */
export function agentTranscriptFile(stateDir: string, jobId: string): string {
  return `${stateDir}/agent-tasks/${jobId}.transcript.log`;
}

/**
 * Records the repository and base of a submitted agent task.
 *
 * @example
 * ```ts
 * import { agentTaskFile, rememberAgentTask } from "./agent_task_record.ts";
 *
 * const dir = await Deno.makeTempDir();
 * await rememberAgentTask(dir, "ab", { repo: "/src/app", base: "0".repeat(40) });
 * if (!(await Deno.readTextFile(agentTaskFile(dir, "ab"))).includes("/src/app")) throw new Error();
 * await Deno.remove(dir, { recursive: true });
 * ```
 */
export async function rememberAgentTask(
  stateDir: string,
  jobId: string,
  local: AgentTaskLocal,
): Promise<void> {
  await Deno.mkdir(`${stateDir}/agent-tasks`, { recursive: true, mode: 0o700 });
  await Deno.writeTextFile(agentTaskFile(stateDir, jobId), JSON.stringify(local) + "\n", {
    mode: 0o600,
  });
}

/**
 * What {@linkcode rememberAgentTask} kept for a job; undefined when nothing was (a job submitted
 * from another profile).
 *
 * @example
 * ```ts
 * import { readAgentTask, rememberAgentTask } from "./agent_task_record.ts";
 *
 * const dir = await Deno.makeTempDir();
 * await rememberAgentTask(dir, "ab", { repo: "/src/app", base: "0".repeat(40) });
 * if ((await readAgentTask(dir, "ab"))?.repo !== "/src/app") throw new Error();
 * if (await readAgentTask(dir, "cd") !== undefined) throw new Error();
 * await Deno.remove(dir, { recursive: true });
 * ```
 */
export async function readAgentTask(
  stateDir: string,
  jobId: string,
): Promise<AgentTaskLocal | undefined> {
  return await Deno.readTextFile(agentTaskFile(stateDir, jobId))
    .then((t) => JSON.parse(t) as AgentTaskLocal, () => undefined);
}
