/**
 * The time window of stored events: a `created_at` far in the past or the future would sort
 * before or after every honest event forever (and `0` or `2^53-1` are never honest), so the
 * town refuses to store one outside `[now - maxAge, now + maxFuture]`.
 *
 * @module
 */
import { RoleError } from "../../role_error.ts";

/** The window, in seconds around now. */
export interface CreatedAtWindow {
  /** Oldest accepted, seconds before now. */
  createdAtMaxAgeSeconds: number;
  /** Newest accepted, seconds after now. */
  createdAtMaxFutureSeconds: number;
}

/** An event's `created_at` outside the window; the message is the reason given to the client. */
export class CreatedAtOutOfWindowError extends RoleError {
  override name = "CreatedAtOutOfWindowError";
}

/** Options for {@linkcode checkCreatedAt}. */
export interface CheckCreatedAtOptions {
  /** Now, Unix seconds. Default: the clock. */
  nowSeconds?: number;
}

/**
 * Throws {@linkcode CreatedAtOutOfWindowError} when `createdAt` is outside the window.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { checkCreatedAt, CreatedAtOutOfWindowError } from "./created_at_window.ts";
 *
 * const window = { createdAtMaxAgeSeconds: 31536000, createdAtMaxFutureSeconds: 900 };
 * checkCreatedAt(1_000_000, window, { nowSeconds: 1_000_100 }); // 100 s old: accepted
 * assert.throws(() => checkCreatedAt(1_001_000, window, { nowSeconds: 1_000_000 }), CreatedAtOutOfWindowError);
 * ```
 */
export function checkCreatedAt(
  createdAt: number,
  window: CreatedAtWindow,
  options: CheckCreatedAtOptions = {},
): void {
  const now = options.nowSeconds ?? Math.floor(Date.now() / 1000);
  const earliest = now - window.createdAtMaxAgeSeconds;
  const latest = now + window.createdAtMaxFutureSeconds;
  if (createdAt < earliest) {
    throw new CreatedAtOutOfWindowError(
      `created_at ${createdAt} is more than ${window.createdAtMaxAgeSeconds} s in the past ` +
        `(earliest accepted now: ${earliest})`,
    );
  }
  if (createdAt > latest) {
    throw new CreatedAtOutOfWindowError(
      `created_at ${createdAt} is more than ${window.createdAtMaxFutureSeconds} s in the ` +
        `future (latest accepted now: ${latest})`,
    );
  }
}
