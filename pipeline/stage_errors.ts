/**
 * Errors the pipeline runtime reports about its stages.
 *
 * @module
 */
import { PipelineError } from "./pipeline_error.ts";

/**
 * An error about one stage of a pipeline, the base of the three below: `stage` names it and the
 * message starts `stage <name>`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { StageCrashedError, StageError } from "./stage_errors.ts";
 *
 * const e: StageError = new StageCrashedError("relay-source", "TypeError", "boom");
 * assert.equal(e.stage, "relay-source");
 * ```
 */
export class StageError extends PipelineError {
  /** `"StageError"`: explicit so it survives bundling and worker messages. */
  override name = "StageError";
  /** The stage name (kebab-case). */
  stage: string;
  /** `what` follows `stage <name> ` in the message. */
  constructor(stage: string, what: string) {
    super(`stage ${stage} ${what}`);
    this.stage = stage;
  }
}

/** A stage's worker crashed (uncaught error, worker `error` event, or its stream errored). */
export class StageCrashedError extends StageError {
  /** `"StageCrashedError"`: explicit so it survives bundling and worker messages. */
  override name = "StageCrashedError";
  /** Class name of the underlying error. */
  cause_name: string;
  /** `causeName` and `message` are those of the error raised inside the stage. */
  constructor(stage: string, causeName: string, message: string) {
    super(stage, `crashed: ${causeName}: ${message}`);
    this.cause_name = causeName;
  }
}

/**
 * A stage called something its permission profile does not allow (`Deno.errors.NotCapable`
 * inside its worker).
 */
export class StagePermissionError extends StageError {
  /** `"StagePermissionError"`: explicit so it survives bundling and worker messages. */
  override name = "StagePermissionError";
  /** The permission kind: "net", "read", "write", "run", "env", "sys", "ffi", "import". */
  permission: string;
  /** What was asked for, e.g. `evil.example:443`; empty when Deno did not say. */
  target: string;
  /** `permission` and `target` as parsed from Deno's `NotCapable` message. */
  constructor(stage: string, permission: string, target: string) {
    super(stage, `was denied ${permission} access` + (target ? ` to "${target}"` : ""));
    this.permission = permission;
    this.target = target;
  }
}

/** A stage gave up after too many restarts; its unprocessed chunks were reported as failed. */
export class StageRestartLimitError extends StageError {
  /** `"StageRestartLimitError"`: explicit so it survives bundling and worker messages. */
  override name = "StageRestartLimitError";
  /** Restarts made before giving up (the pipeline's `maxRestarts`). */
  restarts: number;
  /** `last` is the message of the crash that exhausted the restarts. */
  constructor(stage: string, restarts: number, last: string) {
    super(stage, `gave up after ${restarts} restarts (last: ${last})`);
    this.restarts = restarts;
  }
}

// Deno's message: `Requires net access to "evil.example:443", run again with the --allow-net flag`
const REQUIRES = /Requires (\w+) access(?: to "([^"]*)")?/;

/**
 * Turns an error raised in a stage into the pipeline's error class: a `NotCapable` error (by
 * class name, since errors lose their prototype crossing a Worker boundary) becomes a
 * {@linkcode StagePermissionError}, anything else a {@linkcode StageCrashedError}.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * const e = classifyStageError("relay-source", {
 *   name: "NotCapable",
 *   message: 'Requires net access to "evil.example:443", run again with the --allow-net flag',
 * });
 * assert.equal(e.message, 'stage relay-source was denied net access to "evil.example:443"');
 * ```
 */
export function classifyStageError(
  stage: string,
  error: { name: string; message: string },
): StageCrashedError | StagePermissionError {
  const m = REQUIRES.exec(error.message);
  if (error.name === "NotCapable" || (m && /NotCapable|PermissionDenied/.test(error.name))) {
    return new StagePermissionError(stage, m?.[1] ?? "unknown", m?.[2] ?? "");
  }
  // An uncaught NotCapable reaches the worker `error` event as "Uncaught NotCapable: ...".
  if (m && /\bNotCapable\b/.test(error.message)) {
    return new StagePermissionError(stage, m[1], m[2] ?? "");
  }
  return new StageCrashedError(stage, error.name, error.message);
}
