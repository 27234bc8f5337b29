/**
 * One key per Gas Town worker, derived from a profile's key (docs/PROTOCOL.md "Gas Town
 * workers"): a worker's address (`<rig>/polecats/<name>`, `<rig>/crew/<name>`, `mayor`) and its
 * rotation (0, then 1 after the first `gt rotate`...) give the same key at every start, and only
 * the profile's key gives it. Run where the key is: in the signer's worker
 * (identity/signer_request_answer.ts), never in the node's thread.
 *
 * HKDF-SHA256 (RFC 5869) of the profile's secret key, the salt {@linkcode WORKER_KEY_SALT} and the
 * info `<address>\n<rotation>`, 48 bytes read as a big-endian number, reduced mod (n - 1), plus 1:
 * the hash-to-scalar of FIPS 186-5 A.2.1, which needs no retry loop and is never zero. Not a
 * NIP-06 account index: that derivation needs the wallet's mnemonic (a profile imported with
 * `--import-key` has none, and the signer's worker holds only the key), and an address would have
 * to be hashed into 31 bits, where two addresses meet after ~2^16 of them.
 *
 * @module
 */
import { hkdf } from "@noble/hashes/hkdf.js";
import { sha256 } from "@noble/hashes/sha2.js";
import { secp256k1 } from "@noble/curves/secp256k1.js";
import { bytesToNumberBE, numberToBytesBE } from "@noble/curves/utils.js";
import { IdentityError } from "./identity_error.ts";
import type { WorkerKeyRef } from "../protocol/node_signer.ts";

/** The HKDF salt: names the derivation, so no other use of the profile's key yields these keys. */
export const WORKER_KEY_SALT = "turnpike/gt-worker/v1";

export type { WorkerKeyRef } from "../protocol/node_signer.ts";

/** Not a Gas Town worker address, or not a rotation. */
export class WorkerAddressError extends IdentityError {
  /** `"WorkerAddressError"`: explicit so it survives bundling and worker messages. */
  override name = "WorkerAddressError";
}

const NAME = "[A-Za-z0-9][A-Za-z0-9_.-]{0,63}";
const ADDRESS = new RegExp(`^(?:mayor|${NAME}/(?:polecats|crew)/${NAME})$`);

/**
 * `address` when it is a Gas Town worker's address (`<rig>/polecats/<name>`, `<rig>/crew/<name>`,
 * `mayor`).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { checkWorkerAddress } from "./worker_key.ts";
 *
 * assert.equal(checkWorkerAddress("myrig/polecats/p1"), "myrig/polecats/p1");
 * assert.throws(() => checkWorkerAddress("myrig/p1"));
 * ```
 * @throws {WorkerAddressError} when it is not one.
 */
export function checkWorkerAddress(address: string): string {
  if (!ADDRESS.test(address)) {
    throw new WorkerAddressError(
      `not a Gas Town worker address: ${JSON.stringify(address.slice(0, 80))} ` +
        "(<rig>/polecats/<name>, <rig>/crew/<name> or mayor)",
    );
  }
  return address;
}

/**
 * The secret key of `worker`, derived from `secretKey` (see the module doc).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { generateSecretKey } from "nostr-tools/pure";
 * import { deriveWorkerKey } from "./worker_key.ts";
 *
 * const profile = generateSecretKey();
 * const a = deriveWorkerKey(profile, { address: "myrig/polecats/p1", rotation: 0 });
 * assert.deepEqual(a, deriveWorkerKey(profile, { address: "myrig/polecats/p1", rotation: 0 }));
 * assert.notDeepEqual(a, deriveWorkerKey(profile, { address: "myrig/polecats/p1", rotation: 1 }));
 * ```
 * @throws {WorkerAddressError} when the address or the rotation is not one.
 */
export function deriveWorkerKey(secretKey: Uint8Array, worker: WorkerKeyRef): Uint8Array {
  checkWorkerAddress(worker.address);
  if (!Number.isSafeInteger(worker.rotation) || worker.rotation < 0) {
    throw new WorkerAddressError(`not a rotation: ${worker.rotation}`);
  }
  const info = new TextEncoder().encode(`${worker.address}\n${worker.rotation}`);
  const okm = hkdf(sha256, secretKey, new TextEncoder().encode(WORKER_KEY_SALT), info, 48);
  const n = secp256k1.Point.CURVE().n;
  return numberToBytesBE((bytesToNumberBE(okm) % (n - 1n)) + 1n, 32);
}
