/**
 * Runs a job's callback skill exactly once, even when the requester is killed (SIGKILL) at any
 * instant. The skill is `<skills dir>/<name>/run`; it gets the raw TOON of the result on stdin
 * (empty stdin when the job ended without one) and the environment `TURNPIKE_JOB_ID`,
 * `TURNPIKE_JOB_STATUS` (done, timed-out, cancelled, error, payment-refused).
 *
 * Exactly-once protocol (files in `<state dir>/callbacks/`, all per job id):
 *
 * ```
 *   1. <id>.in.payload  stdin payload (the result: kept for `job results`), atomic write
 *   2. spawn `sh` wrapper, which survives the requester's death:
 *        mkdir <id>.claim || exit 0      -- atomic claim: a second wrapper never runs the skill
 *        echo $$ > <id>.claim/pid
 *        run < payload; echo $? > <id>.exit.tmp; mv <id>.exit.tmp <id>.exit
 *   3. wait for <id>.exit (the skill's exit code); then the caller marks the job terminal
 * ```
 *
 * After a crash the caller simply calls {@linkcode CallbackRunner.run} again: an existing
 * `<id>.exit` means the skill already ran (nothing is re-run); a claim without an exit whose
 * wrapper is still alive is waited for; a claim whose wrapper is gone without an exit (the
 * machine died mid-skill) is reported as {@linkcode CallbackInDoubtError}, never re-run: at most
 * once wins over at least once when the two conflict.
 *
 * @module
 */
import { RoleError } from "../role_error.ts";
import { sleep } from "../../protocol/backoff.ts";
import { writeFileAtomic } from "../../state/atomic_file.ts";
import { NO_CALLBACK } from "./job_spec.ts";
import { skillEnvironment } from "../../protocol/skill_contract.ts";

/** Options for {@linkcode CallbackRunner}. */
export interface CallbackRunnerOptions {
  stateDir: string;
  /** Where callback skills live (`<dir>/<name>/run`). */
  skillsDir: string;
  /** Poll interval while waiting for a wrapper started by an earlier process. Default 20 ms. */
  pollMs?: number;
}

/** What the callback was told. */
export interface CallbackCall {
  jobId: string;
  skill: string;
  status: string;
  /** Raw TOON of the result (absent: no result). */
  toon?: string;
}

/** How a callback ended. */
export interface CallbackOutcome {
  /** Exit code of the skill; undefined for `none`. */
  exitCode?: number;
  /** True when an earlier process had already run it (nothing was re-run). */
  alreadyRan: boolean;
}

/** The callback skill does not exist or is not executable. */
export class CallbackSkillMissingError extends RoleError {
  override name = "CallbackSkillMissingError";
}

/** A callback was claimed by a process that died without recording its end. */
export class CallbackInDoubtError extends RoleError {
  override name = "CallbackInDoubtError";
}

const WRAPPER = 'mkdir "$1.claim" 2>/dev/null || exit 0\n' +
  'echo $$ > "$1.claim/pid"\n' +
  '"$0" < "$1.in.payload" > "$1.out" 2>&1; echo $? > "$1.exit.tmp"; mv "$1.exit.tmp" "$1.exit"\n';

/** Runs callback skills with the exactly-once protocol of the module doc. */
export class CallbackRunner {
  readonly dir: string;
  #skillsDir: string;
  #pollMs: number;

  constructor(options: CallbackRunnerOptions) {
    this.dir = `${options.stateDir.replace(/\/+$/, "")}/callbacks`;
    this.#skillsDir = options.skillsDir;
    this.#pollMs = options.pollMs ?? 20;
  }

  /**
   * Runs (or finishes waiting for) the callback of one job.
   *
   * It runs a callback skill's process: no example that runs here:
   * tests/unit/roles/requester/callback_runner_test.ts.
   * @throws {CallbackSkillMissingError} {@linkcode CallbackInDoubtError}
   */
  async run(call: CallbackCall): Promise<CallbackOutcome> {
    await Deno.mkdir(this.dir, { recursive: true });
    const base = `${this.dir}/${call.jobId}`;
    // The payload is also the stored result (`turnpike job results`), callback or not.
    if (!(await exists(`${base}.in.payload`))) {
      await writeFileAtomic(`${base}.in.payload`, call.toon ?? "");
    }
    if (call.skill === NO_CALLBACK) return { alreadyRan: false };
    const done = await readExit(base);
    if (done !== undefined) return { exitCode: done, alreadyRan: true };
    const skillPath = `${this.#skillsDir}/${call.skill}/run`;
    try {
      const info = await Deno.stat(skillPath);
      if (!info.isFile || ((info.mode ?? 0o111) & 0o111) === 0) throw new Deno.errors.NotFound();
    } catch {
      throw new CallbackSkillMissingError(`callback skill "${call.skill}" has no executable run`);
    }
    const claimedBefore = await exists(`${base}.claim`);
    if (!claimedBefore) {
      const child = new Deno.Command("sh", {
        args: ["-c", WRAPPER, skillPath, base],
        // Added to the requester's environment, which a callback inherits (docs/SKILLS.md).
        env: skillEnvironment({ jobId: call.jobId, jobStatus: call.status }),
        stdin: "null",
        stdout: "null",
        stderr: "null",
      }).spawn();
      await child.status;
      const code = await readExit(base);
      if (code !== undefined) return { exitCode: code, alreadyRan: false };
    }
    return { exitCode: await this.#waitForEarlier(base), alreadyRan: true };
  }

  /** True when the job's callback has finished (its exit is recorded). */
  async ran(jobId: string): Promise<boolean> {
    return (await readExit(`${this.dir}/${jobId}`)) !== undefined;
  }

  async #waitForEarlier(base: string): Promise<number> {
    for (;;) {
      const code = await readExit(base);
      if (code !== undefined) return code;
      const pid = await readText(`${base}.claim/pid`);
      // A claim without a pid yet: the wrapper is between mkdir and echo; give it a moment.
      if (pid !== undefined && !(await exists(`/proc/${pid.trim()}`))) {
        const last = await readExit(base);
        if (last !== undefined) return last;
        throw new CallbackInDoubtError(`callback of ${base} was claimed by a process that died`);
      }
      await sleep(this.#pollMs);
    }
  }
}

async function readExit(base: string): Promise<number | undefined> {
  const text = await readText(`${base}.exit`);
  if (text === undefined) return undefined;
  const code = Number(text.trim());
  return Number.isInteger(code) ? code : 255;
}

async function readText(path: string): Promise<string | undefined> {
  try {
    return await Deno.readTextFile(path);
  } catch {
    return undefined;
  }
}

async function exists(path: string): Promise<boolean> {
  try {
    await Deno.stat(path);
    return true;
  } catch {
    return false;
  }
}
