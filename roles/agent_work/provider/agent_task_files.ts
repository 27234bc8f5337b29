/**
 * What an agent-task run keeps on the host beside its work dir (agent_task_runner.ts): its host
 * dir `<jobsRoot>/<id>.agent` (the repository in the clear) and the gateway's socket dir the host
 * dir names, and their removal.
 *
 * @module
 */

/** In the host dir: the path of the gateway's socket dir. */
export const SOCKET_DIR_FILE = "gateway-dir";

/**
 * Removes what an agent-task run keeps on the host beside its work dir (the repository in the
 * clear, the gateway's socket dir): after each run, and at a restart for a run a crash cut off.
 *
 * @example
 * ```ts
 * import { removeAgentTaskFiles } from "./agent_task_files.ts";
 *
 * const jobsRoot = await Deno.makeTempDir();
 * await Deno.mkdir(`${jobsRoot}/job-1.agent`);
 * await removeAgentTaskFiles(jobsRoot, "job-1");
 * if (await Deno.stat(`${jobsRoot}/job-1.agent`).then(() => true, () => false)) throw new Error();
 * await Deno.remove(jobsRoot);
 * ```
 */
export async function removeAgentTaskFiles(jobsRoot: string, jobId: string): Promise<void> {
  const hostDir = `${jobsRoot}/${jobId}.agent`;
  await removeSocketDir(hostDir);
  await Deno.remove(hostDir, { recursive: true }).catch(() => {});
}

/**
 * The gateway's socket dir named in `hostDir`, removed (the host dir itself goes later, with the
 * job's work dir: roles/provider/jobs/job_run.ts).
 *
 * @example
 * ```ts
 * import { removeSocketDir } from "./agent_task_files.ts";
 *
 * await removeSocketDir("/nonexistent/job-1.agent"); // names none: nothing to remove
 * ```
 */
export async function removeSocketDir(hostDir: string): Promise<void> {
  const socketDir = await Deno.readTextFile(`${hostDir}/${SOCKET_DIR_FILE}`).catch(() => "");
  // Only a dir this runner makes: the file is the provider's own, but be strict all the same.
  if (/^\/[^\0]*\/turnpike-gw-[A-Za-z0-9_]+$/.test(socketDir)) {
    await Deno.remove(socketDir, { recursive: true }).catch(() => {});
  }
}
