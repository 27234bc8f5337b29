/**
 * A parse of what a PREPARE carries (an SPSP request, a blob authorization) that fails on the
 * sender's input becomes the F06 REJECT `invalid <what>: <why>`; any other failure is the town's
 * own and goes on as it was thrown.
 *
 * @module
 */
import { ILP_ERROR } from "../../../protocol/ilp_packet.ts";
import { TownWriteRejection } from "./write_rejection.ts";

/** Options for {@linkcode invalidInputRejection}. */
export interface InvalidInputRejectionOptions {
  /** The error class the parse throws for input it refuses. */
  inputError: abstract new (...args: never[]) => Error;
  /** What was parsed, as the REJECT message names it. */
  what: string;
}

/**
 * The error to throw for `err`: a {@linkcode TownWriteRejection} F06 when it is the parse's
 * input error, else `err` itself.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { invalidInputRejection } from "./invalid_input_rejection.ts";
 * import { TownWriteRejection } from "./write_rejection.ts";
 * import { SpspMessageError } from "../../../protocol/spsp_message.ts";
 *
 * const options = { inputError: SpspMessageError, what: "SPSP request" };
 * const refused = invalidInputRejection(new SpspMessageError("no request_id"), options);
 * assert(refused instanceof TownWriteRejection);
 * assert.equal(refused.code, "F06");
 * const own = new Error("disk full"); // the town's own failure goes on as it was thrown
 * assert.equal(invalidInputRejection(own, options), own);
 * ```
 */
export function invalidInputRejection(
  err: unknown,
  options: InvalidInputRejectionOptions,
): unknown {
  if (!(err instanceof options.inputError)) return err;
  return new TownWriteRejection(
    ILP_ERROR.unexpectedPayment,
    `invalid ${options.what}: ${err.message}`,
  );
}
