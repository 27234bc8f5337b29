/**
 * The viem account of a key kept on the calling thread, for code that has only the chain side to
 * do (tests, benchmarks, dev tools). Kept apart from `identity/local_node_signer.ts` so that a
 * node (which signs through its `NodeSigner`) does not load viem's accounts module
 * (docs/OPERATIONS.md "Memory").
 *
 * @module
 */
import { bytesToHex } from "@noble/hashes/utils.js";
import { type LocalAccount, privateKeyToAccount } from "viem/accounts";

const accounts = new WeakMap<Uint8Array, LocalAccount>();

/**
 * The viem account of `secretKey`: what a local `NodeSigner`'s `evm` signs as.
 *
 * @example
 * ```ts
 * import { generateSecretKey } from "nostr-tools";
 *
 * const account = localEvmAccount(generateSecretKey());
 * console.log(account.address);
 * ```
 */
export function localEvmAccount(secretKey: Uint8Array): LocalAccount {
  let account = accounts.get(secretKey);
  if (account === undefined) {
    account = privateKeyToAccount(`0x${bytesToHex(secretKey)}`);
    accounts.set(secretKey, account);
  }
  return account;
}
