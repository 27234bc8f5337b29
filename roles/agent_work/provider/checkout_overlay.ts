/**
 * The agent-task job's worktree as an overlay of the checked-out repository (docs/SKILLS.md
 * "agent-task"): the job sees `pristine/` writable at `work/` (roles/provider/sandbox/
 * sandbox_overlay.ts) instead of unpacking a tar of it, which wrote every file of the base again
 * for each job. The checkout (and the cache entry its files are hard links of: checkout_cache.ts)
 * is the overlay's lower layer, which the kernel never writes; the job's changes go to its own
 * upper layer in its work dir.
 *
 * In root mode the job is nobody, and an overlay shows the lower's owners: the checkout's files
 * and dirs are given to nobody before the run (only those still the provider's: a cached entry's
 * files are already), and its top dir and `.git` back to the provider after it, for git on the host
 * refuses a repository another user owns (checkResultBundle reads it then).
 *
 * @module
 */
import { SANDBOX_UID } from "../../provider/sandbox/sandbox_setup_script.ts";
import { overlayPathAllowed } from "../../provider/sandbox/sandbox_overlay.ts";
import type { SandboxMode } from "../../provider/sandbox/sandbox_probe.ts";
import type { SandboxOverlay } from "../../provider/sandbox/skill_sandbox.ts";

/** The worktree's name in the job's work dir (skills/agent-task/run works there). */
export const WORKTREE_DIR = "work";

/**
 * The overlay of `<hostDir>/pristine` for the job, made the job user's in root mode; undefined
 * when its path cannot be an overlay's (the job then unpacks the tar).
 *
 * It changes owners as root: no example that runs here: tests/e2e/agent_task_same_base_test.ts.
 */
export async function checkoutOverlay(
  hostDir: string,
  mode: SandboxMode,
): Promise<SandboxOverlay | undefined> {
  const lower = await Deno.realPath(`${hostDir}/pristine`);
  if (!overlayPathAllowed(lower)) return undefined;
  if (mode === "root") {
    const out = await new Deno.Command("chown", {
      args: ["-R", `--from=${Deno.uid()}`, `${SANDBOX_UID}:${SANDBOX_UID}`, "--", lower],
      stdout: "null",
      stderr: "null",
    }).output();
    if (!out.success) return undefined;
  }
  return { lower, dir: WORKTREE_DIR };
}

/**
 * After the run: the checkout's top dir and `.git` the provider's again, so that git on the host
 * opens it (in root mode; whether or not {@linkcode checkoutOverlay} gave them away, or did so only
 * in part before it failed).
 *
 * It changes owners as root: no example that runs here: tests/e2e/agent_task_same_base_test.ts.
 */
export async function checkoutToHost(hostDir: string, mode: SandboxMode): Promise<void> {
  if (mode !== "root") return;
  const uid = Deno.uid() ?? 0;
  const gid = Deno.gid() ?? 0;
  await Deno.chown(`${hostDir}/pristine`, uid, gid);
  await Deno.chown(`${hostDir}/pristine/.git`, uid, gid);
}
