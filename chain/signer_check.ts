/**
 * Whether an EVM signature is the expected signer's: one check for every place a channel peer's
 * signature is taken (cosigned closes and withdrawals, claims), so each refuses for the same
 * reasons. Addresses compare case-insensitively (EIP-55 checksums are only a spelling).
 *
 * @module
 */

/**
 * Whether two EVM addresses are the same account.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { sameAddress } from "./signer_check.ts";
 *
 * const address = "0xAbC0000000000000000000000000000000000001";
 * assert(sameAddress(address, address.toLowerCase()));
 * ```
 */
export function sameAddress(a: string, b: string): boolean {
  return a.toLowerCase() === b.toLowerCase();
}

/** Why a signature is not the expected signer's. */
export type SignerMismatch =
  | { why: "unreadable"; message: string }
  | { why: "other-signer"; signer: string };

/**
 * Recovers a signature's signer and compares it with `expected`: undefined when they match, else
 * why not (a signature that does not parse, or another signer).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { recoverTypedDataAddress } from "viem";
 * import { generatePrivateKey, privateKeyToAccount } from "viem/accounts";
 * import { signerMismatch } from "./signer_check.ts";
 *
 * const peer = privateKeyToAccount(generatePrivateKey());
 * const typed = {
 *   domain: { name: "Example", version: "1", chainId: 31337 },
 *   types: { Ping: [{ name: "n", type: "uint256" }] },
 *   primaryType: "Ping",
 *   message: { n: 1n },
 * } as const;
 * const signed = { ...typed, signature: await peer.signTypedData(typed) };
 * const recover = () => recoverTypedDataAddress(signed);
 * assert.equal(await signerMismatch(recover, peer.address), undefined);
 * const other = privateKeyToAccount(generatePrivateKey()).address;
 * const mismatch = await signerMismatch(recover, other);
 * assert.equal(mismatch?.why, "other-signer");
 * ```
 */
export async function signerMismatch(
  recover: () => Promise<string>,
  expected: string,
): Promise<SignerMismatch | undefined> {
  let signer: string;
  try {
    signer = await recover();
  } catch (err) {
    // viem throws its own errors for signatures that do not parse.
    if (!(err instanceof Error)) throw err;
    return { why: "unreadable", message: err.message };
  }
  return sameAddress(signer, expected) ? undefined : { why: "other-signer", signer };
}

/**
 * The mismatch as a sentence for a refusal; `expected` names who should have signed.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { describeSignerMismatch } from "./signer_check.ts";
 *
 * const text = describeSignerMismatch({ why: "other-signer", signer: "0x01" }, "0x02");
 * assert.equal(text, "the signature recovers to 0x01, not to 0x02");
 * ```
 */
export function describeSignerMismatch(mismatch: SignerMismatch, expected: string): string {
  return mismatch.why === "unreadable"
    ? mismatch.message
    : `the signature recovers to ${mismatch.signer}, not to ${expected}`;
}
