/**
 * The errors of `roles/provider/sandbox/skill_sandbox.ts`, which re-exports them: apart from it, since that
 * module is at its size limit (tests/unit/project/module_size_test.ts).
 *
 * @module
 */
import { RoleError } from "../../role_error.ts";

/** The sandbox cannot be built on this machine (no `unshare`, user namespaces off...). */
export class SkillSandboxUnavailableError extends RoleError {
  override name = "SkillSandboxUnavailableError";
}

/** A job the sandbox refuses before starting (bad job id, input too large, no `run`). */
export class SkillJobError extends RoleError {
  override name = "SkillJobError";
}
