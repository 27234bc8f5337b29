/**
 * Builds the entry module of a stage's Worker.
 *
 * Why a generated module: a Worker with `deno.permissions` loads its *static* module graph
 * (local files and npm packages under node_modules alike) without any permission check, but a
 * *dynamic* `import()` inside the worker needs `read` on every local file of the imported graph
 * (measured on Deno 2.9.6: `Requires read access to ".../stages/stage.ts"`). So rather than a
 * generic host that dynamically imports the stage, each worker starts from a tiny blob: module
 * that statically imports the host and the stage; the kind extractor then runs with no
 * permissions at all, and no profile needs `read` just to load code.
 *
 * @module
 */
import type { StageModuleRef } from "../stages/stage_registry.ts";

const HOST_URL = new URL("./stage_worker_host.ts", import.meta.url).href;

/**
 * The source text of a worker entry module for the stage at `ref`.
 *
 * @example
 * ```ts
 * const src = workerEntrySource({ url: "file:///x/stages/correlator.ts", exportName: "correlatorStage" });
 * ```
 */
export function workerEntrySource(ref: StageModuleRef): string {
  return [
    `import { serveStageInWorker } from ${JSON.stringify(HOST_URL)};`,
    `import * as stageModule from ${JSON.stringify(ref.url)};`,
    `serveStageInWorker(stageModule[${JSON.stringify(ref.exportName)}]);`,
    "",
  ].join("\n");
}

/**
 * An object URL for the worker entry of `ref`; revoke it with `URL.revokeObjectURL` when the
 * pipeline closes.
 *
 * @example
 * ```ts
 * const url = createWorkerEntryUrl({ url: "file:///x/stages/correlator.ts", exportName: "correlatorStage" });
 * URL.revokeObjectURL(url);
 * ```
 */
export function createWorkerEntryUrl(ref: StageModuleRef): string {
  const blob = new Blob([workerEntrySource(ref)], { type: "application/javascript" });
  return URL.createObjectURL(blob);
}
