/**
 * Payment channel figures on a local anvil: claim sign and verify cost per packet (with the
 * BTP claim codec), compared with accepting a packet with no claim at all; and the time to
 * open a channel (approve + open + deposit, each waited for its receipt).
 *
 * ```sh
 * deno run -A bench/channel_bench_script.ts [packets=1000] [opens=5]
 * ```
 */
import { startChannelPair } from "../tests/support/anvil_channel_pair.ts";
import { ClaimSigner } from "../chain/claim_signer.ts";
import { ClaimVerifier } from "../chain/claim_verifier.ts";
import { decodeClaim, encodeClaim } from "../protocol/payment_channel_claim.ts";
import { fundAccount } from "../chain/anvil.ts";
import { generatePrivateKey, privateKeyToAccount } from "viem/accounts";

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
  secretKey: pair.aliceKey,
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
