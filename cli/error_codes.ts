/**
 * Every error code the `turnpike` command prints in its JSON `error` object, and every exit
 * status, in one table each: the agent contract (docs/AGENTS.md "Errors" and "Exit codes")
 * lists exactly these, and `tests/unit/cli/error_codes_test.ts` fails when the two differ.
 * {@linkcode CliError} takes only a code of this table, so the CLI cannot emit another.
 *
 * @module
 */
import { ExitCode, type ExitCodeValue } from "./exit_codes.ts";

/** What an error code means, the exit status it comes with and the fields it carries. */
export interface ErrorCodeInfo {
  /** The exit status of a command that ends with this code. */
  exit: ExitCodeValue;
  /** When the CLI gives it. */
  when: string;
  /** Fields of the error object beyond the contract's own (figures to act on). */
  fields?: readonly string[];
}

/** Every error code; see the module doc. */
export const ERROR_CODES = {
  "usage": { exit: ExitCode.Usage, when: "a bad flag, argument or option value" },
  "no-job": {
    exit: ExitCode.Usage,
    when: "the id matches no job of the profile, or a job that cannot be cancelled",
  },
  "ambiguous-id": {
    exit: ExitCode.Usage,
    when: "the id prefix matches several jobs (give more characters)",
  },
  "missing-param": {
    exit: ExitCode.Usage,
    when: "`skill test`: the skill needs a param the event lacks",
  },
  "no-result": { exit: ExitCode.Failure, when: "`job results` of a job still in flight" },
  "no-provider": {
    exit: ExitCode.Failure,
    when: "no online provider serves the kind (among the --provider ones); nothing was paid",
    fields: ["kind", "offline"],
  },
  "bid-below-price": {
    exit: ExitCode.Failure,
    when: "every online provider asks more than the bid or --max-per-job (refused even with " +
      "--force: providers drop such requests, the node would refuse to pay); nothing was paid",
    fields: ["kind", "bid", "maxPerJob", "price", "provider", "skill"],
  },
  "price-above-ceiling": {
    exit: ExitCode.Failure,
    when: "the town asks more per byte than price_ceiling; nothing was paid",
    fields: ["pricePerByte", "priceCeiling"],
  },
  "town-rejected": {
    exit: ExitCode.Failure,
    when: "the town refused a paid write (`context` has the ILP code: F04 price, T04 liquidity...)",
  },
  "town-unreachable": {
    exit: ExitCode.Failure,
    when: "the town's relay or BTP does not answer (within seconds, whether or not the " +
      "profile's node runs); nothing was posted; a job already recorded (`job`) ended `error`",
    fields: ["job", "status"],
  },
  "channel": {
    exit: ExitCode.Failure,
    when: "the payment channel cannot pay (used up, closed, unknown, not opened)",
  },
  "no-identity": { exit: ExitCode.Failure, when: "the profile has no wallet yet" },
  "passphrase": {
    exit: ExitCode.Failure,
    when: "no passphrase source (non-interactive, no terminal), an unreadable passphrase " +
      "file, or a wrong passphrase",
  },
  "node-busy": {
    exit: ExitCode.Failure,
    when: "the profile's node runs with other settings and follows jobs, or another role " +
      "holds the state dir",
    fields: ["settings", "pid", "activeJobs"],
  },
  "busy": {
    exit: ExitCode.Failure,
    when: "the profile's node follows as many jobs as its bound (`max_jobs`, a count or `auto`); " +
      "nothing was signed, written or paid: submit again later",
  },
  "node-unreachable": {
    exit: ExitCode.Failure,
    when: "the profile's node did not answer, or went away mid-request",
  },
  "node-stopping": {
    exit: ExitCode.Failure,
    when: "the profile's node was stopping (idle, `node stop`) and served nothing, each time " +
      "the command tried another: run it again",
  },
  "node-failed": {
    exit: ExitCode.Failure,
    when: "the profile's node stopped while starting (its log says why)",
  },
  "error": { exit: ExitCode.Failure, when: "the job ended `error` (after its result line)" },
  "timed-out": {
    exit: ExitCode.Failure,
    when: "the job ended `timed-out` (after its result line), or `wallet receive` was not paid " +
      "within its `--timeout`",
  },
  "cancelled": {
    exit: ExitCode.Failure,
    when: "the job ended `cancelled` (after its result line)",
  },
  "payment-refused": {
    exit: ExitCode.Failure,
    when: "the job ended `payment-refused`: over the bid or the spend policy; or `wallet send` " +
      "refused a transfer over `--max` or the spend policy (nothing paid)",
  },
  "deposit-over-bound": {
    exit: ExitCode.Failure,
    when: "the job's deposit asks more than the profile pays its provider before delivery " +
      "(`[requester] deposit_share`, by its trust of the provider); nothing was paid, nothing ran",
  },
  "verdict-failed": {
    exit: ExitCode.Verdict,
    when: "the job is `done` but its report says the work failed (ci-run tests or agent-task " +
      "gate failed, docker-build did not build or test); `--ignore-verdict` exits 0",
  },
  "results-rejected": {
    exit: ExitCode.Verdict,
    when: "`refinery`: a result was rejected (its gate fails on the merged tip, or it conflicts " +
      "again after its one re-sling); the others were merged or slung again",
  },
  "verdict-mismatch": {
    exit: ExitCode.Verdict,
    when: "`job results --apply --verify`: the job's acceptance command fails on the applied " +
      "branch here (in the sandbox) while the provider reported it passed",
  },
  // `skill test`: the skill's outcome, as a provider's job would get it (docs/SKILLS.md).
  "timeout": { exit: ExitCode.Failure, when: "`skill test`: the skill ran past its timeout" },
  "bad-input": { exit: ExitCode.Failure, when: "`skill test`: the skill refused its input" },
  "refused": { exit: ExitCode.Failure, when: "`skill test`: the skill refused the job" },
  "crashed": { exit: ExitCode.Failure, when: "`skill test`: the skill died on a signal" },
  "memory-limit": { exit: ExitCode.Failure, when: "`skill test`: over its memory limit" },
  "disk-limit": { exit: ExitCode.Failure, when: "`skill test`: over its work dir's size" },
  "output-too-large": { exit: ExitCode.Failure, when: "`skill test`: output over its cap" },
  "denied": { exit: ExitCode.Failure, when: "`skill test`: the sandbox denied what it asked" },
  "sandbox-error": { exit: ExitCode.Failure, when: "`skill test`: the sandbox could not run it" },
  // `skill test --event` of a gift wrap: why the node would refuse it (docs/PROTOCOL.md).
  "not-a-wrap": { exit: ExitCode.Failure, when: "`skill test --event`: not a kind 1059 wrap" },
  "too-large": { exit: ExitCode.Failure, when: "`skill test --event`: the wrap is too large" },
  "not-for-me": { exit: ExitCode.Failure, when: "`skill test --event`: addressed to another key" },
  "bad-signature": { exit: ExitCode.Failure, when: "`skill test --event`: a bad signature" },
  "undecryptable": { exit: ExitCode.Failure, when: "`skill test --event`: cannot be decrypted" },
  "forged-sender": {
    exit: ExitCode.Failure,
    when: "`skill test --event`: seal and rumor disagree",
  },
  "bad-rumor": { exit: ExitCode.Failure, when: "`skill test --event`: the rumor is malformed" },
  "bad-event": { exit: ExitCode.Failure, when: "`skill test --event`: not a valid event" },
  "not-delivered": {
    exit: ExitCode.Failure,
    when: "`job results --apply`: the delivery is not paid, so the result's key is still sealed",
  },
  "delivery-broken": {
    exit: ExitCode.Failure,
    when: "`job results --apply`: the paid key does not open the bundle the provider committed " +
      "to; the proof is kept",
    fields: ["proof"],
  },
  "no-proof": {
    exit: ExitCode.Failure,
    when: "`job results --proof`: the job's delivery broke no commitment (or is not paid)",
  },
  "result-refused": {
    exit: ExitCode.Failure,
    when: "`job results --apply`: the result's bundle rewrites history, does not apply, is too " +
      "large or missing, or is not an agent-task result; nothing was changed",
    fields: ["reason"],
  },
  "not-a-worker": {
    exit: ExitCode.Failure,
    when: "`gt whois`: the key has no kind 0 naming a Gas Town worker, or its Mayor's signature " +
      "over the binding fails",
    fields: ["reason"],
  },
  "bd-failed": {
    exit: ExitCode.Failure,
    when: "`beads sync`: beads' `bd` could not be run, failed, or printed no JSON; what was " +
      "synced before is kept",
  },
  "failed": { exit: ExitCode.Failure, when: "anything else that ran and failed" },
  "interrupted": { exit: ExitCode.Interrupted, when: "stopped by Ctrl-C (SIGINT)" },
  "internal": { exit: ExitCode.Failure, when: "a bug: please report it with the message" },
} as const satisfies Record<string, ErrorCodeInfo>;

/** One of {@linkcode ERROR_CODES}' keys. */
export type ErrorCode = keyof typeof ERROR_CODES;

/**
 * Whether a string is one of the table's codes (for codes that crossed a socket).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { isErrorCode } from "./error_codes.ts";
 *
 * assert(isErrorCode("no-job"));
 * assert(!isErrorCode("no-such-code"));
 * ```
 */
export function isErrorCode(code: unknown): code is ErrorCode {
  return typeof code === "string" && Object.hasOwn(ERROR_CODES, code);
}

/** Every exit status and its meaning (docs/AGENTS.md "Exit codes"). */
export const EXIT_STATUSES: Readonly<Record<ExitCodeValue, string>> = {
  [ExitCode.Ok]: "the command succeeded; a job command: the job (and its chain) ended `done`",
  [ExitCode.Failure]: "it ran and failed: a job that ended badly, a refusal, an unreachable " +
    "town, a channel that cannot pay",
  [ExitCode.Usage]: "bad usage: unknown command, bad flag or value, unknown or ambiguous job id",
  [ExitCode.Verdict]: "the job is `done` but its report's verdict is a failure " +
    "(`verdict-failed`), or its gate fails on the requester's own run (`verdict-mismatch`); " +
    "`refinery`: a result was rejected (`results-rejected`)",
  [ExitCode.Interrupted]: "interrupted by Ctrl-C (SIGINT)",
};
