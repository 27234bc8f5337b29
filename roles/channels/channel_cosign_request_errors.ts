/**
 * The errors of `roles/channels/channel_cosign_request.ts`, which re-exports them: apart from it,
 * since that module is at its size limit (tests/unit/project/module_size_test.ts).
 *
 * @module
 */
import { RoleError } from "../role_error.ts";

/** The amount asked for is more than the channel holds beyond this node's claims. */
export class WithdrawTooLargeError extends RoleError {
  override name = "WithdrawTooLargeError";
  constructor(readonly amount: bigint, readonly available: bigint) {
    super(`withdrawing ${amount} base units, the channel holds ${available} beyond the claims`);
  }
}
