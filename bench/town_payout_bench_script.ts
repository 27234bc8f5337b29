/**
 * What the town's payouts to a provider cost (docs/OPERATIONS.md "Paying providers"): a real
 * town, requester and provider on anvil; `--jobs` paid invoices of `--price` base units go
 * requester -> town -> provider, the town pays at `--threshold` (default: the town's default,
 * 1 M2M) and the provider closes and settles. Prints the gas of each chain transaction of the
 * payout channel and, per payment, the time from the provider's FULFILL to the town's claim
 * covering it kept at the provider (p50, p99).
 *
 *   deno run -A bench/town_payout_bench_script.ts [--jobs 200] [--price 2500] [--threshold N]
 *
 * @module
 */
import { sha256 } from "@noble/hashes/sha2.js";
import { startChannelPair, startGasOnlyParty } from "../harness/anvil_channel_pair.ts";
import { claimTownConfig, claimTownContact, connectClaimClient } from "../harness/channel_town.ts";
import { openPairChannel, savePairChannel } from "../harness/pair_channel.ts";
import { increaseTime } from "../chain/anvil.ts";
import { localNodeSigner } from "../identity/local_node_signer.ts";
import { openChannelClaimGate } from "../roles/channels/btp_claim_gate.ts";
import { startTownNode } from "../roles/town/town_node.ts";
import { TownPayouts } from "../roles/town/channels/peer_payout.ts";
import { DEFAULT_TOWN_PAYOUTS } from "../config/town_settings.ts";
import { PayoutReceiver } from "../roles/channels/payout_receiver.ts";
import { BtpClient } from "../transport/btp_client.ts";
import { parseBenchFlags } from "./bench_flags.ts";

const flags = parseBenchFlags(Deno.args, {
  values: ["jobs", "price", "threshold", "deposit"],
  switches: [],
  usage:
    "Usage: deno run -A bench/town_payout_bench_script.ts [--jobs 200] [--price 2500] [--threshold N] [--deposit N]",
}).values;
const JOBS = Number(flags.jobs ?? 200);
const PRICE = BigInt(flags.price ?? 2500);
const THRESHOLD = BigInt(flags.threshold ?? DEFAULT_TOWN_PAYOUTS.threshold);
const DEPOSIT = BigInt(flags.deposit ?? DEFAULT_TOWN_PAYOUTS.maxOwed);

await using pair = await startChannelPair({ tokens: 1_000_000_000n });
const dir = await Deno.makeTempDir({ prefix: "payout_bench_" });
const { client: beta } = await startGasOnlyParty(pair);
const channel = await openPairChannel(pair, { deposit: PRICE * BigInt(JOBS) + 1_000_000n });
await savePairChannel(channel, { townDir: `${dir}/town`, aliceDir: `${dir}/alice` });
const gate = openChannelClaimGate({
  stateDir: `${dir}/town`,
  record: channel.townRecord,
  readChannel: (id) => pair.bob.getChannel(id),
  triggeredBy: () => "test.town",
});
const config = claimTownConfig({ stateDir: `${dir}/town` });
config.peers.push({ account: "beta", token: "beta-token" });
config.payouts = { ...DEFAULT_TOWN_PAYOUTS, maxOwed: DEPOSIT };
const hooks: { payouts?: TownPayouts } = {};
const town = await startTownNode({
  config,
  secretKey: pair.bobKey,
  databasePath: ":memory:",
  claimGate: (a) => a === "alice" ? gate : undefined,
  onOwed: (b) => hooks.payouts?.owed(b),
});
const payouts = hooks.payouts = new TownPayouts({
  stateDir: `${dir}/town`,
  ledger: town.ledger,
  signer: localNodeSigner(pair.bobKey),
  client: pair.bob,
  policy: { threshold: THRESHOLD, intervalMs: 3_600_000 },
  deposit: DEPOSIT,
  peerAddress: (a) => a === "beta" ? beta.address : undefined,
  send: (a, claim) => town.peer(a)!.sendClaim(claim, 10_000),
});
const fulfilledAt: number[] = [];
const keptAt: { amount: bigint; at: number }[] = [];
const receiver = new PayoutReceiver({
  stateDir: `${dir}/beta`,
  client: beta,
  townPubkey: town.pubkey,
  onKept: (r) => keptAt.push({ amount: r.received, at: performance.now() }),
});
const secrets = Array.from({ length: JOBS }, (_, n) => sha256(new TextEncoder().encode(`s${n}`)));
const byCondition = new Map(secrets.map((s) => [sha256(s).join(), s]));
const betaLink = new BtpClient({
  url: claimTownContact(town).url,
  authToken: "beta-token",
  reconnect: false,
  onPrepare: (p) => {
    fulfilledAt.push(performance.now());
    return {
      type: "fulfill",
      fulfillment: byCondition.get(p.executionCondition.join())!,
      data: new Uint8Array(0),
    };
  },
  onClaim: async (c) => void await receiver.take(c),
});
await betaLink.connect();
const alice = await connectClaimClient({
  ...claimTownContact(town),
  stateDir: `${dir}/alice`,
  secretKey: pair.aliceKey,
  record: channel.aliceRecord,
});
const firstBlock = await pair.bob.publicClient.getBlockNumber();
for (const secret of secrets) {
  await alice.client.sendPrepare({
    destination: "test.town.beta",
    amount: String(PRICE),
    executionCondition: sha256(secret),
    expiresAt: new Date(Date.now() + 30_000),
    data: new Uint8Array(0),
  });
}
await payouts.payNow("beta"); // the interval's payout of what is left under the threshold
const deadline = Date.now() + 60_000;
const owed = town.ledger.balance("beta").owed;
while ((keptAt.at(-1)?.amount ?? 0n) < owed && Date.now() < deadline) {
  await new Promise((r) => setTimeout(r, 10));
}
// Time from each FULFILL to the first claim kept that covers it.
const waits = fulfilledAt.map((at, i) => {
  const covered = keptAt.find((k) => k.amount >= PRICE * BigInt(i + 1));
  return covered ? covered.at - at : NaN;
}).sort((a, b) => a - b);
const pct = (p: number) =>
  waits[Math.min(waits.length - 1, Math.floor(p * waits.length))].toFixed(1);
const gasOf = async (hash: `0x${string}`) =>
  (await pair.bob.publicClient.getTransactionReceipt({ hash })).gasUsed;
const payoutId = town.ledger.balance("beta").payoutChannel as `0x${string}`;
const record = (await receiver.records())[0];
const townFile = await payouts.payout("beta").then((p) => p!.record());
// Every transaction of the town's while it paid: approve, open, deposit (the town pays the gas).
let openGas = 0n;
const lastBlock = await pair.bob.publicClient.getBlockNumber();
for (let n = firstBlock + 1n; n <= lastBlock; n++) {
  const block = await pair.bob.publicClient.getBlock({ blockNumber: n, includeTransactions: true });
  for (const tx of block.transactions) {
    if (tx.from.toLowerCase() === pair.bob.address.toLowerCase()) openGas += await gasOf(tx.hash);
  }
}
const townTxs = townFile.openTx ? "approve + openChannel + setTotalDeposit" : "?";
const closeGas = await gasOf(
  await beta.closeChannel(payoutId, {
    nonce: record.receivedNonce,
    transferredAmount: record.received,
    signature: record.receivedSignature!,
  }),
);
await increaseTime(pair.anvil.rpcUrl, 601);
const settleGas = await gasOf(await beta.settleChannel(payoutId));
const claims = keptAt.length;
console.log(JSON.stringify(
  {
    jobs: JOBS,
    price: String(PRICE),
    threshold: String(THRESHOLD),
    deposit: String(DEPOSIT),
    claims,
    owed: String(owed),
    paidOnChain: String(await beta.tokenBalance()),
    gas: {
      townOpens: townTxs,
      openAndDeposit: String(openGas),
      close: String(closeGas),
      settle: String(settleGas),
      perJobThisRun: (Number(openGas + closeGas + settleGas) / JOBS).toFixed(1),
      jobsPerChannelAtThisPrice: String(DEPOSIT / PRICE),
      perJobOverTheChannel: (Number(openGas + closeGas + settleGas) / Number(DEPOSIT / PRICE))
        .toFixed(2),
    },
    fulfillToClaimKeptMs: { p50: pct(0.5), p99: pct(0.99) },
  },
  null,
  2,
));
await alice.close();
await betaLink.close();
await payouts.close();
await town.stop();
await Deno.remove(dir, { recursive: true });
