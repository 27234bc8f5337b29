/**
 * A host preset's run (docs/OPERATIONS.md "Host presets"): the provider operator's own program
 * (`[agents.<name>] host = true`, config/agent_presets.ts), run on the host as the provider's
 * user, outside the job's sandbox and with no model gateway, in a copy of the job's worktree.
 * What it commits on `turnpike/work` is then judged and bundled in the sandbox as every agent's
 * work is (agent_task_runner.ts): the gate still runs there with no network.
 *
 * The command gets no shell and a clean environment: `PATH`, `HOME`, `USER`, `LOGNAME`, `LANG`,
 * `LC_ALL`, `TZ` and `TMPDIR` of the provider's own when set, the preset's `env` table, and the
 * job's: `TURNPIKE_WORKTREE`, `TURNPIKE_TASK`, `TURNPIKE_TASK_JSON`, `TURNPIKE_ACCEPT`,
 * `TURNPIKE_BUDGET`, `TURNPIKE_TIMEOUT` (seconds) and `TURNPIKE_DEADLINE` (Unix seconds), and
 * `TURNPIKE_JOB`. Of its output (stdout and stderr, as they come) the last 64 KiB are kept, in a
 * log file written when it ends.
 * At the deadline it is sent SIGTERM, and SIGKILL a grace period later; the same when the job's
 * signal aborts.
 *
 * @module
 */
import { TailKeeper } from "../../provider/sandbox/output_capture.ts";

/** The provider's own variables a host command inherits, when set. */
const INHERITED = ["PATH", "HOME", "USER", "LOGNAME", "LANG", "LC_ALL", "TZ", "TMPDIR"];
/** Milliseconds between SIGTERM and SIGKILL. */
const KILL_GRACE_MS = 5_000;
/** Bytes of its output kept (the last ones), by default. */
const LOG_KEEP_BYTES = 64 * 1024;
/** Milliseconds its output may stay open after it ended (a process it left behind). */
const OUTPUT_GRACE_MS = 2_000;

/** Options for {@linkcode runHostAgent}. */
export interface HostAgentOptions {
  /** The executable's absolute path. */
  command: string;
  args: string[];
  /** The preset's `env` table. */
  env: Record<string, string>;
  /** The worktree it runs in (its cwd, `TURNPIKE_WORKTREE`). */
  worktree: string;
  /** The job's `TURNPIKE_*` variables besides the worktree and the deadline. */
  jobEnv: Record<string, string>;
  /** Its wall time, ms: `TURNPIKE_DEADLINE` is now plus this; SIGTERM at it. */
  timeoutMs: number;
  /** Where the last of its output is written when it ends (created, mode 0600). */
  logPath: string;
  /** Bytes of its output kept, the last ones; default 64 KiB. */
  logKeepBytes?: number;
  signal?: AbortSignal;
}

/** How a host command ended. */
export interface HostAgentRun {
  /** Its exit code; null when a signal ended it. */
  exitCode: number | null;
  /** Whether it was stopped at its deadline. */
  timedOut: boolean;
  /** Whether the job's signal stopped it. */
  aborted: boolean;
}

/**
 * Runs a host preset's command to its end, or its deadline.
 *
 * @example
 * ```ts
 * import { runHostAgent } from "./host_agent.ts";
 *
 * const dir = await Deno.makeTempDir();
 * const run = await runHostAgent({
 *   command: "/bin/sh",
 *   args: ["-c", 'echo "$TURNPIKE_JOB in $PWD"; exit 3'],
 *   env: {},
 *   worktree: dir,
 *   jobEnv: { TURNPIKE_JOB: "job-1" },
 *   timeoutMs: 60_000,
 *   logPath: `${dir}.log`,
 * });
 * if (run.exitCode !== 3 || run.timedOut) throw new Error("unexpected");
 * if (!(await Deno.readTextFile(`${dir}.log`)).startsWith("job-1 in ")) throw new Error("log");
 * await Deno.remove(dir);
 * await Deno.remove(`${dir}.log`);
 * ```
 */
export async function runHostAgent(o: HostAgentOptions): Promise<HostAgentRun> {
  const env: Record<string, string> = {};
  for (const name of INHERITED) {
    const value = Deno.env.get(name);
    if (value !== undefined) env[name] = value;
  }
  const deadline = Date.now() + o.timeoutMs;
  Object.assign(env, o.env, o.jobEnv, {
    TURNPIKE_WORKTREE: o.worktree,
    TURNPIKE_TIMEOUT: String(Math.floor(o.timeoutMs / 1000)),
    TURNPIKE_DEADLINE: String(Math.floor(deadline / 1000)),
  });
  let child: Deno.ChildProcess;
  try {
    child = new Deno.Command(o.command, {
      args: o.args,
      cwd: o.worktree,
      env,
      clearEnv: true,
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
    }).spawn();
  } catch (err) {
    throw new Error(`cannot start ${o.command}: ${(err as Error).message}`);
  }
  let timedOut = false;
  let aborted = false;
  const timers: ReturnType<typeof setTimeout>[] = [];
  const stop = () => {
    try {
      child.kill("SIGTERM");
    } catch { /* already ended */ }
    timers.push(setTimeout(() => {
      try {
        child.kill("SIGKILL");
      } catch { /* already ended */ }
    }, KILL_GRACE_MS));
  };
  timers.push(setTimeout(() => {
    timedOut = true;
    stop();
  }, o.timeoutMs));
  const onAbort = () => {
    aborted = true;
    stop();
  };
  if (o.signal?.aborted) onAbort();
  o.signal?.addEventListener("abort", onAbort, { once: true });
  const keep = o.logKeepBytes ?? LOG_KEEP_BYTES;
  const kept = new TailKeeper(keep);
  const readers = [child.stdout.getReader(), child.stderr.getReader()];
  const copy = async (reader: ReadableStreamDefaultReader<Uint8Array>) => {
    for (;;) {
      const { done, value: chunk } = await reader.read().catch(() => ({ done: true, value: null }));
      if (done || chunk === null) return;
      kept.push(chunk);
    }
  };
  try {
    const copied = Promise.all(readers.map(copy));
    const status = await child.status;
    // A process it left behind may hold its output open: what came so far is enough.
    let grace: ReturnType<typeof setTimeout> | undefined;
    await Promise.race([copied, new Promise((r) => grace = setTimeout(r, OUTPUT_GRACE_MS))]);
    clearTimeout(grace);
    await Promise.all(readers.map((r) => r.cancel().catch(() => {})));
    return { exitCode: status.signal === null ? status.code : null, timedOut, aborted };
  } finally {
    for (const t of timers) clearTimeout(t);
    o.signal?.removeEventListener("abort", onAbort);
    await Deno.writeFile(o.logPath, kept.captured().bytes, { mode: 0o600 });
  }
}

/** Options for {@linkcode workOnHost}. */
export interface WorkOnHostOptions {
  /** The preset: a host one (its command, args, env). */
  preset: { name: string; command: string; args?: string[]; env?: Record<string, string> };
  /** The runner's host dir: `pristine/` (the checked-out repository), `task.md`, `task.json`. */
  hostDir: string;
  jobId: string;
  accept: string;
  budget: bigint;
  timeoutMs: number;
  signal?: AbortSignal;
}

/** What {@linkcode workOnHost} ends with: the worktree's tar and the log, or why not. */
export type HostWork =
  | { ok: true; worktreeTar: string; logPath: string }
  | { ok: false; status: "failed" | "timeout" | "cancelled"; reason: string };

/**
 * A host preset's step of an agent-task run: the job's pristine worktree copied to `work/` of
 * the host dir, the preset's command run there ({@linkcode runHostAgent}), and the worktree it
 * leaves packed as `worktree-host.tar` for the sandbox's gate and bundle. A command that exits
 * non-zero, is stopped at its deadline or by the job's signal ends the job's run here, the last
 * line of its output in the reason.
 *
 * @example
 * ```ts
 * import { workOnHost } from "./host_agent.ts";
 *
 * const hostDir = await Deno.makeTempDir();
 * await Deno.mkdir(`${hostDir}/pristine`);
 * await Deno.writeTextFile(`${hostDir}/task.md`, "Fix add\n");
 * await Deno.writeTextFile(`${hostDir}/task.json`, "{}");
 * const work = await workOnHost({
 *   preset: { name: "sh", command: "/bin/sh", args: ["-c", 'cat "$TURNPIKE_TASK" > done.txt'] },
 *   hostDir,
 *   jobId: "job-1",
 *   accept: "true",
 *   budget: 0n,
 *   timeoutMs: 60_000,
 * });
 * if (!work.ok || (await Deno.readTextFile(`${hostDir}/work/done.txt`)) !== "Fix add\n") {
 *   throw new Error("the host command did not run in the worktree");
 * }
 * await Deno.remove(hostDir, { recursive: true });
 * ```
 */
export async function workOnHost(o: WorkOnHostOptions): Promise<HostWork> {
  const work = `${o.hostDir}/work`;
  await shell("cp", ["-a", `${o.hostDir}/pristine`, work]);
  const logPath = `${o.hostDir}/agent.log`;
  const run = await runHostAgent({
    command: o.preset.command,
    args: o.preset.args ?? [],
    env: o.preset.env ?? {},
    worktree: work,
    jobEnv: {
      TURNPIKE_JOB: o.jobId,
      TURNPIKE_TASK: `${o.hostDir}/task.md`,
      TURNPIKE_TASK_JSON: `${o.hostDir}/task.json`,
      TURNPIKE_ACCEPT: o.accept,
      TURNPIKE_BUDGET: String(o.budget),
    },
    timeoutMs: o.timeoutMs,
    logPath,
    signal: o.signal,
  });
  const last = (await Deno.readTextFile(logPath).catch(() => "")).trim().split("\n").at(-1) ?? "";
  const said = last === "" ? "" : `: ${last.slice(0, 500)}`;
  const who = `the host preset ${o.preset.name}`;
  if (run.aborted) return { ok: false, status: "cancelled", reason: `cancelled; ${who} stopped` };
  if (run.timedOut) {
    return {
      ok: false,
      status: "timeout",
      reason: `timeout: ${who} ran past ${o.timeoutMs} ms and was stopped${said}`,
    };
  }
  if (run.exitCode !== 0) {
    return {
      ok: false,
      status: "failed",
      reason: `agent: ${who} exited ${run.exitCode ?? "on a signal"}${said}; nothing is delivered`,
    };
  }
  const worktreeTar = `${o.hostDir}/worktree-host.tar`;
  await shell("tar", ["-C", work, "-cf", worktreeTar, "."]);
  return { ok: true, worktreeTar, logPath };
}

async function shell(cmd: string, args: string[]): Promise<void> {
  const out = await new Deno.Command(cmd, { args, stdout: "null", stderr: "piped" }).output();
  if (!out.success) {
    throw new Error(`${cmd}: ${new TextDecoder().decode(out.stderr).trim().slice(0, 500)}`);
  }
}
