/**
 * Which TokenNetwork contracts are safe to take money on (chain/contracts/TokenNetwork.sol's
 * `VERSION`; docs/OPERATIONS.md "Payment channels").
 *
 * @module
 */

/**
 * The first TokenNetwork version that takes only a partner's balance proof: on an older one (no
 * `VERSION`, read as 0) a payer closes with a proof it signed itself and takes back what it
 * paid, so no node opens a channel or takes a claim there.
 *
 * @example
 * ```ts
 * import { SAFE_TOKEN_NETWORK_VERSION } from "./token_network_version.ts";
 * import assert from "node:assert/strict";
 * assert.ok(0n < SAFE_TOKEN_NETWORK_VERSION); // the first contract (no VERSION: 0) is refused
 * ```
 */
export const SAFE_TOKEN_NETWORK_VERSION = 2n;
