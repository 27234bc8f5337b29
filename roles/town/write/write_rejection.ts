/**
 * The one error the town's write side throws for a PREPARE it refuses: an ILP reject code
 * (RFC 27) with the message (and optional data) the REJECT carries back to the sender.
 *
 * Codes used by the town: F02 unreachable, F04 underpaid, F05 wrong condition (the town cannot
 * produce a fulfillment for it), F06 invalid event or signature, F08 too large (event bytes or
 * packet amount), F99 an SPSP answer carried in a REJECT, T00 internal, T05 rate-limited,
 * R02 expired or too little time left.
 *
 * @module
 */
import type { ILP_ERROR } from "../../../protocol/ilp_packet.ts";
import { RoleError } from "../../role_error.ts";

/** The reject codes the town answers with. */
export type TownRejectCode = (typeof ILP_ERROR)[
  | "unreachable"
  | "insufficientDestinationAmount"
  | "wrongCondition"
  | "unexpectedPayment"
  | "amountTooLarge"
  | "finalApplicationError"
  | "internalError"
  | "rateLimited"
  | "transferTimedOut"
  | "insufficientTimeout"
];

/**
 * A refused PREPARE: becomes an ILP REJECT with this code and message. A {@linkcode RoleError}
 * whose `code` is the ILP code it answers with (docs/ARCHITECTURE.md "Errors").
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { ILP_ERROR } from "../../../protocol/ilp_packet.ts";
 * import { RoleError } from "../../role_error.ts";
 * import { TownWriteRejection } from "./write_rejection.ts";
 *
 * const refused = new TownWriteRejection(ILP_ERROR.insufficientDestinationAmount, "underpaid");
 * assert.ok(refused instanceof RoleError);
 * assert.deepEqual([refused.code, refused.name], ["F04", "TownWriteRejection"]);
 * ```
 */
export class TownWriteRejection extends RoleError {
  override name = "TownWriteRejection";
  /** ILP error code. */
  override readonly code: TownRejectCode;
  /** REJECT data (e.g. the F08 amounts, or an SPSP response). */
  data: Uint8Array;
  constructor(code: TownRejectCode, message: string, data: Uint8Array = new Uint8Array(0)) {
    super(message);
    this.code = code;
    this.data = data;
  }
}

/**
 * RFC 27 data of an F08 Amount Too Large reject: received amount and maximum amount, each an
 * unsigned 64-bit big-endian integer.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { amountTooLargeData } from "./write_rejection.ts";
 *
 * const data = amountTooLargeData(1000n, 500n);
 * const view = new DataView(data.buffer);
 * assert.deepEqual([data.byteLength, view.getBigUint64(0), view.getBigUint64(8)], [16, 1000n, 500n]);
 * ```
 */
export function amountTooLargeData(received: bigint, maximum: bigint): Uint8Array {
  const out = new Uint8Array(16);
  const view = new DataView(out.buffer);
  view.setBigUint64(0, received);
  view.setBigUint64(8, maximum);
  return out;
}
