/**
 * The errors of `roles/town/channels/peer_payout.ts`, which re-exports them: apart from it, since
 * that module is at its size limit (tests/unit/project/module_size_test.ts).
 *
 * @module
 */
import { RoleError } from "../../role_error.ts";

/** The channel cannot pay the peer (not the town's, not open). */
export class PeerPayoutError extends RoleError {
  override name = "PeerPayoutError";
}
