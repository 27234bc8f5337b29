/**
 * The sandbox tests run both ways (docs/ARCHITECTURE.md "Prepared sandboxes"): with
 * `TURNPIKE_TEST_SANDBOX_POOL=1` in the environment, every sandbox a test makes through
 * {@linkcode testSandbox} has prepared sandboxes on, and before each job without a gateway one
 * is prepared for its skill, so the job runs in a sandbox set up ahead (the outcome says so:
 * this checks it). Without it, the sandbox is the plain one.
 *
 * @module
 */
import {
  createSkillSandbox,
  type SkillSandbox,
  type SkillSandboxOptions,
} from "../../roles/provider/sandbox/skill_sandbox.ts";

/** Whether this run's sandbox tests go through prepared sandboxes. */
export const POOLED = Deno.env.get("TURNPIKE_TEST_SANDBOX_POOL") === "1";

const open: SkillSandbox[] = [];

/**
 * A sandbox for a test: the plain one, or (pooled run) one whose every job without a gateway
 * runs in a sandbox prepared ahead. Close them with {@linkcode closeTestSandboxes}.
 *
 * @example
 * ```ts
 * const sandbox = await testSandbox({ jobsRoot: "/tmp/t/jobs", hiddenPaths: [] });
 * await closeTestSandboxes();
 * ```
 */
export async function testSandbox(options: SkillSandboxOptions): Promise<SkillSandbox> {
  const inner = await createSkillSandbox(POOLED ? { ...options, prepared: {} } : options);
  if (!POOLED) return inner;
  open.push(inner);
  return {
    ...inner,
    run: async (job) => {
      const ready = job.gateway === undefined && await inner.prepare!(job);
      const outcome = await inner.run(job);
      if (ready && outcome.prepared !== true) {
        throw new Error(`job ${job.jobId} did not run in the sandbox prepared for it`);
      }
      return outcome;
    },
  };
}

/**
 * Closes every sandbox {@linkcode testSandbox} made (their prepared sandboxes killed, their work
 * dirs removed).
 *
 * @example
 * ```ts
 * await closeTestSandboxes();
 * ```
 */
export async function closeTestSandboxes(): Promise<void> {
  for (const s of open.splice(0)) await s.close?.();
}
