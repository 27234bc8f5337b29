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
 * sameAddress("0xAbC0000000000000000000000000000000000001", "0xabc0000000000000000000000000000000000001"); // true
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
 * import { recoverTypedDataAddress } from "viem";
 *
 * declare const signed: Parameters<typeof recoverTypedDataAddress>[0];
 * declare const peer: `0x${string}`;
 * const mismatch = await signerMismatch(() => recoverTypedDataAddress(signed), peer);
 * if (mismatch !== undefined) throw new Error(describeSignerMismatch(mismatch, peer));
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
 * describeSignerMismatch({ why: "other-signer", signer: "0x01" }, "0x02"); // "the signature recovers to 0x01, not to 0x02"
 * ```
 */
export function describeSignerMismatch(mismatch: SignerMismatch, expected: string): string {
  return mismatch.why === "unreadable"
    ? mismatch.message
    : `the signature recovers to ${mismatch.signer}, not to ${expected}`;
}
