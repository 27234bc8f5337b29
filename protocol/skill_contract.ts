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
