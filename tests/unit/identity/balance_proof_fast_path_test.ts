/**
 * The hand-laid EIP-712 digest and the fast recovery agree with viem's generic
 * typed-data code (the reference) on random proofs, keys and domains.
 */
import { localEvmAccount } from "../../../identity/local_evm_account.ts";
import { assertEquals, assertThrows } from "../../../harness/assert.ts";
import { bytesToHex, hashTypedData } from "viem";
import { privateKeyToAccount, signTypedData } from "viem/accounts";
import {
  balanceProofDigest,
  BalanceProofSignatureError,
  recoverBalanceProofSigner,
  recoverBalanceProofSignerFast,
  signBalanceProof,
  TOKEN_NETWORK_TYPES,
  tokenNetworkDomain,
  ZERO_BYTES32,
} from "../../../chain/balance_proof.ts";

function randomHex(bytes: number): `0x${string}` {
  return bytesToHex(crypto.getRandomValues(new Uint8Array(bytes)));
}

function randomUint(): bigint {
  return BigInt(randomHex(1 + (crypto.getRandomValues(new Uint8Array(1))[0] % 32)));
}

Deno.test("balance proof: digest, signature and recovery agree with viem", async () => {
  for (let i = 0; i < 20; i++) {
    const secretKey = crypto.getRandomValues(new Uint8Array(32));
    const domain = { chainId: 1 + (i * 7919) % 100_000, verifyingContract: randomHex(20) };
    const proof = {
      channelId: randomHex(32),
      nonce: randomUint(),
      transferredAmount: randomUint(),
      lockedAmount: i % 2 === 0 ? 0n : randomUint(),
      locksRoot: i % 2 === 0 ? ZERO_BYTES32 : randomHex(32),
    };
    const typed = {
      domain: tokenNetworkDomain(domain),
      types: TOKEN_NETWORK_TYPES,
      primaryType: "BalanceProof" as const,
      message: { ...proof },
    };
    assertEquals(bytesToHex(balanceProofDigest(proof, domain)), hashTypedData(typed));
    const ours = await signBalanceProof(proof, { account: localEvmAccount(secretKey), domain });
    assertEquals(ours, await signTypedData({ ...typed, privateKey: bytesToHex(secretKey) }));
    const address = privateKeyToAccount(bytesToHex(secretKey)).address;
    assertEquals(await recoverBalanceProofSigner(proof, ours, domain), address);
    assertEquals(recoverBalanceProofSignerFast(proof, ours, domain), address.toLowerCase());
    const other = recoverBalanceProofSignerFast(
      { ...proof, nonce: proof.nonce + 1n },
      ours,
      domain,
    );
    assertEquals(other === address.toLowerCase(), false);
  }
});

Deno.test("balance proof: malformed and high-s signatures are refused", () => {
  const domain = { chainId: 31337, verifyingContract: randomHex(20) };
  const proof = { channelId: randomHex(32), nonce: 1n, transferredAmount: 1n };
  assertThrows(
    () => recoverBalanceProofSignerFast(proof, "0x1234", domain),
    BalanceProofSignatureError,
    "65 bytes",
  );
  const highS = `0x${"11".repeat(32)}${"ff".repeat(32)}1b` as const;
  assertThrows(
    () => recoverBalanceProofSignerFast(proof, highS, domain),
    BalanceProofSignatureError,
    "high half",
  );
  const badV = `0x${"11".repeat(32)}${"22".repeat(32)}05` as const;
  assertThrows(
    () => recoverBalanceProofSignerFast(proof, badV, domain),
    BalanceProofSignatureError,
    "v must be",
  );
});
