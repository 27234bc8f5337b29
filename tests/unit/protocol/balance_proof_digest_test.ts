import { assert, assertEquals } from "../../../harness/assert.ts";
import { bytesToHex } from "@noble/hashes/utils.js";
import { hashTypedData } from "viem";
import {
  TOKEN_NETWORK_TYPES,
  typedBalanceProofDigest,
} from "../../../protocol/balance_proof_digest.ts";

const hex = (n: number) => `0x${bytesToHex(crypto.getRandomValues(new Uint8Array(n)))}`;
const big = (bytes: number) => BigInt(hex(bytes));

/** A balance proof's typed data as chain/balance_proof.ts builds it, random fields. */
function claim() {
  return {
    domain: {
      name: "TokenNetwork",
      version: "1",
      chainId: Math.floor(Math.random() * 2 ** 40),
      verifyingContract: hex(20),
    },
    types: TOKEN_NETWORK_TYPES,
    primaryType: "BalanceProof",
    message: {
      channelId: hex(32),
      nonce: big(1 + Math.floor(Math.random() * 32)),
      transferredAmount: big(1 + Math.floor(Math.random() * 32)),
      lockedAmount: Math.random() < 0.5 ? 0n : big(8),
      locksRoot: Math.random() < 0.5 ? `0x${"00".repeat(32)}` : hex(32),
    },
  };
}

// deno-lint-ignore no-explicit-any -- viem's generic parameters: what it is asked to hash varies.
const viemDigest = (data: any): string | undefined => {
  try {
    return hashTypedData(data);
  } catch {
    return undefined;
  }
};

Deno.test("a claim's typed data: the fixed layout's digest is viem's, for 500 random claims", () => {
  for (let i = 0; i < 500; i++) {
    const data = claim();
    const digest = typedBalanceProofDigest(data);
    assert(digest !== undefined, "a claim is recognised");
    assertEquals(`0x${bytesToHex(digest)}`, viemDigest(data));
  }
  // The largest amounts too.
  const data = claim();
  const max = (1n << 256n) - 1n;
  data.message = { ...data.message, nonce: max, transferredAmount: max, lockedAmount: max };
  assertEquals(`0x${bytesToHex(typedBalanceProofDigest(data)!)}`, viemDigest(data));
});

Deno.test("typed data that is not exactly a claim is left to viem: never another digest", () => {
  const base = claim();
  const variants: unknown[] = [
    { ...base, primaryType: "Withdraw" },
    { ...base, domain: { ...base.domain, name: "Other" } },
    { ...base, domain: { ...base.domain, version: "2" } },
    { ...base, domain: { ...base.domain, salt: hex(32) } },
    { ...base, domain: { ...base.domain, chainId: BigInt(base.domain.chainId) } },
    { ...base, domain: { ...base.domain, chainId: -1 } },
    { ...base, domain: { ...base.domain, verifyingContract: hex(19) } },
    { ...base, types: { BalanceProof: TOKEN_NETWORK_TYPES.BalanceProof } },
    {
      ...base,
      types: { ...TOKEN_NETWORK_TYPES, EIP712Domain: [{ name: "name", type: "string" }] },
    },
    {
      ...base,
      types: {
        ...TOKEN_NETWORK_TYPES,
        BalanceProof: [...TOKEN_NETWORK_TYPES.BalanceProof].reverse(),
      },
    },
    { ...base, message: { ...base.message, nonce: 5 } },
    { ...base, message: { ...base.message, nonce: -1n } },
    { ...base, message: { ...base.message, nonce: 1n << 256n } },
    { ...base, message: { ...base.message, extra: 1n } },
    { ...base, message: { ...base.message, channelId: hex(31) } },
    { ...base, message: { ...base.message, locksRoot: "0x" } },
    { ...base, extra: true },
    null,
    "BalanceProof",
  ];
  for (const [i, v] of variants.entries()) {
    const digest = typedBalanceProofDigest(v);
    // Left to viem, or (a shape viem reads the same) the same digest as viem's.
    if (digest !== undefined) {
      assertEquals(`0x${bytesToHex(digest)}`, viemDigest(v), `variant ${i}`);
    }
  }
  // Most are refused outright: the check above is not vacuous.
  assert(variants.filter((v) => typedBalanceProofDigest(v) === undefined).length >= 17);
});
