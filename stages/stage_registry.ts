/**
 * Every stage turnpike knows, by its kebab-case name: where its module is and which export is
 * its stage object. `turnpike stage <name>` and the pipeline runtime load stages through here;
 * loading is a dynamic import so a command only pays for the stages it uses.
 *
 * @module
 */
import { StagesError } from "./stages_error.ts";
import type { Stage } from "./stage.ts";

/** Where a stage lives: its module (absolute URL) and the name of its stage export. */
export interface StageModuleRef {
  /** Absolute URL of the stage's module, importable as is. */
  url: string;
  /** Name of the export holding the stage object, e.g. `kindExtractorStage`. */
  exportName: string;
}

// Relative to this file; the export names follow `<camelName>Stage`.
const STAGES: Readonly<Record<string, { file: string; exportName: string }>> = {
  "relay-source": { file: "./relay_source.ts", exportName: "relaySourceStage" },
  "kind-extractor": { file: "./kind_extractor.ts", exportName: "kindExtractorStage" },
  "correlator": { file: "./correlator.ts", exportName: "correlatorStage" },
  "toon-encoder": { file: "./toon_encoder.ts", exportName: "toonEncoderStage" },
  "signer": { file: "./signer.ts", exportName: "signerStage" },
  "ilp-prepare-sink": { file: "./ilp_prepare_sink.ts", exportName: "ilpPrepareSinkStage" },
};

/** No stage has this name. The message lists the known names. */
export class UnknownStageError extends StagesError {
  /** `"UnknownStageError"`: explicit so it survives bundling. */
  override name = "UnknownStageError";
  /** The name asked for. */
  stage: string;
  /** Every known stage name. */
  known: string[];
  /** Lists the registered names in the message. */
  constructor(stage: string) {
    const known = stageNames();
    super(`unknown stage "${stage}" (known stages: ${known.join(", ")})`);
    this.stage = stage;
    this.known = known;
  }
}

/** A stage module loaded but does not export a stage object under the registered name. */
export class StageExportError extends StagesError {
  /** `"StageExportError"`: explicit so it survives bundling. */
  override name = "StageExportError";
}

/**
 * The names of all registered stages, sorted.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * assert.ok(stageNames().includes("kind-extractor"));
 * ```
 */
export function stageNames(): string[] {
  return Object.keys(STAGES).sort();
}

/**
 * Where the named stage lives, without loading it.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * assert.equal(resolveStageModule("correlator").exportName, "correlatorStage");
 * ```
 */
export function resolveStageModule(name: string): StageModuleRef {
  const entry = Object.hasOwn(STAGES, name) ? STAGES[name] : undefined;
  if (entry === undefined) throw new UnknownStageError(name);
  return { url: new URL(entry.file, import.meta.url).href, exportName: entry.exportName };
}

/**
 * Imports a stage module by reference and returns its stage object.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * const stage = await importStage({ url: new URL("./correlator.ts", import.meta.url).href, exportName: "correlatorStage" });
 * assert.equal(stage.name, "correlator");
 * ```
 */
export async function importStage(ref: StageModuleRef): Promise<Stage> {
  const mod: Record<string, unknown> = await import(ref.url);
  const stage = mod[ref.exportName];
  if (!isStage(stage)) {
    throw new StageExportError(`${ref.url} does not export a stage named ${ref.exportName}`);
  }
  return stage;
}

/**
 * Loads the named stage (dynamic import).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * const stage = await loadStage("kind-extractor");
 * assert.equal(stage.name, "kind-extractor");
 * ```
 */
export function loadStage(name: string): Promise<Stage> {
  return importStage(resolveStageModule(name));
}

function isStage(value: unknown): value is Stage {
  if (typeof value !== "object" || value === null) return false;
  const s = value as Record<string, unknown>;
  return typeof s.name === "string" && typeof s.create === "function" &&
    typeof s.permissions === "function" && typeof s.parseOptions === "function" &&
    (s.role === "source" || s.role === "transform" || s.role === "sink");
}
