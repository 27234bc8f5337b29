/**
 * The contract every stage file fulfils. A stage is a factory: given its options it returns a
 * fresh ReadableStream (a source) or TransformStream (everything else; a "sink" is a transform
 * whose output reports what it did, so outcomes stay observable). A stage holds no global state.
 *
 * @module
 */
import { StagesError } from "./stages_error.ts";
import type { Chunk } from "./chunks.ts";
import type { NostrEvent } from "../protocol/nostr_event.ts";

/** Flags as given on the command line of a stage that runs alone (`--relay ws://...`). */
export type StageFlags = Record<string, string>;

/** Permissions a stage's Worker runs with; the narrowest profile that lets it work. */
export type StagePermissions = Deno.PermissionOptionsObject;

/**
 * What the pipeline lends a source besides its options: what only the node's thread can do. A
 * stage in a worker reaches it by message (`pipeline/worker_authenticator.ts`), so the worker
 * never holds what stands behind it (docs/ARCHITECTURE.md "Pipelines and their permissions").
 */
export interface StageContext {
  /**
   * NIP-42: the answer to a relay's `challenge` (kind 22242 naming `relayUrl`), signed by the
   * node's key in the node's thread. Absent: the stage does not answer challenges.
   */
  authenticate?: (challenge: string, relayUrl: string) => Promise<NostrEvent>;
}

/** A source stage: produces chunks, takes none. */
export interface SourceStage<O extends Chunk, Opt> {
  /** Registered name, kebab-case (`relay-source`); also the `turnpike stage` name. */
  name: string;
  /** Discriminator: a source takes no input. */
  role: "source";
  /** One line, lowercase, for `turnpike stage list`. */
  description: string;
  /** Turn command-line flags into options (throws StageOptionsError on bad flags). */
  parseOptions(flags: StageFlags): Opt;
  /** The least privilege this stage needs with these options. */
  permissions(options: Opt): StagePermissions;
  /** A fresh stream for one run; no state is shared between calls. */
  create(options: Opt, context?: StageContext): ReadableStream<O>;
}

/** A transform (or sink) stage. */
export interface TransformStage<I extends Chunk, O extends Chunk, Opt> {
  /** Registered name, kebab-case (`kind-extractor`); also the `turnpike stage` name. */
  name: string;
  /** "sink" for a stage whose output reports what it did (outcomes) rather than new data. */
  role: "transform" | "sink";
  /** One line, lowercase, for `turnpike stage list`. */
  description: string;
  /** Turn command-line flags into options (throws StageOptionsError on bad flags). */
  parseOptions(flags: StageFlags): Opt;
  /** The least privilege this stage needs with these options. */
  permissions(options: Opt): StagePermissions;
  /** A fresh stream for one run; no state is shared between calls. */
  create(options: Opt): TransformStream<I, O>;
}

/** Any stage (method parameters are bivariant, so every concrete stage is assignable). */
export type Stage = SourceStage<Chunk, unknown> | TransformStage<Chunk, Chunk, unknown>;

/** Bad flags or options for a stage. */
export class StageOptionsError extends StagesError {
  /** `"StageOptionsError"`: explicit so it survives bundling and worker messages. */
  override name = "StageOptionsError";
}

/**
 * A permission profile in a few words, for operators: what it grants, or "no permissions".
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * assert.equal(describePermissions({ ...NO_PERMISSIONS, net: ["127.0.0.1:7100"] }), "net 127.0.0.1:7100");
 * ```
 */
export function describePermissions(permissions: StagePermissions): string {
  const granted = Object.entries(permissions).flatMap(([kind, value]) => {
    if (value === false || value === undefined || value === "none") return [];
    if (value === true || value === "inherit") return [`${kind} (all)`];
    return Array.isArray(value) && value.length > 0 ? [`${kind} ${value.join(",")}`] : [];
  });
  return granted.length === 0 ? "no permissions" : granted.join("; ");
}

/** No permissions at all: the profile of pure stages such as the kind extractor. */
export const NO_PERMISSIONS: StagePermissions = {
  read: false,
  write: false,
  net: false,
  env: false,
  run: false,
  ffi: false,
  sys: false,
  import: false,
};
