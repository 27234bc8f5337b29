/**
 * The named errors of agent work: the git bundles that carry a task's repository out and its
 * commits back, the sealed blobs they travel in, and the task itself (docs/PROTOCOL.md "Agent
 * work"). A caller branches on the class (or its `code`), never on the message.
 *
 * @module
 */
import { RoleError } from "../role_error.ts";

/**
 * git could not be run, failed, ran past its time or printed more than it may.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { GitCommandError } from "./agent_work_errors.ts";
 *
 * assert.equal(new GitCommandError("git fetch failed (exit 128): bad object").code, "git-command");
 * ```
 */
export class GitCommandError extends RoleError {
  override name = "GitCommandError";
}

/**
 * A bundle's files, checked out or diffed, would be larger than the limit they must fit in: a
 * bundle of a few kilobytes may name one zero blob under thousands of paths.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { ExpandedTooLargeError } from "./agent_work_errors.ts";
 *
 * const e = new ExpandedTooLargeError("the result's files", 2 ** 40, 2 ** 30);
 * assert.equal(e.code, "expanded-too-large");
 * assert.equal(e.bytes, 1099511627776);
 * ```
 */
export class ExpandedTooLargeError extends RoleError {
  override name = "ExpandedTooLargeError";
  /** The bytes the files would take. */
  readonly bytes: number;
  /** The limit they broke. */
  readonly limit: number;
  /** Says both sizes and what they are of. */
  constructor(what: string, bytes: number, limit: number) {
    super(`${what} expand to ${bytes} bytes, over the limit of ${limit} bytes`);
    this.bytes = bytes;
    this.limit = limit;
  }
}

/**
 * A bundle (or what claims to be one) is larger than the limit it must fit in.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { BundleTooLargeError } from "./agent_work_errors.ts";
 *
 * const e = new BundleTooLargeError(300, 200);
 * assert.equal(e.bytes, 300);
 * assert.equal(e.limit, 200);
 * ```
 */
export class BundleTooLargeError extends RoleError {
  override name = "BundleTooLargeError";
  /** The bundle's size in bytes. */
  readonly bytes: number;
  /** The limit it broke. */
  readonly limit: number;
  /** Says both sizes. */
  constructor(bytes: number, limit: number) {
    super(`the bundle is ${bytes} bytes, over the limit of ${limit} bytes`);
    this.bytes = bytes;
    this.limit = limit;
  }
}

/**
 * Bytes that are not a git bundle (v2 or v3 header, then a pack), or whose pack git refuses.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { BundleFormatError } from "./agent_work_errors.ts";
 *
 * assert.equal(new BundleFormatError("no bundle signature").code, "bundle-format");
 * ```
 */
export class BundleFormatError extends RoleError {
  override name = "BundleFormatError";
}

/**
 * A bundle's refs are not the one expected: none, more than one, or another name or commit.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { BundleRefsError } from "./agent_work_errors.ts";
 *
 * assert.equal(new BundleRefsError("2 refs, expected exactly 1").code, "bundle-refs");
 * ```
 */
export class BundleRefsError extends RoleError {
  override name = "BundleRefsError";
}

/**
 * A bundle needs commits other than the ones agreed on: a repository bundle must need none, a
 * result bundle exactly the base.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { BundlePrerequisiteError } from "./agent_work_errors.ts";
 *
 * assert.equal(new BundlePrerequisiteError("needs 1a2b..., not the base").code, "bundle-prerequisite");
 * ```
 */
export class BundlePrerequisiteError extends RoleError {
  override name = "BundlePrerequisiteError";
}

/**
 * The work's tip does not descend from the base: the base's history was rewritten (a rebase,
 * an amend, a reset past the base) or the branch is unrelated.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { HistoryRewrittenError } from "./agent_work_errors.ts";
 *
 * assert.equal(new HistoryRewrittenError("HEAD does not descend from the base").code, "history-rewritten");
 * ```
 */
export class HistoryRewrittenError extends RoleError {
  override name = "HistoryRewrittenError";
}

/**
 * The worktree's HEAD is the base: the agent committed nothing, so there is no bundle to make
 * (git refuses an empty one). Not a failure of git: the job's layer decides what a run without
 * commits means (a "no change" outcome, delivered without a bundle).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { NoCommitsError } from "./agent_work_errors.ts";
 *
 * assert.equal(new NoCommitsError("HEAD is the base").code, "no-commits");
 * ```
 */
export class NoCommitsError extends RoleError {
  override name = "NoCommitsError";
}

/**
 * The repository has changes not committed, and the caller asked for a clean worktree.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { DirtyWorktreeError } from "./agent_work_errors.ts";
 *
 * assert.equal(new DirtyWorktreeError("2 paths changed").code, "dirty-worktree");
 * ```
 */
export class DirtyWorktreeError extends RoleError {
  override name = "DirtyWorktreeError";
}

/**
 * The branch a result would be applied to exists at another commit.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { BranchExistsError } from "./agent_work_errors.ts";
 *
 * assert.equal(new BranchExistsError("turnpike/abc exists at 1a2b...").code, "branch-exists");
 * ```
 */
export class BranchExistsError extends RoleError {
  override name = "BranchExistsError";
}

/**
 * A sealed blob's header is not one this code reads (magic, version, length).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { SealedBlobFormatError } from "./agent_work_errors.ts";
 *
 * assert.equal(new SealedBlobFormatError("not a sealed blob").code, "sealed-blob-format");
 * ```
 */
export class SealedBlobFormatError extends RoleError {
  override name = "SealedBlobFormatError";
}

/**
 * A sealed blob does not open with its key: a byte was changed, or the key is not its key.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { SealedBlobTamperedError } from "./agent_work_errors.ts";
 *
 * assert.equal(new SealedBlobTamperedError("authentication failed").code, "sealed-blob-tampered");
 * ```
 */
export class SealedBlobTamperedError extends RoleError {
  override name = "SealedBlobTamperedError";
}

/**
 * A task is not one this code reads: not a bead of `bd show --json` nor a title and a text, or
 * over its size bounds.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { AgentTaskError } from "./agent_work_errors.ts";
 *
 * assert.equal(new AgentTaskError("no title").code, "agent-task");
 * ```
 */
export class AgentTaskError extends RoleError {
  override name = "AgentTaskError";
}

/**
 * A delivery proof that does not hold (roles/agent_work/delivery_proof.ts): a bad signature, a
 * fulfillment or a sealed key that is not the committed one, or a key and blobs that keep the
 * commitment after all. The provider is not shown to have cheated.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { DeliveryProofError } from "./agent_work_errors.ts";
 *
 * assert.equal(new DeliveryProofError("the fulfillment is not the invoice's preimage").code, "delivery-proof");
 * ```
 */
export class DeliveryProofError extends RoleError {
  override name = "DeliveryProofError";
}

/**
 * A protected-path glob (`--protect`, `[agents] protect`) this code does not take: empty, too
 * long, with a NUL or a newline, a `..` segment, or naming `.git`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { ProtectGlobError } from "./agent_work_errors.ts";
 *
 * assert.equal(new ProtectGlobError("a glob is not empty").code, "protect-glob");
 * ```
 */
export class ProtectGlobError extends RoleError {
  override name = "ProtectGlobError";
}
