/**
 * A town that does not answer while a job is posted (docs/AGENTS.md, `town-unreachable`): the
 * request's paid write is not sent over a link that is down, and not retried to the job's
 * deadline either. The requester waits {@linkcode TOWN_DOWN_GRACE_MS} for a link to open (a town
 * restarting), then ends the job `error` and throws {@linkcode JobNotPostedError}: the command
 * says `town-unreachable` within seconds, whatever runs in the background, and the job is on
 * record as ended, so submitting it again cannot have it followed (and paid) twice.
 *
 * @module
 */
import { TownUnreachableError } from "./town_link.ts";
import { sleep } from "../../protocol/backoff.ts";

/**
 * How long a request waits for a town link to open before its job ends `error`: longer than a
 * link's longest wait between reconnects (5 s, roles/requester/town_link.ts) and a connect, so a
 * town that restarted is written to rather than refused by a link still in its backoff (3 s
 * refused a job posted just after a town restart on a loaded machine).
 */
export const TOWN_DOWN_GRACE_MS = 7_000;

/** How often a link's state is looked at while waiting for it. */
const POLL_MS = 100;

/**
 * A job's request could not be posted: no town link was open within
 * {@linkcode TOWN_DOWN_GRACE_MS}. The job ended `error`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { JobNotPostedError } from "./town_down.ts";
 * import { TownUnreachableError } from "./town_link.ts";
 *
 * const err = new JobNotPostedError("9f2c".repeat(16), "btp+ws://127.0.0.1:7768");
 * assert(err instanceof TownUnreachableError);
 * assert.equal(err.jobId, "9f2c".repeat(16));
 * ```
 */
export class JobNotPostedError extends TownUnreachableError {
  override name = "JobNotPostedError";
  /** The job, on record as `error`. */
  readonly jobId: string;
  /** Builds the message from the job and where the town was looked for. */
  constructor(jobId: string, where: string) {
    super(
      `the town does not answer (${where}): job ${jobId.slice(0, 12)} was not posted and ` +
        `ended error`,
    );
    this.jobId = jobId;
  }
}

/**
 * Resolves true once `isOpen()` holds (at once when it holds now), false when `withinMs` passed
 * first or `signal` aborted.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { waitForTown } from "./town_down.ts";
 *
 * assert.equal(await waitForTown(() => true, 5_000), true); // at once
 * ```
 */
export async function waitForTown(
  isOpen: () => boolean,
  withinMs: number,
  signal?: AbortSignal,
): Promise<boolean> {
  const until = Date.now() + withinMs;
  while (!isOpen()) {
    if (Date.now() >= until || signal?.aborted) return false;
    await sleep(Math.min(POLL_MS, until - Date.now()), signal);
  }
  return true;
}
