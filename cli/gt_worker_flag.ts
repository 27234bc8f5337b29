/**
 * `job submit --worker <address>`: the Gas Town worker whose key signs the request, at its current
 * rotation (roles/requester/worker_rotations.ts; docs/PROTOCOL.md "Gas Town workers").
 *
 * @module
 */
import { CliError } from "./cli_error.ts";
import { ExitCode } from "./exit_codes.ts";
import type { WorkerKeyRef } from "../protocol/node_signer.ts";
import { currentWorkerKey } from "../roles/requester/worker_rotations.ts";
import { WorkerAddressError } from "../identity/worker_key.ts";

/**
 * The key `--worker <address>` names, or a usage error.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { workerKeyOf } from "./gt_worker_flag.ts";
 *
 * const stateDir = await Deno.makeTempDir();
 * const ref = await workerKeyOf(stateDir, "myrig/crew/max");
 * assert.equal(ref.rotation, 0);
 * await Deno.remove(stateDir, { recursive: true });
 * ```
 * @throws {CliError} (usage) when the address is not a Gas Town worker's.
 */
export async function workerKeyOf(stateDir: string, address: string): Promise<WorkerKeyRef> {
  try {
    return await currentWorkerKey(stateDir, address);
  } catch (err) {
    if (!(err instanceof WorkerAddressError)) throw err;
    throw new CliError(`--worker: ${err.message}`, { exitCode: ExitCode.Usage, cause: err });
  }
}
