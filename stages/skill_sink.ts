/**
 * Skill sink stage: CorrelatedChunk -> SkillOutcomeChunk. For each event it runs
 * `<skillsDir>/<skill>/run` with the event's raw TOON on stdin, in `<workDir>/<jobId>` as its
 * working directory, with a cleared environment (only `PATH` and the `TURNPIKE_*` variables
 * below), a timeout, and caps on what it keeps of stdout and stderr. Events are handled one at a
 * time, in order.
 *
 * Skill environment: `TURNPIKE_JOB_ID`, `TURNPIKE_EVENT_ID`, `TURNPIKE_EVENT_KIND`,
 * `TURNPIKE_ROLE` (result | feedback | other), `TURNPIKE_SKILL`.
 *
 * Permission profile: `run` of the `run` executables present in the skills dir when the
 * pipeline starts (a skill added later is refused with NotCapable until a restart), `write` and
 * `read` of the work dir only. Nothing else: no net, no env, no state dir.
 *
 * @module
 */
import type { Chunk, CorrelatedChunk, FailedChunk, SkillOutcomeChunk } from "./chunks.ts";
import { isJobId, isSkillName } from "./job_store.ts";
import { NO_PERMISSIONS, StageOptionsError, type TransformStage } from "./stage.ts";
import { stageMain } from "./stage_runner.ts";
import { SKILL_ENV } from "../protocol/skill_contract.ts";

/** Options for {@linkcode createSkillSink}. */
export interface SkillSinkOptions {
  /** Folder of skills: `<skillsDir>/<name>/run`. Absolute path. */
  skillsDir: string;
  /** Folder under which each job gets its work dir. Absolute path. */
  workDir: string;
  /** Kill a skill after this long. Default 30,000 ms. */
  timeoutMs?: number;
  /** Bytes of stdout and of stderr kept (the rest is read and discarded). Default 64 KiB. */
  maxOutputBytes?: number;
}

/** A chunk the skill sink cannot run (wrong type, bad job id or skill name, no such skill). */
export class SkillSinkInputError extends Error {
  /** `"SkillSinkInputError"`: explicit so it survives bundling and worker messages. */
  override name = "SkillSinkInputError";
}

/** The skill's run file does not exist. */
export class SkillNotFoundError extends Error {
  /** `"SkillNotFoundError"`: explicit so it survives bundling and worker messages. */
  override name = "SkillNotFoundError";
}

const DEFAULT_TIMEOUT_MS = 30_000;
const DEFAULT_MAX_OUTPUT = 64 * 1024;
const SKILL_PATH = "/usr/local/bin:/usr/bin:/bin";

/**
 * Creates the skill sink transform.
 *
 * @example
 * ```ts
 * const sink = createSkillSink({ skillsDir: "/srv/skills", workDir: "/srv/work" });
 * ```
 */
export function createSkillSink(options: SkillSinkOptions): TransformStream<Chunk, Chunk> {
  checkOptions(options);
  const failed = (error: Error, input: unknown): FailedChunk => ({
    type: "failed",
    stage: "skill-sink",
    error: error.name,
    message: error.message,
    input,
  });
  return new TransformStream<Chunk, Chunk>({
    async transform(chunk, controller) {
      if (chunk.type !== "correlated") {
        const e = new SkillSinkInputError(`expected a correlated chunk, got "${chunk.type}"`);
        return controller.enqueue(failed(e, { type: chunk.type }));
      }
      const ref = {
        type: chunk.type,
        jobId: chunk.jobId,
        skill: chunk.skill,
        id: chunk.summary.id,
      };
      try {
        controller.enqueue(await runSkill(chunk, options));
      } catch (err) {
        controller.enqueue(failed(err instanceof Error ? err : new Error(String(err)), ref));
      }
    },
  });
}

function checkOptions(options: SkillSinkOptions): void {
  for (const key of ["skillsDir", "workDir"] as const) {
    if (typeof options[key] !== "string" || !options[key].startsWith("/")) {
      throw new StageOptionsError(`skill sink ${key} must be an absolute path`);
    }
  }
}

/**
 * Runs the chunk's skill once and reports what happened.
 *
 * @example
 * ```ts
 * const outcome = await runSkill(correlated, { skillsDir: "/srv/skills", workDir: "/srv/work" });
 * console.log(outcome.exitCode, outcome.stdout);
 * ```
 */
export async function runSkill(
  chunk: CorrelatedChunk,
  options: SkillSinkOptions,
): Promise<SkillOutcomeChunk> {
  if (!isJobId(chunk.jobId)) throw new SkillSinkInputError(`job id "${chunk.jobId}" is not 64 hex`);
  if (!isSkillName(chunk.skill)) throw new SkillSinkInputError(`bad skill name "${chunk.skill}"`);
  const runPath = `${trim(options.skillsDir)}/${chunk.skill}/run`;
  const cwd = `${trim(options.workDir)}/${chunk.jobId}`;
  await Deno.mkdir(cwd, { recursive: true, mode: 0o700 });
  const maxOutput = options.maxOutputBytes ?? DEFAULT_MAX_OUTPUT;
  const started = performance.now();
  const signal = AbortSignal.timeout(options.timeoutMs ?? DEFAULT_TIMEOUT_MS);
  let child: Deno.ChildProcess;
  try {
    child = new Deno.Command(runPath, {
      cwd,
      clearEnv: true,
      env: {
        PATH: SKILL_PATH,
        [SKILL_ENV.jobId]: chunk.jobId,
        [SKILL_ENV.eventId]: chunk.summary.id,
        [SKILL_ENV.eventKind]: String(chunk.summary.kind),
        [SKILL_ENV.role]: chunk.role,
        [SKILL_ENV.skill]: chunk.skill,
      },
      stdin: "piped",
      stdout: "piped",
      stderr: "piped",
      signal,
    }).spawn();
  } catch (err) {
    if (err instanceof Deno.errors.NotFound) {
      throw new SkillNotFoundError(`skill "${chunk.skill}" has no executable ${runPath}`);
    }
    throw err;
  }
  const [stdout, stderr, , status] = await Promise.all([
    readCapped(child.stdout, maxOutput, signal),
    readCapped(child.stderr, maxOutput, signal),
    writeStdin(child.stdin, chunk.summary.toon),
    child.status,
  ]);
  let stderrText = stderr;
  if (signal.aborted) {
    stderrText += `\n[turnpike: killed after ${options.timeoutMs ?? DEFAULT_TIMEOUT_MS} ms]`;
  }
  return {
    type: "skill-outcome",
    jobId: chunk.jobId,
    skill: chunk.skill,
    eventId: chunk.summary.id,
    exitCode: status.code,
    stdout,
    stderr: stderrText,
    durationMs: Math.round(performance.now() - started),
  };
}

function trim(dir: string): string {
  return dir.replace(/\/+$/, "");
}

async function writeStdin(stdin: WritableStream<Uint8Array>, text: string): Promise<void> {
  const writer = stdin.getWriter();
  try {
    await writer.write(new TextEncoder().encode(text));
    await writer.close();
  } catch {
    // The skill exited or closed stdin without reading it all: its right.
  }
}

/**
 * Keeps the first `max` bytes and drains the rest, so a chatty skill never blocks on a pipe.
 * Stops at the timeout even if the pipe stays open (a skill's own children may hold it after
 * the skill itself was killed).
 */
async function readCapped(
  stream: ReadableStream<Uint8Array>,
  max: number,
  signal: AbortSignal,
): Promise<string> {
  const parts: Uint8Array[] = [];
  let kept = 0;
  let total = 0;
  const reader = stream.getReader();
  const stop = () => reader.cancel().catch(() => {});
  signal.addEventListener("abort", stop, { once: true });
  try {
    while (true) {
      const { value: part, done } = await reader.read();
      if (done) break;
      total += part.length;
      if (kept < max) {
        const slice = part.subarray(0, max - kept);
        parts.push(slice);
        kept += slice.length;
      }
    }
  } catch {
    // Cancelled at the timeout: keep what was read.
  } finally {
    signal.removeEventListener("abort", stop);
  }
  const bytes = new Uint8Array(kept);
  let offset = 0;
  for (const p of parts) {
    bytes.set(p, offset);
    offset += p.length;
  }
  const text = new TextDecoder().decode(bytes);
  return total > kept ? `${text}\n[turnpike: truncated, ${total} bytes in all]` : text;
}

/**
 * The permission profile: run only the skills present now, write (and read) only the work dir.
 *
 * @example
 * ```ts
 * skillSinkPermissions({ skillsDir: "/srv/skills", workDir: "/srv/work" }).run; // ["/srv/skills/echo/run", ...]
 * ```
 */
export function skillSinkPermissions(options: SkillSinkOptions): Deno.PermissionOptionsObject {
  const skills: string[] = [];
  try {
    for (const entry of Deno.readDirSync(options.skillsDir)) {
      if (!isSkillName(entry.name)) continue;
      const run = `${trim(options.skillsDir)}/${entry.name}/run`;
      try {
        if (Deno.statSync(run).isFile) skills.push(run);
      } catch { /* a folder without a run file is not a skill */ }
    }
  } catch (err) {
    if (!(err instanceof Deno.errors.NotFound)) throw err;
  }
  return {
    ...NO_PERMISSIONS,
    run: skills.length > 0 ? skills : false,
    read: [options.workDir],
    write: [options.workDir],
  };
}

/** The skill sink stage (`--skills DIR --work DIR [--timeout-ms N] [--max-output N]`). */
export const skillSinkStage: TransformStage<Chunk, Chunk, SkillSinkOptions> = {
  name: "skill-sink",
  role: "sink",
  description: "runs the callback skill of each correlated event and reports its outcome",
  parseOptions(flags) {
    if (!flags.skills || !flags.work) {
      throw new StageOptionsError("skill-sink needs --skills DIR and --work DIR");
    }
    const options: SkillSinkOptions = { skillsDir: flags.skills, workDir: flags.work };
    if (flags["timeout-ms"]) options.timeoutMs = positive(flags["timeout-ms"], "--timeout-ms");
    if (flags["max-output"]) options.maxOutputBytes = positive(flags["max-output"], "--max-output");
    checkOptions(options);
    return options;
  },
  permissions: skillSinkPermissions,
  create: createSkillSink,
};

function positive(text: string, flag: string): number {
  const n = Number(text);
  if (!Number.isSafeInteger(n) || n <= 0) throw new StageOptionsError(`${flag} must be > 0`);
  return n;
}

if (import.meta.main) await stageMain(skillSinkStage);
