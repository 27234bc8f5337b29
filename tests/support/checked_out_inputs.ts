/**
 * An agent task's inputs made on the host as the provider's runner makes them
 * (`prepareAgentTaskInputs`), for the checkout tests: the sealed repository (and a delta) among
 * the job's files, a minimal task, and the checkout kept once the job is over.
 *
 * @module
 */
import { prepareAgentTaskInputs } from "../../roles/agent_work/provider/agent_task_inputs.ts";
import type { CheckoutCache } from "../../roles/agent_work/provider/checkout_cache.ts";
import type { SkillJob } from "../../roles/provider/sandbox/skill_sandbox.ts";

/** What {@linkcode checkedOutInputs} is given. */
export interface CheckedOutInputsOptions {
  /** The job's fetched files: `repo` (and `delta`) by name. */
  files: { path: string; name: string }[];
  /** The repository blob's key, hex. */
  repoKey: string;
  /** The delta's key when the job sends one (its file named `delta`). */
  deltaKey?: string;
  /** The job's base. */
  base: string;
  /** The job's host dir (made). */
  hostDir: string;
  cache?: CheckoutCache;
}

/**
 * The job's checkout: the cache entry it was kept as, else its own `pristine/`.
 *
 * @example
 * ```ts ignore
 * const pristine = await checkedOutInputs({ files, repoKey, base, hostDir, cache });
 * ```
 */
export async function checkedOutInputs(o: CheckedOutInputsOptions): Promise<string> {
  const job = { files: o.files, manifest: { diskBytes: 1 << 30 } } as unknown as SkillJob;
  const made = await prepareAgentTaskInputs(
    job,
    {
      repoBlob: "repo",
      repoKey: o.repoKey,
      ...(o.deltaKey === undefined ? {} : { delta: { blob: "delta", key: o.deltaKey } }),
      task: JSON.stringify({ title: "t" }),
      base: o.base,
      protect: [],
      accept: "true",
      preset: { command: "true" },
    },
    o.hostDir,
    o.cache,
  );
  // Kept once the job is over, as the runner does: the checkout moves into the cache.
  return await made.keep() ?? `${o.hostDir}/pristine`;
}
