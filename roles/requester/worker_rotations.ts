/**
 * The current rotation of each Gas Town worker's key of a profile (docs/PROTOCOL.md "Gas Town
 * workers"): `gt/rotations.json` in the profile's state dir, `{ "<address>": <n> }`, written by
 * `turnpike gt rotate` and read when a job is submitted for a worker (`--worker`). An address
 * not in it is at rotation 0.
 *
 * @module
 */
import type { WorkerKeyRef } from "../../protocol/node_signer.ts";
import { checkWorkerAddress } from "../../identity/worker_key.ts";
import { writeFileAtomic } from "../../state/atomic_file.ts";

/**
 * The rotations on record, by address (none when the file is missing).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { readWorkerRotations } from "./worker_rotations.ts";
 *
 * const dir = await Deno.makeTempDir();
 * assert.deepEqual(await readWorkerRotations(dir), {});
 * await Deno.remove(dir, { recursive: true });
 * ```
 */
export async function readWorkerRotations(stateDir: string): Promise<Record<string, number>> {
  try {
    return JSON.parse(await Deno.readTextFile(`${stateDir}/gt/rotations.json`));
  } catch (err) {
    if (err instanceof Deno.errors.NotFound) return {};
    throw err;
  }
}

/**
 * The key `address` posts with now: its address checked and its current rotation.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { currentWorkerKey } from "./worker_rotations.ts";
 *
 * const dir = await Deno.makeTempDir();
 * const ref = await currentWorkerKey(dir, "myrig/polecats/p1");
 * assert.deepEqual(ref, { address: "myrig/polecats/p1", rotation: 0 });
 * await Deno.remove(dir, { recursive: true });
 * ```
 * @throws {WorkerAddressError} when `address` is not a Gas Town worker's.
 */
export async function currentWorkerKey(stateDir: string, address: string): Promise<WorkerKeyRef> {
  checkWorkerAddress(address);
  return { address, rotation: (await readWorkerRotations(stateDir))[address] ?? 0 };
}

/**
 * Records `address`'s rotation as `rotation` (`gt rotate`, once its revocation is out).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { currentWorkerKey, recordWorkerRotation } from "./worker_rotations.ts";
 *
 * const dir = await Deno.makeTempDir();
 * await recordWorkerRotation(dir, "mayor", 1);
 * assert.equal((await currentWorkerKey(dir, "mayor")).rotation, 1);
 * await Deno.remove(dir, { recursive: true });
 * ```
 */
export async function recordWorkerRotation(
  stateDir: string,
  address: string,
  rotation: number,
): Promise<void> {
  const rotations = await readWorkerRotations(stateDir);
  rotations[address] = rotation;
  await Deno.mkdir(`${stateDir}/gt`, { recursive: true });
  await writeFileAtomic(`${stateDir}/gt/rotations.json`, JSON.stringify(rotations, null, 2) + "\n");
}
