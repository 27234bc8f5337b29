/**
 * The named errors of the requester's half of an agent task (docs/ARCHITECTURE.md "One agent
 * task, from `job submit` to `--apply`"): the repository that does not bundle, a result whose key
 * no payment released, one refused before it is applied, a delivery that broke its commitment.
 * What each one means is data on it (`reason`, `proof`, `missing`); how a command words it is the
 * command's (cli/agent_task_command.ts).
 *
 * @module
 */
import { RoleError } from "../../role_error.ts";

/**
 * The repository of a task could not be bundled (not a repository, no such base, git failed).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { TaskRepositoryError } from "./requester_agent_errors.ts";
 *
 * assert.equal(new TaskRepositoryError("not a git repository").code, "task-repository");
 * ```
 */
export class TaskRepositoryError extends RoleError {
  override name = "TaskRepositoryError";
}

/**
 * The result's key is still sealed: no payment of the job released the fulfillment that opens it.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { DeliveryNotPaidError } from "./requester_agent_errors.ts";
 *
 * assert.equal(new DeliveryNotPaidError().code, "delivery-not-paid");
 * ```
 */
export class DeliveryNotPaidError extends RoleError {
  override name = "DeliveryNotPaidError";
  constructor() {
    super("the delivery is not paid: the result's key is still sealed");
  }
}

/**
 * Why a result is refused before it is applied: not an agent task's (`not-agent-result`), a blob
 * over what a provider may seal (`too-large`), a blob no town serves (`blob-unavailable`), or the
 * bundle refused by its check (`bundle`, or the check's own error code: `expanded-too-large`,
 * `history-rewritten`...): an open set, as the check's codes are.
 */
export type AgentResultRefusal = string;

/** Options for {@linkcode AgentResultRefusedError}. */
export interface AgentResultRefusedOptions {
  /** Where it happened (the repository a bundle did not apply to). */
  context?: string;
  cause?: unknown;
}

/**
 * A result refused before or while it is applied; {@linkcode AgentResultRefusedError.reason}
 * says why.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { AgentResultRefusedError } from "./requester_agent_errors.ts";
 *
 * const e = new AgentResultRefusedError("too-large", "the bundle is 1 GB");
 * assert.equal(e.reason, "too-large");
 * ```
 */
export class AgentResultRefusedError extends RoleError {
  override name = "AgentResultRefusedError";
  readonly reason: AgentResultRefusal;
  readonly context?: string;
  constructor(
    reason: AgentResultRefusal,
    message: string,
    options: AgentResultRefusedOptions = {},
  ) {
    super(message, { cause: options.cause });
    this.reason = reason;
    this.context = options.context;
  }
}

/**
 * The paid key does not open the bundle, or opens it to other bytes than the provider committed
 * to (docs/PROTOCOL.md "Paid on delivery"); `proof` is the path of the proof kept, if any.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { DeliveryBrokenError } from "./requester_agent_errors.ts";
 *
 * const e = new DeliveryBrokenError("the bundle opens to other bytes", "/p/proofs/ab.json");
 * assert.equal(e.proof, "/p/proofs/ab.json");
 * ```
 */
export class DeliveryBrokenError extends RoleError {
  override name = "DeliveryBrokenError";
  readonly proof?: string;
  constructor(message: string, proof: string | undefined, options: { cause?: unknown } = {}) {
    super(message, { cause: options.cause });
    this.proof = proof;
  }
}

/**
 * The job has no delivery proof: its delivery kept its commitment, or is not paid.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { NoDeliveryProofError } from "./requester_agent_errors.ts";
 *
 * assert.equal(new NoDeliveryProofError("ab", "/p/proofs/ab.json").path, "/p/proofs/ab.json");
 * ```
 */
export class NoDeliveryProofError extends RoleError {
  override name = "NoDeliveryProofError";
  readonly path: string;
  constructor(id: string, path: string) {
    super(`job ${id} has no proof: its delivery kept its commitment, or is not paid`);
    this.path = path;
  }
}

/**
 * What an apply lacks: the repository (none given, none kept), the acceptance command `--verify`
 * runs (not kept by older profiles), or the bundle blob (the result names none).
 */
export type AgentApplyMissing = "repo" | "accept" | "bundle-blob";

/**
 * An apply that lacks {@linkcode AgentApplyMissingError.missing}.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { AgentApplyMissingError } from "./requester_agent_errors.ts";
 *
 * assert.equal(new AgentApplyMissingError("repo").missing, "repo");
 * ```
 */
export class AgentApplyMissingError extends RoleError {
  override name = "AgentApplyMissingError";
  readonly missing: AgentApplyMissing;
  constructor(missing: AgentApplyMissing) {
    super(`the apply has no ${missing}`);
    this.missing = missing;
  }
}

/**
 * The acceptance command could not run on the requester's machine (`--verify`): the sandbox or
 * git failed, not the gate.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { LocalGateUnavailableError } from "./requester_agent_errors.ts";
 *
 * assert.equal(new LocalGateUnavailableError("bwrap: not found").code, "local-gate-unavailable");
 * ```
 */
export class LocalGateUnavailableError extends RoleError {
  override name = "LocalGateUnavailableError";
}
