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
 * import { invalidInputRejection } from "./invalid_input_rejection.ts";
 * import { parseSpspRequest, SpspMessageError } from "../../../protocol/spsp_message.ts";
 * import type { NostrEvent } from "../../../protocol/nostr_event.ts";
 * import type { NodeSigner } from "../../../protocol/node_signer.ts";
 *
 * async function spspRequestOf(request: NostrEvent, signer: NodeSigner) {
 *   try {
 *     return await parseSpspRequest(request, signer);
 *   } catch (err) {
 *     throw invalidInputRejection(err, { inputError: SpspMessageError, what: "SPSP request" });
 *   }
 * }
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
