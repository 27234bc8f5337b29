/**
 * An overlay's dirs in a job's work dir (skill_sandbox.ts `SkillJob.overlay`, mounted by the
 * fstab of sandbox_mounts.ts): its mount point, and its upper layer and work dir in `.overlay/`,
 * which the job does not see. Whatever the job writes there lands in its own work dir, counted in
 * its disk (sandbox_supervisor.ts) and removed with it; the lower layer is never written.
 *
 * @module
 */
import { OVERLAY_DIR } from "./sandbox_mounts.ts";
import { SANDBOX_UID } from "./sandbox_setup_script.ts";
import { SkillJobError } from "./skill_sandbox_errors.ts";
import type { SandboxMode } from "./sandbox_probe.ts";
import type { SandboxOverlay } from "./skill_sandbox.ts";

/** An overlay's paths as the fstab takes them (sandbox_mounts.ts `SandboxFstabOptions`). */
export interface OverlayPlan {
  /** The host directory shown. */
  lower: string;
  /** The upper layer (the job's writes). */
  upper: string;
  /** The overlay's work dir. */
  work: string;
  /** The mount point's name in the work dir. */
  dir: string;
}

/** Characters an overlay's paths may hold: its options split at `,` and `:`. */
const OVERLAY_PATH = /^\/[A-Za-z0-9._/-]+$/;

/**
 * Makes the overlay's mount point and its layers' dirs in the (fresh) work dir. In root mode the job is nobody:
 * the upper layer is its (the merged top dir takes the upper's owner), and so must the lower's
 * files be (roles/agent_work/provider/agent_task_inputs.ts makes them so).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { overlayDirs } from "./sandbox_overlay.ts";
 *
 * const workDir = await Deno.makeTempDir();
 * const plan = overlayDirs(workDir, "rootless", { lower: "/srv/checkout", dir: "work" });
 * assert.equal(plan.upper, `${await Deno.realPath(workDir)}/.overlay/upper`);
 * assert.throws(() => overlayDirs(workDir, "rootless", { lower: "/a,b", dir: "w" }));
 * await Deno.remove(workDir, { recursive: true });
 * ```
 */
export function overlayDirs(
  workDir: string,
  mode: SandboxMode,
  o: SandboxOverlay,
): OverlayPlan {
  if (!OVERLAY_PATH.test(o.lower) || !/^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/.test(o.dir)) {
    throw new SkillJobError(`bad overlay ${JSON.stringify(o)}`);
  }
  const real = Deno.realPathSync(workDir);
  const layers = `${real}/${OVERLAY_DIR}`;
  if (!OVERLAY_PATH.test(layers)) throw new SkillJobError(`bad overlay work dir ${layers}`);
  Deno.mkdirSync(`${real}/${o.dir}`, { mode: 0o755 });
  Deno.mkdirSync(layers, { mode: 0o700 });
  Deno.mkdirSync(`${layers}/upper`, { mode: 0o755 });
  Deno.mkdirSync(`${layers}/work`, { mode: 0o700 });
  if (mode === "root") Deno.chownSync(`${layers}/upper`, SANDBOX_UID, SANDBOX_UID);
  return { lower: o.lower, upper: `${layers}/upper`, work: `${layers}/work`, dir: o.dir };
}

/**
 * Whether `path` can be an overlay's layer: its options are split at `,` and `:`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { overlayPathAllowed } from "./sandbox_overlay.ts";
 *
 * assert.equal(overlayPathAllowed("/state/work/job-1.agent/pristine"), true);
 * assert.equal(overlayPathAllowed("/a:b"), false);
 * ```
 */
export function overlayPathAllowed(path: string): boolean {
  return OVERLAY_PATH.test(path);
}

/**
 * After the job: the overlay's own dirs (mode 000, made by the kernel in its work dir: `work/`,
 * and for a volatile overlay `incompat/volatile/`) opened to their owner, so that a provider that
 * is not root can remove the work dir.
 *
 * @example
 * ```ts
 * import { releaseOverlayDirs } from "./sandbox_overlay.ts";
 *
 * const workDir = await Deno.makeTempDir();
 * await Deno.mkdir(`${workDir}/.overlay/work/work`, { recursive: true, mode: 0 });
 * await Deno.mkdir(`${workDir}/.overlay/work/incompat/volatile`, { recursive: true });
 * await Deno.chmod(`${workDir}/.overlay/work/incompat/volatile`, 0);
 * await Deno.chmod(`${workDir}/.overlay/work/incompat`, 0);
 * releaseOverlayDirs(workDir);
 * await Deno.remove(workDir, { recursive: true });
 * ```
 */
export function releaseOverlayDirs(workDir: string): void {
  const open = (dir: string, depth: number) => {
    for (const e of Deno.readDirSync(dir)) {
      if (!e.isDirectory) continue;
      Deno.chmodSync(`${dir}/${e.name}`, 0o700);
      if (depth > 0) open(`${dir}/${e.name}`, depth - 1);
    }
  };
  try {
    open(`${workDir}/${OVERLAY_DIR}/work`, 2);
  } catch { /* no overlay, or gone */ }
}
