/**
 * The one contract between a node and a skill's `run`, whoever runs it (the provider's sandbox,
 * the requester's callbacks): what goes in (the raw TOON event on
 * stdin, the environment variables below), what comes out (stdout, exit codes). docs/SKILLS.md
 * says the same for skill authors.
 *
 * @module
 */

/** Exit codes of a skill's `run`: anything else is a crash. */
export const SKILL_EXIT = { ok: 0, failed: 1, badInput: 2, refused: 3 } as const;

/** How a `run` exit reads, for status lines and feedback. */
export type SkillExitStatus = "ok" | "failed" | "bad-input" | "refused" | "crashed";

/**
 * The meaning of a `run`'s exit code, and the words a feedback or log uses for it.
 *
 * @example
 * ```ts
 * skillExitStatus(2); // ["bad-input", "exit 2: the skill rejected its input"]
 * ```
 */
export function skillExitStatus(code: number): [SkillExitStatus, string] {
  switch (code) {
    case SKILL_EXIT.ok:
      return ["ok", "exit 0"];
    case SKILL_EXIT.failed:
      return ["failed", "exit 1: the job failed"];
    case SKILL_EXIT.badInput:
      return ["bad-input", "exit 2: the skill rejected its input"];
    case SKILL_EXIT.refused:
      return ["refused", "exit 3: the skill refused the job"];
    default:
      return ["crashed", code > 128 ? `killed by signal ${code - 128}` : `exit ${code}`];
  }
}

/** Names of the environment variables a `run` may be given. */
export const SKILL_ENV = {
  /** The job (request event) id. Every runner sets it. */
  jobId: "TURNPIKE_JOB_ID",
  /** Callbacks: how the job ended (done, timed-out, cancelled, error, payment-refused). */
  jobStatus: "TURNPIKE_JOB_STATUS",
  /** Provider's sandbox: the job's input files, files to return, the TOON module. */
  inputs: "TURNPIKE_INPUTS",
  outputs: "TURNPIKE_OUTPUTS",
  toonModule: "TURNPIKE_TOON_MODULE",
} as const;

/** The `PATH` a `run` gets after the runner's own dirs (the sandbox puts its Deno first). */
export const SKILL_PATH = "/usr/local/bin:/usr/bin:/bin";

/** What a runner tells a `run` about itself; each field given sets its {@linkcode SKILL_ENV}. */
export interface SkillRunContext {
  /** The job (request event) id. */
  jobId?: string;
  /** Callbacks: how the job ended. */
  jobStatus?: string;
  /** Provider's sandbox: the job's input files (a dir). */
  inputs?: string;
  /** Provider's sandbox: files to return (a dir). */
  outputs?: string;
  /** Provider's sandbox: the TOON module a Deno skill may import. */
  toonModule?: string;
}

const CONTEXT_ENV: { [K in keyof Required<SkillRunContext>]: string } = {
  jobId: SKILL_ENV.jobId,
  jobStatus: SKILL_ENV.jobStatus,
  inputs: SKILL_ENV.inputs,
  outputs: SKILL_ENV.outputs,
  toonModule: SKILL_ENV.toonModule,
};

/**
 * The environment a `run` is started with, the one way the provider's sandbox and the
 * requester's callbacks build it: the runner's
 * own variables (`PATH`, `HOME`, ...), then the `TURNPIKE_*` ones of what it knows. See
 * docs/SKILLS.md ("The environment and the sandbox").
 *
 * @example
 * ```ts
 * import { SKILL_PATH, skillEnvironment } from "./skill_contract.ts";
 *
 * const env = skillEnvironment({ jobId: "ab".repeat(32), jobStatus: "done" }, { PATH: SKILL_PATH });
 * console.log(env.TURNPIKE_JOB_STATUS); // "done"
 * ```
 */
export function skillEnvironment(
  context: SkillRunContext,
  base: Record<string, string> = {},
): Record<string, string> {
  const env: Record<string, string> = { ...base };
  for (const [key, name] of Object.entries(CONTEXT_ENV)) {
    const value = context[key as keyof SkillRunContext];
    if (value !== undefined) env[name] = String(value);
  }
  return env;
}
