/**
 * Paid writes with payment channel claims vs without, same shape as
 * bench/town_paid_writes_bench_script.ts: the town runs in its own process (the claim town of
 * harness/channel_crash_processes.ts: BTP server, claim gate, router, write pipeline,
 * SQLite file, channel file + git audit trail in its state dir), the paying client in this one,
 * a real channel on a fresh anvil per variant. Measured: one write at a time (p50/p99) and 64 in
 * flight (writes/s). Variants, in the same run: no claims (the peer is not checked: the
 * obvious alternative), one claim per packet, and claims that prepay ~16 writes (one signature
 * and one verification per ~16 packets). Events are signed before timing.
 *
 * Run: deno run -A bench/channel_paid_writes_bench_script.ts [sequential=300] [concurrent=2000]
 */
import { startChannelPair } from "../harness/anvil_channel_pair.ts";
import { connectClaimClient } from "../harness/channel_town.ts";
import { startTownProcess, townProcessArgs } from "../harness/channel_process.ts";
import { openPairChannel, savePairChannel } from "../harness/pair_channel.ts";
import type { NostrEvent } from "../protocol/nostr_event.ts";

const IN_FLIGHT = 64;

interface Variant {
  name: string;
  claims: boolean;
  prepay: bigint;
}

const VARIANTS: Variant[] = [
  { name: "no claims", claims: false, prepay: 0n },
  { name: "claim per packet", claims: true, prepay: 0n },
  { name: "claims prepaying ~16 writes", claims: true, prepay: 16n * 4_000n },
];

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * p))];
}

async function measure(variant: Variant, sequential: number, concurrent: number) {
  await using pair = await startChannelPair({ tokens: 10n ** 12n });
  const channel = await openPairChannel(pair, { deposit: 10n ** 11n });
  const townDir = await Deno.makeTempDir({ prefix: "chbench_town_" });
  const aliceDir = await Deno.makeTempDir({ prefix: "chbench_alice_" });
  await savePairChannel(channel, { townDir, aliceDir });
  const town = await startTownProcess(townProcessArgs(pair, {
    stateDir: townDir,
    channelId: channel.channelId,
    settle: variant.claims,
  }));
  const payer = await connectClaimClient({
    ...town.contact,
    stateDir: aliceDir,
    secretKey: pair.aliceKey,
    record: channel.aliceRecord,
    claims: variant.claims,
    prepay: variant.prepay,
  });
  const events = (n: number, tag: string): NostrEvent[] =>
    Array.from({ length: n }, (_, i) => payer.sign(`bench ${tag} ${i} `.padEnd(200, "x")));
  const send = async (event: NostrEvent) => {
    const { reply } = await payer.write(event);
    if (reply.type !== "fulfill") throw new Error(`rejected: ${reply.code} ${reply.message}`);
  };
  for (const e of events(200, "warm")) await send(e);
  const latencies: number[] = [];
  for (const e of events(sequential, "seq")) {
    const t0 = performance.now();
    await send(e);
    latencies.push(performance.now() - t0);
  }
  latencies.sort((a, b) => a - b);
  const conc = events(concurrent, "conc");
  let next = 0;
  const nonceBefore = payer.signer.nonce;
  const t0 = performance.now();
  await Promise.all(Array.from({ length: IN_FLIGHT }, async () => {
    while (next < conc.length) await send(conc[next++]);
  }));
  const perSecond = concurrent / ((performance.now() - t0) / 1000);
  const claims = payer.signer.nonce - nonceBefore;
  await payer.close();
  await town.process.stop();
  await Deno.remove(townDir, { recursive: true });
  await Deno.remove(aliceDir, { recursive: true });
  return {
    p50: percentile(latencies, 0.5),
    p99: percentile(latencies, 0.99),
    perSecond,
    claims,
  };
}

const sequential = Number(Deno.args[0] ?? 300);
const concurrent = Number(Deno.args[1] ?? 2000);
console.log(
  `${sequential} one at a time, ${concurrent} with ${IN_FLIGHT} in flight; ` +
    `${navigator.hardwareConcurrency} cores`,
);
for (const variant of VARIANTS) {
  const r = await measure(variant, sequential, concurrent);
  console.log(
    `${variant.name.padEnd(28)} p50 ${r.p50.toFixed(2)} ms  p99 ${r.p99.toFixed(2)} ms | ` +
      `${IN_FLIGHT} in flight: ${Math.round(r.perSecond)} writes/s, ${r.claims} claims`,
  );
}
