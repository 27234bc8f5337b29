/**
 * Payment channel figures on a local anvil: claim sign and verify cost per packet (with the
 * BTP claim codec), compared with accepting a packet with no claim at all; the signature check
 * alone (viem recovery, noble recovery, verification against the peer's cached key); and the
 * time to open a channel (approve + open + deposit, each waited for its receipt).
 *
 * ```sh
 * deno run -A bench/channel_bench_script.ts [packets=1000] [opens=5]
 * ```
 */
import { localEvmAccount } from "../identity/local_evm_account.ts";
import { startChannelPair } from "../harness/anvil_channel_pair.ts";
import { ClaimSigner } from "../chain/claim_signer.ts";
import { ClaimVerifier } from "../chain/claim_verifier.ts";
import { decodeClaim, encodeClaim } from "../protocol/payment_channel_claim.ts";
import { fundAccount } from "../chain/anvil.ts";
import { generatePrivateKey, privateKeyToAccount, signTypedData } from "viem/accounts";
import { bytesToHex } from "viem";
import {
  recoverBalanceProofSigner,
  recoverBalanceProofSignerFast,
  recoverBalanceProofSignerKey,
  TOKEN_NETWORK_TYPES,
  tokenNetworkDomain,
  ZERO_BYTES32,
} from "../chain/balance_proof.ts";
import { BalanceProofSignerKey } from "../chain/balance_proof_signer_key.ts";

const packets = Number(Deno.args[0] ?? 1000);
const opens = Number(Deno.args[1] ?? 5);
await using pair = await startChannelPair({ tokens: 10n ** 15n });
const { alice, bob } = pair;
const { channelId } = await alice.openChannel({
  partner: bob.address,
  deposit: 10n ** 12n,
  settleTimeout: 600n,
});
const signer = new ClaimSigner({
  account: localEvmAccount(pair.aliceKey),
  chainId: 31337,
  tokenNetworkAddress: alice.tokenNetworkAddress,
  tokenAddress: alice.tokenAddress,
  channelId,
  deposit: 10n ** 12n,
});
const verifier = new ClaimVerifier({
  chainId: 31337,
  tokenNetworkAddress: bob.tokenNetworkAddress,
  tokenAddress: bob.tokenAddress,
  peerAddress: alice.address,
  selfAddress: bob.address,
  readChannel: (id) => bob.getChannel(id),
  creditLimit: 10n ** 12n,
});
const wires: Uint8Array[] = [];
let t = performance.now();
for (let i = 0; i < packets; i++) wires.push(encodeClaim(await signer.pay(100n)));
const signUs = (performance.now() - t) * 1000 / packets;
await verifier.accept(decodeClaim(wires[0]), 100n); // first claim reads the channel on chain
t = performance.now();
for (let i = 1; i < packets; i++) await verifier.accept(decodeClaim(wires[i]), 100n);
const verifyUs = (performance.now() - t) * 1000 / (packets - 1);
t = performance.now();
for (let i = 0; i < packets; i++) await verifier.accept(undefined, 1n);
const bareUs = (performance.now() - t) * 1000 / packets;
console.log(`packets: ${packets}, claim wire size: ${wires[0].length} bytes`);
console.log(
  `sign+encode per claim:   ${signUs.toFixed(1)} us  (${Math.round(1e6 / signUs)} claims/s)`,
);
console.log(
  `decode+verify per claim: ${verifyUs.toFixed(1)} us  (${Math.round(1e6 / verifyUs)} claims/s)`,
);
console.log(`accept without claim:    ${bareUs.toFixed(2)} us  (the alternative: credit only)`);
console.log(
  `claim overhead per packet (sign + verify): ${(signUs + verifyUs - bareUs).toFixed(1)} us`,
);
// The obvious alternative, same proofs: viem's generic EIP-712 sign and recover.
const domain = { chainId: 31337, verifyingContract: alice.tokenNetworkAddress };
const proofs = Array.from({ length: Math.min(packets, 300) }, (_, i) => ({
  channelId,
  nonce: BigInt(i + 1),
  transferredAmount: BigInt(i + 1) * 100n,
}));
const viemSigs: `0x${string}`[] = [];
t = performance.now();
for (const p of proofs) {
  viemSigs.push(
    await signTypedData({
      privateKey: bytesToHex(pair.aliceKey),
      domain: tokenNetworkDomain(domain),
      types: TOKEN_NETWORK_TYPES,
      primaryType: "BalanceProof",
      message: { ...p, lockedAmount: 0n, locksRoot: ZERO_BYTES32 },
    }),
  );
}
const viemSignUs = (performance.now() - t) * 1000 / proofs.length;
t = performance.now();
for (let i = 0; i < proofs.length; i++) {
  await recoverBalanceProofSigner(proofs[i], viemSigs[i], domain);
}
const viemRecoverUs = (performance.now() - t) * 1000 / proofs.length;
t = performance.now();
for (let i = 0; i < proofs.length; i++) {
  recoverBalanceProofSignerFast(proofs[i], viemSigs[i], domain);
}
const fastRecoverUs = (performance.now() - t) * 1000 / proofs.length;
// What the verifier does from the second claim on: verify against the peer's cached key.
t = performance.now();
const key = new BalanceProofSignerKey(
  recoverBalanceProofSignerKey(proofs[0], viemSigs[0], domain).publicKey,
);
key.verifies(proofs[0], viemSigs[0], domain); // builds the key's tables
const keySetupMs = performance.now() - t;
t = performance.now();
for (let i = 0; i < proofs.length; i++) {
  if (!key.verifies(proofs[i], viemSigs[i], domain)) throw new Error("valid proof refused");
}
const keyVerifyUs = (performance.now() - t) * 1000 / proofs.length;
console.log(
  `viem signTypedData: ${viemSignUs.toFixed(1)} us; viem recoverTypedDataAddress: ` +
    `${viemRecoverUs.toFixed(1)} us; fixed-layout digest + noble recover: ${
      fastRecoverUs.toFixed(1)
    } us; + verify against the cached key (tables): ${keyVerifyUs.toFixed(1)} us ` +
    `(${proofs.length} proofs; key setup once: ${keySetupMs.toFixed(1)} ms)`,
);

const times: number[] = [];
for (let i = 0; i < opens; i++) {
  const partner = privateKeyToAccount(generatePrivateKey()).address;
  await fundAccount({
    rpcUrl: pair.anvil.rpcUrl,
    tokenAddress: alice.tokenAddress,
    to: alice.address,
    tokens: 50_000_000n,
  });
  const start = performance.now();
  await alice.openChannel({ partner, deposit: 50_000_000n, settleTimeout: 600n });
  times.push(performance.now() - start);
}
times.sort((a, b) => a - b);
console.log(
  `open channel on anvil (approve+open+deposit, receipts waited), ${opens} runs: ` +
    `min ${times[0].toFixed(1)} ms, median ${times[Math.floor(opens / 2)].toFixed(1)} ms, max ${
      times[opens - 1].toFixed(1)
    } ms`,
);
