/**
 * What a sandboxed job needs before its process starts (roles/provider/sandbox/skill_sandbox.ts):
 * the sandbox's fixed host files, the job's fresh work dir with its input files, its fstab
 * (sandbox_mounts.ts) and `unshare`'s arguments, or the refusal when its manifest asks for more
 * than the operator allows; and the key that says which prepared sandboxes
 * (sandbox_pool.ts) may serve a skill's next job.
 *
 * @module
 */
import { SkillJobError } from "./skill_sandbox_errors.ts";
import type { SkillManifest } from "../skills/skill_manifest.ts";
import type { JobCgroupPool } from "./job_cgroup_pool.ts";
import { emptyOutcome } from "./sandbox_supervisor.ts";
import { sandboxGatewayPlan } from "./sandbox_gateway.ts";
import {
  buildSandboxFstab,
  DEVICE_FILES,
  DEVICE_LINKS,
  type HiddenPath,
  sandboxTreeClash,
} from "./sandbox_mounts.ts";
import { SANDBOX_SETUP_SCRIPT } from "./sandbox_setup_script.ts";
import { freshWorkDir } from "./sandbox_work_dir.ts";
import { DIE_WITH_PARENT } from "./parent_death.ts";
import type { PreparedSandboxPool } from "./sandbox_pool.ts";
import type { JobCgroups } from "./sandbox_limits.ts";
import type { SandboxLimits, SandboxMode } from "./sandbox_probe.ts";
import type { SkillJob, SkillOutcome, SkillSandboxOptions } from "./skill_sandbox.ts";
import { overlayDirs } from "./sandbox_overlay.ts";

/**
 * The running Deno: bound at SANDBOX_DENO_BIN_DIR/deno, that dir first on PATH.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { DENO_BINARY } from "./sandbox_prepare.ts";
 *
 * assert(DENO_BINARY.startsWith("/")); // resolved, links followed
 * assert.equal(DENO_BINARY, Deno.realPathSync(Deno.execPath()));
 * ```
 */
export const DENO_BINARY = Deno.realPathSync(Deno.execPath());
/**
 * The TOON module this process runs with, when it is a file (from node_modules): bound into
 * every sandbox so a skill anywhere imports it offline. Absent in a compiled binary.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { TOON_MODULE } from "./sandbox_prepare.ts";
 *
 * // Run from source, the module is a file: TURNPIKE_TOON_MODULE names it in the job.
 * assert((await Deno.stat(TOON_MODULE!)).isFile);
 * ```
 */
export const TOON_MODULE = toonModuleFile();
const MiB = 1024 * 1024;

/** The machine facts a job's mounts depend on, probed once per sandbox. */
export interface SandboxHost {
  mode: SandboxMode;
  limits: SandboxLimits;
  cgroups: { memory: boolean; pids: boolean };
  /** Root mode with a cgroup controller: the jobs' cgroups, reused while clean. */
  cgroupPool?: JobCgroupPool;
  /** Which of SYSTEM_DIRS exist here, and the mounts below them (system_mounts.ts). */
  systemDirs: string[];
  systemSubmounts: string[];
  /** The empty dir every job's root tmpfs is mounted on (in its own mount namespace). */
  root: string;
  devSkeleton: string;
  binSkeleton: string;
  /** The mode-000 file bound over hidden files. */
  deniedFile: string;
  /** `denoCacheDir`, resolved. */
  denoCacheDir?: string;
  /** With `prepared` in the options: the sandboxes set up ahead. */
  pool?: PreparedSandboxPool<PreparedJob>;
  /** The compiled setup program (sandbox_init.ts); undefined: the shell setup. */
  init?: string;
}
/**
 * The sandbox's fixed host files, (re)made when absent or changed: the empty root mount point,
 * the /dev skeleton (empty files the devices are bound on, links, shm/) and the denied file
 * (this user's, mode 000: without capabilities not even its owner reads it, so the job reads
 * "Permission denied" and the outcome names the denial from that).
 *
 * It writes the host files of a sandbox createSkillSandbox made: no example that runs here:
 * tests/unit/roles/provider/skill_sandbox_test.ts.
 */
export function ensureHostFiles(host: SandboxHost): void {
  Deno.mkdirSync(host.root, { recursive: true, mode: 0o755 });
  Deno.mkdirSync(`${host.devSkeleton}/shm`, { recursive: true, mode: 0o755 });
  Deno.mkdirSync(host.binSkeleton, { recursive: true, mode: 0o755 });
  for (const name of ["deno", "toon.mjs"]) {
    if (statOrNull(`${host.binSkeleton}/${name}`)?.isFile !== true) {
      Deno.writeFileSync(`${host.binSkeleton}/${name}`, new Uint8Array(), { mode: 0o755 });
    }
  }
  for (const name of DEVICE_FILES) {
    const path = `${host.devSkeleton}/${name}`;
    if (statOrNull(path)?.isFile !== true) {
      Deno.writeFileSync(path, new Uint8Array(), { mode: 0o644 });
    }
  }
  for (const [name, target] of Object.entries(DEVICE_LINKS)) {
    const path = `${host.devSkeleton}/${name}`;
    let current: string | null = null;
    try {
      current = Deno.readLinkSync(path);
    } catch { /* absent */ }
    if (current === target) continue;
    try {
      Deno.removeSync(path);
    } catch { /* absent */ }
    Deno.symlinkSync(target, path);
  }
  ensureDeniedFile(host.deniedFile);
}

function ensureDeniedFile(path: string): void {
  const st = (() => {
    try {
      return Deno.lstatSync(path);
    } catch {
      return null;
    }
  })();
  if (st?.isFile && st.uid === Deno.uid() && ((st.mode ?? 0) & 0o777) === 0 && st.size === 0) {
    return;
  }
  try {
    Deno.removeSync(path, { recursive: true });
  } catch { /* absent */ }
  Deno.writeFileSync(path, new Uint8Array(), { mode: 0, createNew: true });
  Deno.chmodSync(path, 0);
}

/** A sandbox set up ahead, waiting for its job's `go` (sandbox_setup_script.ts). */
export interface PreparedJob {
  key: string;
  child: Deno.ChildProcess;
  /** `<jobsRoot>/.pool-<random>`, the work dir of the job that takes it. */
  readonly workDir: string;
  /** Its fstab file (the shell setup's; the compiled one takes the text inline). */
  fstab?: string;
  cgroups: JobCgroups;
  exited: Promise<Deno.CommandStatus>;
  discard(): Promise<void>;
}

/**
 * What a skill's sandbox depends on besides the job's id and input: the same key, the same
 * setup. Read again for every job, so a changed manifest, project, read path or hidden path
 * never meets a sandbox prepared before the change. Undefined when the skill is not there.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { poolKey } from "./sandbox_prepare.ts";
 * import { parseSkillManifest } from "../skills/skill_manifest.ts";
 *
 * const skillDir = new URL("../../../skills/echo", import.meta.url).pathname;
 * const manifest = parseSkillManifest(await Deno.readTextFile(`${skillDir}/SKILL.md`));
 * const options = { jobsRoot: "/state/jobs", hiddenPaths: ["/state"] };
 * const job = { jobId: "j1", skillDir, manifest, input: "" };
 * // Two jobs of one skill share a key (their id and input are not in it); no skill, no key.
 * assert.equal(poolKey({ ...job, jobId: "j2", input: "x" }, options), poolKey(job, options));
 * assert.equal(poolKey({ ...job, skillDir: "/nonexistent" }, options), undefined);
 * ```
 */
export function poolKey(job: SkillJob, options: SkillSandboxOptions): string | undefined {
  try {
    const skillDir = Deno.realPathSync(job.skillDir);
    return JSON.stringify([
      skillDir,
      projectDirOf(skillDir) ?? null,
      resolvedPaths(job.manifest.permissions.read),
      hiddenPaths([...options.hiddenPaths, options.jobsRoot]),
      job.manifest,
    ], (_, v) => typeof v === "bigint" ? `${v}n` : v);
  } catch {
    return undefined; // no such skill: the job's own path says so
  }
}

/** A job's sandbox before its process starts: what {@linkcode prepareJob} made. */
export interface JobPlan {
  workDir: string;
  /**
   * The file of the job's mounts (in jobsRoot, beside its work dir), removed when the job ends;
   * undefined with the compiled setup, which takes them inline in its arguments.
   */
  fstab?: string;
  /** The program started: the compiled setup (sandbox_init.ts), else setpriv, then unshare. */
  program: string;
  /** Its arguments, without the limits... */
  args: string[];
  /** ...which go in at this index. */
  limitsAt: number;
  /** Added to the job's environment (its gateway's URLs). */
  env: Record<string, string>;
}

/**
 * The job's work dir, fstab and the command that sets up its sandbox. Synchronous on purpose:
 * these are a dozen metadata calls of microseconds each (no fsync), and as async ops each would
 * wait for a turn of an event loop that, in a provider, is busy with the town link, signatures
 * and fsyncs (measured: 15 ms -> 42 ms per sandboxed no-op job with the loop busy 5 ms of every
 * turn). `name` is the work dir's (the job's id, or a prepared sandbox's, whose work dir
 * `makePreparedWorkDir` made: `made`); a refusal is the outcome of a job whose manifest asks for
 * more than the operator allows.
 *
 * It needs the host a sandbox probed (createSkillSandbox, whose example runs a job): no example
 * that runs here: tests/unit/roles/provider/skill_sandbox_test.ts.
 */
export function prepareJob(
  job: SkillJob,
  options: SkillSandboxOptions,
  host: SandboxHost,
  name: string,
  denoCache: "ro" | "rw" | undefined,
  made?: "work dir made",
): JobPlan | { refusal: SkillOutcome } {
  const skillDir = Deno.realPathSync(job.skillDir);
  const workDir = `${options.jobsRoot}/${name}`;
  const run = statOrNull(`${skillDir}/run`);
  // In root mode the skill runs as nobody: `run` must be executable by "others".
  const execBit = host.mode === "root" ? 0o001 : 0o111;
  if (run === null || !run.isFile || ((run.mode ?? 0) & execBit) === 0) {
    const whom = host.mode === "root" ? " by others" : "";
    throw new SkillJobError(`${skillDir}/run is missing or not executable${whom}`);
  }
  const projectDir = projectDirOf(skillDir);
  const clash = sandboxTreeClash(projectDir ?? skillDir);
  if (clash !== undefined) throw new SkillJobError(clash);
  if (host.mode === "root") {
    // Only the bound dirs themselves and what lies between them matter: the sandbox builds
    // the path leading to them, so a private home above the project is no obstacle.
    const between = projectDir === undefined ? [skillDir] : pathsBetween(projectDir, skillDir);
    const closed = between.find((d) => !othersMay(d, 0o005));
    if (closed !== undefined) {
      throw new SkillJobError(
        `${closed} (mode ${modeOf(closed)}) is closed to the sandbox user nobody; ` +
          "give others read and execute on it, or run the provider with --sandbox rootless",
      );
    }
  }
  // A prepared sandbox's work dir is made before, off this thread (sandbox_work_dir.ts).
  if (made !== "work dir made") freshWorkDir(workDir, host.mode, job.files ?? []);
  const overlay = job.overlay && overlayDirs(workDir, host.mode, job.overlay);
  const refusal = permissionRefusal(job.manifest, options);
  if (refusal !== null) {
    return { refusal: emptyOutcome("denied", refusal, workDir) };
  }
  ensureHostFiles(host);
  const gateway = sandboxGatewayPlan(job.gateway, {
    hostDir: host.root.slice(0, host.root.lastIndexOf("/")),
    dropTo: host.mode === "root" ? "nobody" : "self",
    network: job.manifest.permissions.network,
    compiled: host.init,
  });
  const mounts = buildSandboxFstab({
    root: host.root,
    devSkeleton: host.devSkeleton,
    binSkeleton: host.binSkeleton,
    deniedFile: host.deniedFile,
    systemDirs: host.systemDirs,
    systemSubmounts: host.systemSubmounts,
    workDir: Deno.realPathSync(workDir),
    denoBinary: DENO_BINARY,
    toonModule: TOON_MODULE,
    skillDir,
    projectDir,
    readPaths: resolvedPaths(job.manifest.permissions.read),
    binds: gateway.binds,
    denoCache: denoCache === undefined || host.denoCacheDir === undefined
      ? undefined
      : { dir: host.denoCacheDir, mode: denoCache },
    hidden: hiddenPaths([...options.hiddenPaths, options.jobsRoot]),
    overlay,
    tmpBytes: Math.min(options.tmpBytes ?? 256 * MiB, job.manifest.memoryBytes),
  });
  // The compiled setup takes the mounts inline (its arguments are wiped once read): no file made
  // and removed per job, each a new inode (docs/SCALE.md "The provider's fstab inline"). The
  // shell setup's `mount --all` reads a file: not fsynced, it only has to outlive this job's
  // start; a crash leaves a stray file.
  const fstab = host.init === undefined ? `${options.jobsRoot}/${name}.fstab` : undefined;
  if (fstab !== undefined) Deno.writeTextFileSync(fstab, mounts, { mode: 0o600 });
  const net = job.manifest.permissions.network;
  // The work dir stays a whole argument: the orphan reaper finds jobs by it.
  const positional = [fstab ?? `inline:${mounts}`, host.root, workDir, gateway.setup];
  const args = host.init !== undefined
    ? [
      ...(host.mode === "rootless" ? ["--user"] : []),
      ...(net ? [] : ["--net"]),
      `--parent=${Deno.pid}`,
      ...positional,
    ]
    : [
      ...DIE_WITH_PARENT.slice(1),
      "unshare",
      ...(host.mode === "rootless" ? ["--user", "--map-root-user"] : []),
      "--mount",
      "--propagation=private",
      "--pid",
      "--fork",
      "--kill-child",
      "--ipc",
      "--uts",
      ...(net ? [] : ["--net"]),
      "bash",
      "-c",
      SANDBOX_SETUP_SCRIPT,
      "turnpike-sandbox",
      ...positional,
    ];
  const limitsAt = args.length;
  args.push("--", `${skillDir}/run`);
  return {
    workDir,
    fstab,
    program: host.init ?? DIE_WITH_PARENT[0],
    args,
    limitsAt,
    env: gateway.env,
  };
}

/**
 * Whether "others" have all of `bits` (0o005: read and execute) on `path`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { othersMay } from "./sandbox_prepare.ts";
 *
 * const file = await Deno.makeTempFile();
 * await Deno.chmod(file, 0o755);
 * assert.equal(othersMay(file, 0o005), true); // others read and run it
 * await Deno.chmod(file, 0o750);
 * assert.equal(othersMay(file, 0o005), false);
 * await Deno.remove(file);
 * ```
 */
export function othersMay(path: string, bits: number): boolean {
  const st = statOrNull(path);
  return st !== null && ((st.mode ?? 0) & bits) === bits;
}

/**
 * The permission bits of `path` in octal, e.g. `0755` (`0000` when absent).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { modeOf } from "./sandbox_prepare.ts";
 *
 * const file = await Deno.makeTempFile();
 * await Deno.chmod(file, 0o640);
 * assert.equal(modeOf(file), "0640");
 * await Deno.remove(file);
 * assert.equal(modeOf(file), "0000"); // absent
 * ```
 */
export function modeOf(path: string): string {
  return ((statOrNull(path)?.mode ?? 0) & 0o7777).toString(8).padStart(4, "0");
}

/** `top`, `inner` and every directory between them (`inner` lies under `top`). */
function pathsBetween(top: string, inner: string): string[] {
  const paths = [top];
  for (const part of inner.slice(top.length).split("/").filter((p) => p !== "")) {
    paths.push(`${paths.at(-1)}/${part}`);
  }
  return paths;
}

function statOrNull(path: string): Deno.FileInfo | null {
  try {
    return Deno.statSync(path);
  } catch {
    return null;
  }
}

/** Why the manifest asks for more than the operator allows, or null. */
function permissionRefusal(manifest: SkillManifest, options: SkillSandboxOptions): string | null {
  const { network, read, write } = manifest.permissions;
  const allowNet = options.allowNetwork === true ||
    (Array.isArray(options.allowNetwork) && options.allowNetwork.includes(manifest.name));
  if (network && !allowNet) {
    return `network denied: skill ${manifest.name} asks for network; the operator does not allow it`;
  }
  const allowed = options.allowPaths ?? [];
  for (const p of [...read, ...write]) {
    if (!allowed.includes(p)) {
      return `path denied: skill ${manifest.name} asks for ${p}; the operator does not allow it`;
    }
  }
  if (write.length > 0) {
    return `path denied: extra write paths are not supported by this sandbox (${write[0]})`;
  }
  return null;
}

function toonModuleFile(): string | undefined {
  try {
    const url = new URL(import.meta.resolve("@toon-format/toon"));
    if (url.protocol !== "file:") return undefined;
    const path = Deno.realPathSync(url.pathname);
    // Bound as is into every job: it must be readable by the sandbox user (nobody, as root).
    return (statOrNull(path)?.mode ?? 0) & 0o004 ? path : undefined;
  } catch {
    return undefined;
  }
}

/** The nearest ancestor of the skill dir holding a deno.json (Deno-script skills need it). */
function projectDirOf(skillDir: string): string | undefined {
  let dir = skillDir;
  while (dir !== "/" && dir !== "") {
    if (statOrNull(`${dir}/deno.json`) !== null) return dir;
    dir = dir.replace(/\/[^/]*$/, "") || "/";
  }
  return undefined;
}

/** Paths that exist, resolved (a mount needs the real path). */
function resolvedPaths(paths: readonly string[]): string[] {
  const found: string[] = [];
  for (const p of paths) {
    try {
      found.push(Deno.realPathSync(p));
    } catch { /* absent: nothing to bind */ }
  }
  return found;
}

/** The hidden paths that exist, resolved, and their kind. */
function hiddenPaths(paths: string[]): HiddenPath[] {
  const found: HiddenPath[] = [];
  for (const path of resolvedPaths(paths)) {
    const st = statOrNull(path);
    if (st !== null) found.push({ path, isDirectory: st.isDirectory });
  }
  return found;
}
