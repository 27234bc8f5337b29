/**
 * The errors of `roles/demo/demo_chain.ts`, which re-exports them: apart from it, since that module
 * is at its size limit (tests/unit/project/module_size_test.ts).
 *
 * @module
 */
import { RoleError } from "../role_error.ts";

/** The anvil binary is not installed; the demo runs without settlement. */
export class AnvilMissingError extends RoleError {
  override name = "AnvilMissingError";
}
