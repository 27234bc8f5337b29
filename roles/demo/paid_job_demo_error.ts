/**
 * The demo's errors (roles/demo/paid_job_demo.ts) and the one line of an error it prints.
 *
 * @module
 */
import { RoleError } from "../role_error.ts";

/** The demo could not run (tar missing, a node did not start). */
export class PaidJobDemoError extends RoleError {
  override name = "PaidJobDemoError";
  /** What the user can do about it, when something helps. */
  readonly suggestion?: string;
  constructor(message: string, options: ErrorOptions & { suggestion?: string } = {}) {
    super(message, options);
    this.suggestion = options.suggestion;
  }
}

/** The demo was interrupted (its `signal` aborted); everything it started is stopped. */
export class DemoInterruptedError extends RoleError {
  override name = "DemoInterruptedError";
}

/**
 * The first line of an error's message: viem's run over many lines, the first says what failed.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { errorLine } from "./paid_job_demo_error.ts";
 *
 * assert.equal(errorLine(new Error("execution reverted\nRequest Arguments: ...")), "execution reverted");
 * ```
 */
export function errorLine(err: unknown): string {
  return String((err as Error).message ?? err).split("\n")[0];
}
