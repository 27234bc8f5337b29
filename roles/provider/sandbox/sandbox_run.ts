/**
 * A sandboxed job's run (roles/provider/sandbox/skill_sandbox.ts): in a sandbox made now for it,
 * or in one prepared ahead for its skill (sandbox_pool.ts), which the pool then refills; the
 * sandbox's process spawned with its cleared environment, then supervised (sandbox_supervisor.ts).
 *
 * @module
 */
import { SkillJobError } from "./skill_sandbox_errors.ts";
import { superviseJob } from "./sandbox_supervisor.ts";
import { SKILL_PATH, skillEnvironment } from "../../../protocol/skill_contract.ts";
import {
  INPUTS_DIR,
  OUTPUTS_DIR,
  SANDBOX_DENO_BIN_DIR,
  SANDBOX_DENO_DIR,
  SANDBOX_TOON_MODULE,
  SANDBOX_WORK_DIR,
} from "./sandbox_mounts.ts";
import { SANDBOX_GO_LINE } from "./sandbox_setup_script.ts";
import { PREPARED_PREFIX, reapSkillProcesses } from "./orphan_reaper.ts";
import {
  DATA_LIMIT_HEADROOM,
  DEFAULT_MAX_PROCESSES,
  type JobCgroups,
  killTree,
} from "./sandbox_limits.ts";
import { copyInputFiles, makePreparedWorkDir } from "./sandbox_work_dir.ts";
import {
  type JobPlan,
  poolKey,
  type PreparedJob,
  prepareJob,
  type SandboxHost,
  TOON_MODULE,
} from "./sandbox_prepare.ts";
import type { SkillJob, SkillOutcome, SkillSandboxOptions } from "./skill_sandbox.ts";
import { releaseOverlayDirs } from "./sandbox_overlay.ts";

const JOB_ID = /^[A-Za-z0-9_-]{1,128}$/;
const MiB = 1024 * 1024;

/**
 * Runs `job` in the sandbox `host` describes: in a prepared sandbox when one waits for its
 * skill (the pool refilled after), else in one made now. `denoCache` is how the job sees the
 * Deno cache: `ro` for jobs, `rw` for a warm-up, undefined without one.
 *
 * It needs the host a sandbox probed (createSkillSandbox, whose example runs a job): no example
 * that runs here: tests/unit/roles/provider/skill_sandbox_test.ts.
 */
export async function runJob(
  job: SkillJob,
  options: SkillSandboxOptions,
  host: SandboxHost,
  denoCache: "ro" | "rw" | undefined,
): Promise<SkillOutcome> {
  if (!JOB_ID.test(job.jobId)) throw new SkillJobError(`bad job id ${JSON.stringify(job.jobId)}`);
  const input = typeof job.input === "string" ? new TextEncoder().encode(job.input) : job.input;
  const maxStdin = options.maxStdinBytes ?? MiB;
  if (input.length > maxStdin) {
    throw new SkillJobError(`input is ${input.length} bytes, over the ${maxStdin}-byte limit`);
  }
  // Only a job whose sandbox is the same whatever the job: no gateway, no warm-up.
  const key = host.pool !== undefined && job.gateway === undefined && job.overlay === undefined &&
      denoCache !== "rw"
    ? poolKey(job, options)
    : undefined;
  if (key === undefined) return await runFresh(job, options, host, input, denoCache);
  try {
    const prepared = host.pool!.take(key);
    if (prepared === undefined) {
      // One made for this skill before it changed (manifest, paths) serves no job: gone now.
      const skill = `${JSON.stringify([JSON.parse(key)[0]]).slice(0, -1)},`;
      host.pool!.discardWhere((p) => p.key.startsWith(skill) && p.key !== key);
      return await runFresh(job, options, host, input, denoCache);
    }
    return await runPrepared(prepared, job, options, host, input);
  } finally {
    void fillPool(key, job, options, host, denoCache, true);
  }
}

/** Today's path: the job's sandbox made now, for it. */
async function runFresh(
  job: SkillJob,
  options: SkillSandboxOptions,
  host: SandboxHost,
  input: Uint8Array,
  denoCache: "ro" | "rw" | undefined,
): Promise<SkillOutcome> {
  const plan = prepareJob(job, options, host, job.jobId, denoCache);
  if ("refusal" in plan) return plan.refusal;
  let cgroups: JobCgroups = {};
  try {
    const started = startSandbox(plan, job, options, host, denoCache, false);
    cgroups = started.cgroups;
    const sampled = host.limits.memory === "sampled";
    return await superviseJob(job, options, sampled, plan.workDir, started.child, input, cgroups);
  } finally {
    removeFstab(plan.fstab);
    if (job.overlay !== undefined) releaseOverlayDirs(plan.workDir);
    await host.cgroupPool?.release(cgroups);
  }
}

/**
 * Prepares sandboxes ahead for `key`'s skill, up to the pool's limits: now (resolves once they
 * are made), or `later` (a timer's turn after the job that asks ends).
 *
 * It needs the host a sandbox probed and starts sandboxes that wait: no example that runs here:
 * tests/unit/roles/provider/sandbox_pool_test.ts.
 */
export async function fillPool(
  key: string,
  job: SkillJob,
  options: SkillSandboxOptions,
  host: SandboxHost,
  denoCache: "ro" | "rw" | undefined,
  later = false,
): Promise<void> {
  const make = async () => {
    const name = `${PREPARED_PREFIX}${crypto.randomUUID()}`;
    let plan: ReturnType<typeof prepareJob>;
    const workDir = `${options.jobsRoot}/${name}`;
    try {
      await makePreparedWorkDir(workDir, host.mode);
      plan = prepareJob({ ...job, files: [] }, options, host, name, denoCache, "work dir made");
    } catch {
      await Deno.remove(workDir, { recursive: true }).catch(() => {});
      return undefined; // the job's own path reports what is wrong
    }
    if ("refusal" in plan) {
      Deno.removeSync(plan.refusal.workDir, { recursive: true });
      return undefined;
    }
    let started: ReturnType<typeof startSandbox>;
    try {
      started = startSandbox(plan, job, options, host, denoCache, true);
    } catch {
      // No process, no cgroup, or no spawn now (out of descriptors...): the next job makes its
      // own, as without a pool.
      for (const path of [plan.workDir, plan.fstab]) {
        try {
          if (path !== undefined) Deno.removeSync(path, { recursive: true });
        } catch { /* not made */ }
      }
      return undefined;
    }
    const { child, cgroups } = started;
    const prepared: PreparedJob = {
      key,
      child,
      workDir: plan.workDir,
      fstab: plan.fstab,
      cgroups,
      exited: child.status,
      discard: async () => {
        killTree(child.pid);
        await child.status;
        await Promise.all([
          child.stdin.close().catch(() => {}),
          child.stdout.cancel().catch(() => {}),
          child.stderr.cancel().catch(() => {}),
        ]);
        // Killed while unshare was forking its child (before that child asked to die with its
        // parent), the setup may live on: it carries the work dir among its arguments.
        await reapSkillProcesses(prepared.workDir);
        for (const path of [prepared.workDir, plan.fstab]) {
          if (path !== undefined) await Deno.remove(path, { recursive: true }).catch(() => {});
        }
        await host.cgroupPool?.release(cgroups);
      },
    };
    return prepared;
  };
  if (later) host.pool?.fillLater(key, make);
  else await host.pool?.fill(key, make);
}

/** Runs `job` in a prepared sandbox: its files into the work dir, then go and its input. */
async function runPrepared(
  prepared: PreparedJob,
  job: SkillJob,
  options: SkillSandboxOptions,
  host: SandboxHost,
  input: Uint8Array,
): Promise<SkillOutcome> {
  // The work dir keeps its prepared name while the job runs (its mount may still be under way:
  // the go line waits in the pipe), found by the job's id through a link; once the job's
  // processes are gone it takes the job's id. A crash mid-job leaves the link (recovery removes
  // it) and the `.pool-` entries (removed when the next sandbox opens, its processes killed).
  const workDir = prepared.workDir;
  const byId = `${options.jobsRoot}/${job.jobId}`;
  try {
    Deno.removeSync(byId, { recursive: true });
  } catch { /* none yet */ }
  try {
    Deno.symlinkSync(workDir.slice(workDir.lastIndexOf("/") + 1), byId);
    copyInputFiles(workDir, job.files ?? []);
  } catch (err) {
    try {
      Deno.removeSync(byId);
    } catch { /* not made */ }
    await host.pool!.discard(prepared);
    throw err;
  }
  const go = new TextEncoder().encode(SANDBOX_GO_LINE);
  const stdin = new Uint8Array(go.length + input.length);
  stdin.set(go);
  stdin.set(input, go.length);
  try {
    const outcome = await superviseJob(
      job,
      options,
      host.limits.memory === "sampled",
      workDir,
      prepared.child,
      stdin,
      prepared.cgroups,
    );
    Deno.removeSync(byId);
    Deno.renameSync(workDir, byId);
    return { ...outcome, workDir: byId, prepared: true };
  } finally {
    removeFstab(prepared.fstab);
    await host.cgroupPool?.release(prepared.cgroups);
  }
}

/** The job's fstab file, when the shell setup needed one. */
function removeFstab(path: string | undefined): void {
  if (path === undefined) return;
  try {
    Deno.removeSync(path);
  } catch { /* already gone */ }
}

/** Takes the job's cgroups and spawns its sandbox (`wait`: prepared, waiting for go). */
function startSandbox(
  plan: JobPlan,
  job: SkillJob,
  options: SkillSandboxOptions,
  host: SandboxHost,
  denoCache: "ro" | "rw" | undefined,
  wait: boolean,
): { child: Deno.ChildProcess; cgroups: JobCgroups } {
  const maxProcesses = options.maxProcesses ?? DEFAULT_MAX_PROCESSES;
  const cgroups = host.cgroupPool?.acquire({
    memoryBytes: job.manifest.memoryBytes,
    maxProcesses,
  }) ?? {};
  const rootless = host.mode === "rootless";
  const limits = [
    cgroups.memory ?? "-",
    cgroups.pids ?? "-",
    rootless ? String(maxProcesses) : "-",
    rootless ? String(Math.ceil((job.manifest.memoryBytes + DATA_LIMIT_HEADROOM) / 1024)) : "-",
    String(Math.ceil(job.manifest.diskBytes / 1024)),
    rootless ? "self" : "nobody",
    wait ? "go" : "-",
  ];
  const args = [...plan.args.slice(0, plan.limitsAt), ...limits, ...plan.args.slice(plan.limitsAt)];
  try {
    return { child: spawnSandbox(plan.program, args, denoCache, plan.env), cgroups };
  } catch (err) {
    host.cgroupPool?.release(cgroups);
    throw err;
  }
}

function spawnSandbox(
  program: string,
  args: string[],
  denoCache: "ro" | "rw" | undefined,
  extraEnv: Record<string, string>,
): Deno.ChildProcess {
  // Dying with the provider (parent_death.ts): the setup joins the cgroups first.
  return new Deno.Command(program, {
    args,
    clearEnv: true,
    env: skillEnvironment({
      inputs: `${SANDBOX_WORK_DIR}/${INPUTS_DIR}`,
      outputs: `${SANDBOX_WORK_DIR}/${OUTPUTS_DIR}`,
      toonModule: TOON_MODULE === undefined ? undefined : SANDBOX_TOON_MODULE,
    }, {
      PATH: `${SANDBOX_DENO_BIN_DIR}:${SKILL_PATH}`,
      HOME: SANDBOX_WORK_DIR,
      TMPDIR: SANDBOX_WORK_DIR,
      LANG: "C.UTF-8",
      ...(denoCache === undefined ? {} : { DENO_DIR: SANDBOX_DENO_DIR }),
      ...extraEnv,
    }),
    stdin: "piped",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
}
