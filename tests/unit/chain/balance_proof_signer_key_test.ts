/**
 * Differential: the per-claim check against a cached signer key ({@linkcode BalanceProofSignerKey},
 * ECDSA verification from tables) accepts exactly what recovery
 * ({@linkcode recoverBalanceProofSignerFast} + address compare) accepts, on random proofs, keys
 * and domains, for valid signatures, other keys, tampered fields, high-s, wrong and invalid v,
 * out-of-range and random r/s, and a signature valid only modulo n (R.x = r + n). Then the
 * ClaimVerifier on top: the key is cached only from a claim of the peer.
 */
import { localEvmAccount } from "../../../identity/local_evm_account.ts";
import { assert, assertEquals, assertRejects, assertThrows } from "../../../harness/assert.ts";
import { secp256k1 } from "@noble/curves/secp256k1.js";
import { bytesToHex, hexToBytes } from "viem";
import { privateKeyToAccount } from "viem/accounts";
import {
  type BalanceProof,
  balanceProofDigest,
  BalanceProofSignatureError,
  recoverBalanceProofSignerFast,
  recoverBalanceProofSignerKey,
  signBalanceProof,
  type TokenNetworkDomain,
} from "../../../chain/balance_proof.ts";
import { BalanceProofSignerKey } from "../../../chain/balance_proof_signer_key.ts";
import { loadNativeEcdsaRecover } from "../../../chain/native_ecdsa_recover.ts";
import { ClaimVerifier } from "../../../chain/claim_verifier.ts";
import { signClaim } from "../../../chain/claim_signer.ts";
import { ClaimError } from "../../../protocol/payment_channel_claim.ts";
import type { OnChainChannel } from "../../../chain/token_network_client.ts";

const N = secp256k1.Point.Fn.ORDER;
type Outcome = "accept" | "refuse" | "throw";

function randomHex(bytes: number): `0x${string}` {
  return bytesToHex(crypto.getRandomValues(new Uint8Array(bytes)));
}

function randomUint(): bigint {
  return BigInt(randomHex(1 + (crypto.getRandomValues(new Uint8Array(1))[0] % 32)));
}

function hex32(n: bigint): string {
  return n.toString(16).padStart(64, "0");
}

function sigOf(r: bigint, s: bigint, v: number): `0x${string}` {
  return `0x${hex32(r)}${hex32(s)}${v.toString(16).padStart(2, "0")}`;
}

function parts(sig: `0x${string}`): { r: bigint; s: bigint; v: number } {
  const b = hexToBytes(sig);
  return {
    r: BigInt(bytesToHex(b.subarray(0, 32))),
    s: BigInt(bytesToHex(b.subarray(32, 64))),
    v: b[64],
  };
}

function byRecovery(
  address: string,
  proof: BalanceProof,
  sig: `0x${string}`,
  domain: TokenNetworkDomain,
): Outcome {
  try {
    return recoverBalanceProofSignerFast(proof, sig, domain) === address ? "accept" : "refuse";
  } catch (err) {
    if (err instanceof BalanceProofSignatureError) return "throw";
    throw err;
  }
}

function byKey(
  key: BalanceProofSignerKey,
  proof: BalanceProof,
  sig: `0x${string}`,
  domain: TokenNetworkDomain,
): Outcome {
  try {
    return key.verifies(proof, sig, domain) ? "accept" : "refuse";
  } catch (err) {
    if (err instanceof BalanceProofSignatureError) return "throw";
    throw err;
  }
}

/** Same acceptance; a refusal may be a throw on one side (r = 0, R off the curve). */
function agree(
  key: BalanceProofSignerKey,
  proof: BalanceProof,
  sig: `0x${string}`,
  domain: TokenNetworkDomain,
  expected: "accept" | "refuse",
  label: string,
): void {
  const a = byRecovery(key.address, proof, sig, domain);
  assertEquals(a === "accept", expected === "accept", `recovery, ${label}: ${a}`);
  for (const [name, k] of [["signer key", key], ["its tables twin", twins.get(key)!]] as const) {
    const b = byKey(k, proof, sig, domain);
    assertEquals(b === "accept", expected === "accept", `${name}, ${label}: ${b}`);
  }
}

/** Each key's twin checking with @noble/curves' tables (`native: false`). */
const twins = new Map<BalanceProofSignerKey, BalanceProofSignerKey>();

/** A key (libsecp256k1 where it loads) and its twin on @noble/curves' tables. */
function signerKey(publicKey: Uint8Array, windowSize?: number): BalanceProofSignerKey {
  const key = new BalanceProofSignerKey(publicKey, { windowSize });
  twins.set(key, new BalanceProofSignerKey(publicKey, { windowSize, native: false }));
  return key;
}

/** Refused before any math, by both, with the same error class. */
function bothThrow(
  key: BalanceProofSignerKey,
  proof: BalanceProof,
  sig: `0x${string}`,
  domain: TokenNetworkDomain,
  label: string,
): void {
  assertEquals(byRecovery(key.address, proof, sig, domain), "throw", `recovery, ${label}`);
  assertEquals(byKey(key, proof, sig, domain), "throw", `signer key, ${label}`);
  assertEquals(byKey(twins.get(key)!, proof, sig, domain), "throw", `tables twin, ${label}`);
}

Deno.test("signer key: the system's libsecp256k1 loads where FFI is allowed", () => {
  // `deno task setup` installs Debian's libsecp256k1-1 (tools/system_packages.ts); tests run with -A.
  assert(loadNativeEcdsaRecover() !== null, "not loaded: apt-get install libsecp256k1-1");
});

Deno.test("signer key: accepts exactly what recovery accepts (random proofs and signatures)", async () => {
  for (let i = 0; i < 24; i++) {
    const secretKey = crypto.getRandomValues(new Uint8Array(32));
    const otherKey = crypto.getRandomValues(new Uint8Array(32));
    const domain = { chainId: 1 + (i * 7919) % 100_000, verifyingContract: randomHex(20) };
    const proof = {
      channelId: randomHex(32),
      nonce: randomUint(),
      transferredAmount: randomUint(),
    };
    const sig = await signBalanceProof(proof, { account: localEvmAccount(secretKey), domain });
    const recovered = recoverBalanceProofSignerKey(proof, sig, domain);
    const key = signerKey(recovered.publicKey, 4 + (i % 7));
    assertEquals(key.address, privateKeyToAccount(bytesToHex(secretKey)).address.toLowerCase());
    assertEquals(recovered.address, key.address);
    const { r, s, v } = parts(sig);

    agree(key, proof, sig, domain, "accept", "valid");
    agree(key, proof, sigOf(r, s, v - 27), domain, "accept", "valid, v as 0/1");
    const other = await signBalanceProof(proof, { account: localEvmAccount(otherKey), domain });
    agree(key, proof, other, domain, "refuse", "other key");
    agree(key, { ...proof, nonce: proof.nonce + 1n }, sig, domain, "refuse", "nonce tampered");
    agree(
      key,
      { ...proof, transferredAmount: proof.transferredAmount + 1n },
      sig,
      domain,
      "refuse",
      "amount tampered",
    );
    agree(key, { ...proof, channelId: randomHex(32) }, sig, domain, "refuse", "channel tampered");
    agree(key, proof, sig, { ...domain, chainId: domain.chainId + 1 }, "refuse", "chain tampered");
    agree(key, proof, sig, { ...domain, verifyingContract: randomHex(20) }, "refuse", "contract");
    agree(key, proof, sigOf(r, s, v === 27 ? 28 : 27), domain, "refuse", "wrong v");
    agree(key, proof, sigOf(r, s, v === 27 ? 1 : 0), domain, "refuse", "wrong v as 0/1");
    agree(key, proof, sigOf(0n, s, v), domain, "refuse", "r = 0");
    agree(key, proof, sigOf(r, 0n, v), domain, "refuse", "s = 0");
    agree(key, proof, sigOf(N, s, v), domain, "refuse", "r = n");
    agree(key, proof, sigOf(r + N < 2n ** 256n ? r + N : r - 1n, s, v), domain, "refuse", "r+n");
    agree(key, proof, sigOf(BigInt(randomHex(32)), s, v), domain, "refuse", "random r");
    agree(key, proof, sigOf(r, BigInt(randomHex(31)), v), domain, "refuse", "random low s");
    // Valid ECDSA math, refused by the contract's rule: the high-s twin, either v.
    bothThrow(key, proof, sigOf(r, N - s, v === 27 ? 28 : 27), domain, "high-s twin");
    bothThrow(key, proof, sigOf(r, N - s, v), domain, "high-s");
    for (const bad of [2, 26, 29, 255]) bothThrow(key, proof, sigOf(r, s, bad), domain, `v ${bad}`);
    bothThrow(key, proof, sig.slice(0, 130) as `0x${string}`, domain, "64 bytes");
    bothThrow(key, proof, `${sig}00`, domain, "66 bytes");
    bothThrow(key, { ...proof, channelId: "0x1234" }, sig, domain, "short channel id");
  }
});

Deno.test("signer key: a signature valid only modulo n (R.x = r + n) is refused by both", () => {
  const domain = { chainId: 31337, verifyingContract: randomHex(20) };
  const proof = { channelId: randomHex(32), nonce: 7n, transferredAmount: 4_000n };
  // Smallest r whose r + n is an x coordinate on the curve.
  let r = 1n;
  let R: InstanceType<typeof secp256k1.Point> | undefined;
  for (; R === undefined; r++) {
    try {
      R = secp256k1.Point.fromBytes(hexToBytes(`0x02${hex32(r + N)}`));
    } catch {
      // not on the curve: next
    }
  }
  r--;
  const s = BigInt(randomHex(31)) + 1n;
  const e = BigInt(bytesToHex(balanceProofDigest(proof, domain))) % N;
  // Q = r^-1 (sR - eG): a key for which (r, s) is a valid ECDSA signature modulo n.
  const ir = secp256k1.Point.Fn.inv(r);
  const Q = secp256k1.Point.BASE.multiply((N - e) * ir % N).add(R.multiply(s * ir % N));
  const compact = hexToBytes(`0x${hex32(r)}${hex32(s)}`);
  const digest = balanceProofDigest(proof, domain);
  assert(
    secp256k1.verify(compact, digest, Q.toBytes(), { prehash: false }),
    "the constructed signature is valid ECDSA modulo n",
  );
  const key = signerKey(Q.toBytes(false));
  for (const v of [27, 28]) {
    agree(key, proof, sigOf(r, s, v), domain, "refuse", `R.x = r + n, v ${v}`);
  }
});

function mockReadChannel(peer: `0x${string}`, self: `0x${string}`) {
  return (channelId: `0x${string}`): Promise<OnChainChannel> =>
    Promise.resolve({
      channelId,
      state: "opened",
      participant1: peer,
      participant2: self,
      settleTimeout: 600n,
      settleAt: 0n,
      closer: `0x${"00".repeat(20)}`,
      participants: {
        [peer.toLowerCase()]: {
          deposit: 10n ** 9n,
          transferredAmount: 0n,
          nonce: 0n,
          withdrawn: 0n,
        },
        [self.toLowerCase()]: { deposit: 0n, transferredAmount: 0n, nonce: 0n, withdrawn: 0n },
      },
    });
}

Deno.test("claim verifier: the peer's key is cached only from the peer's claim; later checks agree", async () => {
  const peerKey = crypto.getRandomValues(new Uint8Array(32));
  const strangerKey = crypto.getRandomValues(new Uint8Array(32));
  const peer = privateKeyToAccount(bytesToHex(peerKey)).address;
  const self = privateKeyToAccount(bytesToHex(strangerKey)).address;
  const base = {
    chainId: 31337,
    tokenNetworkAddress: randomHex(20),
    tokenAddress: randomHex(20),
    channelId: randomHex(32),
  };
  const verifier = new ClaimVerifier({
    ...base,
    peerAddress: peer,
    selfAddress: self,
    readChannel: mockReadChannel(peer, self),
  });
  const bad = (claim: Parameters<ClaimVerifier["accept"]>[0], amount: bigint) =>
    assertRejects(() => verifier.accept(claim, amount), ClaimError, "bad-signature");
  // A stranger's claim first: refused, and its key must not become the one checked against.
  await bad(
    await signClaim({
      ...base,
      account: localEvmAccount(strangerKey),
      nonce: 1n,
      transferredAmount: 10n,
    }),
    10n,
  );
  await bad(
    await signClaim({
      ...base,
      account: localEvmAccount(strangerKey),
      nonce: 1n,
      transferredAmount: 10n,
    }),
    10n,
  );
  await verifier.accept(
    await signClaim({
      ...base,
      account: localEvmAccount(peerKey),
      nonce: 1n,
      transferredAmount: 10n,
    }),
    10n,
  );
  // From here on the cached key decides.
  await bad(
    await signClaim({
      ...base,
      account: localEvmAccount(strangerKey),
      nonce: 2n,
      transferredAmount: 20n,
    }),
    10n,
  );
  const good = await signClaim({
    ...base,
    account: localEvmAccount(peerKey),
    nonce: 2n,
    transferredAmount: 20n,
  });
  const { r, s, v } = parts(good.signature);
  await bad({ ...good, signature: sigOf(r, s, v === 27 ? 28 : 27) }, 10n);
  await bad({ ...good, transferredAmount: 30n }, 10n);
  await bad({ ...good, signature: sigOf(r, N - s, v === 27 ? 28 : 27) }, 10n);
  assertEquals(verifier.book(base.channelId)?.nonce, 1n);
  await verifier.accept({ ...good, signature: sigOf(r, s, v - 27) }, 10n);
  assertEquals(verifier.book(base.channelId)?.claimed, 20n);
  assertThrows(() => new BalanceProofSignerKey(new Uint8Array(65)), Error);
});
