/**
 * Which sandbox mode this machine and user get (roles/provider/sandbox/skill_sandbox.ts): root
 * or rootless, probed by running what a job's setup runs, and how each bounds a job's memory
 * and processes. `turnpike doctor` shows it; every sandbox probes once when made.
 *
 * @module
 */
import { SkillSandboxUnavailableError } from "./skill_sandbox_errors.ts";
import { PDEATHSIG_OPTION } from "./parent_death.ts";
import { probeCgroupControllers } from "./sandbox_limits.ts";

/** How the sandbox gets its privileges: as root, or inside a user namespace. */
export type SandboxMode = "root" | "rootless";

/** How the sandbox bounds a job's memory and processes. */
export interface SandboxLimits {
  /** `cgroup` (exact, root), `sampled` (rootless, see sandbox_limits.ts) or `none`. */
  memory: "cgroup" | "sampled" | "none";
  /** `cgroup` (root), `rlimit` (rootless, within the job's user namespace) or `none`. */
  processes: "cgroup" | "rlimit" | "none";
}

/** What {@linkcode probeSandbox} found. */
export interface SandboxProbe {
  mode: SandboxMode;
  /** Why this mode, e.g. `running as uid 1000: user namespaces`. */
  reason: string;
  limits: SandboxLimits;
}

/**
 * Which sandbox mode this machine and user get, and how limits are enforced; throws
 * {@linkcode SkillSandboxUnavailableError} (with the reason) when no mode works.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { probeSandbox } from "./sandbox_probe.ts";
 *
 * const { mode, reason } = await probeSandbox();
 * assert.equal(mode, Deno.uid() === 0 ? "root" : "rootless");
 * assert.notEqual(reason, "");
 * ```
 */
export async function probeSandbox(want: SandboxMode | "auto" = "auto"): Promise<SandboxProbe> {
  const uid = Deno.uid() ?? -1;
  const mode: SandboxMode = want === "auto" ? (uid === 0 ? "root" : "rootless") : want;
  if (mode === "root" && uid !== 0) {
    throw new SkillSandboxUnavailableError(
      `the root sandbox needs uid 0 (running as uid ${uid}); use the rootless mode`,
    );
  }
  const userns = mode === "rootless" ? ["--user", "--map-root-user"] : [];
  const probe = await commandOutput("unshare", [
    ...userns,
    "--mount",
    "--pid",
    "--net",
    "--fork",
    "setpriv",
    PDEATHSIG_OPTION,
    "--inh-caps=-all",
    "--bounding-set=-all",
    "--no-new-privs",
    "true",
  ]);
  if (!probe.ok) {
    throw new SkillSandboxUnavailableError(
      mode === "rootless"
        ? `user namespaces are not usable by uid ${uid} (${probe.text}); enable them ` +
          "(sysctl user.max_user_namespaces, kernel.unprivileged_userns_clone; in a container " +
          "run with --security-opt seccomp=unconfined) or run the provider as root"
        : `unshare/setpriv failed (${probe.text})`,
    );
  }
  if (mode === "rootless") {
    // What SANDBOX_SETUP_SCRIPT does before the job starts (with the job's own /proc, as there): a
    // kernel or /proc that refuses it would fail every job, so say so here, once.
    const nested = await commandOutput("unshare", [
      ...userns,
      "--mount",
      "--pid",
      "--ipc",
      "--fork",
      "--mount-proc",
      "sh",
      "-c",
      "echo 1 > /proc/sys/user/max_user_namespaces && echo 1 > /proc/sys/kernel/shm_rmid_forced",
    ]);
    if (!nested.ok) {
      throw new SkillSandboxUnavailableError(
        `a job's user namespace cannot be denied nested ones (${nested.text}): a job could ` +
          "mount memory its limit does not see; run the provider as root",
      );
    }
    // The helper that counts a job's socket queues and SysV segments (job_kernel_meter.ts).
    const meter = await commandOutput("sh", ["-c", "nsenter --version && perl -e 1"]);
    if (!meter.ok) {
      throw new SkillSandboxUnavailableError(
        `a job's socket and SysV memory cannot be counted without nsenter and perl ` +
          `(${meter.text}): install util-linux and perl, or run the provider as root`,
      );
    }
  }
  const cgroups = mode === "root" ? await probeCgroupControllers() : { memory: false, pids: false };
  const limits: SandboxLimits = mode === "root"
    ? {
      memory: cgroups.memory ? "cgroup" : "none",
      processes: cgroups.pids ? "cgroup" : "none",
    }
    : { memory: "sampled", processes: "rlimit" };
  const reason = mode === "root"
    ? "running as root: namespaces, jobs as nobody, cgroup limits"
    : `running as uid ${uid}${want === "rootless" ? " (rootless asked for)" : ""}: ` +
      "a user namespace per job, jobs without capabilities";
  return { mode, reason, limits };
}

async function commandOutput(cmd: string, args: string[]): Promise<{ ok: boolean; text: string }> {
  try {
    const out = await new Deno.Command(cmd, { args, stdout: "piped", stderr: "piped" }).output();
    const text = new TextDecoder().decode(out.success ? out.stdout : out.stderr).trim();
    return { ok: out.success, text: text.slice(0, 300) || `exit ${out.code}` };
  } catch (err) {
    return { ok: false, text: `${cmd}: ${(err as Error).message}` };
  }
}
