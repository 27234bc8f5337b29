/**
 * The cost of a packet forwarded between the processes of a town on one PostgreSQL store
 * (docs/OPERATIONS.md "A town on several machines", "Payments to a peer on another process"):
 * two town processes (real subprocesses, one database), bob (an ILP receiver) connected to
 * process A; the same payments to bob sent by a sender on A (local: one hop, A's books) and by a
 * sender on B (forwarded: B looks bob up in the database, posts the PREPARE to A's private
 * listener, A forwards it on its books). Sequential and with packets in flight, in alternating
 * rounds so load from other work falls on both alike.
 *
 *   deno run -A bench/town_process_forward_bench_script.ts [packets=1000] [inFlight=16] [rounds=2]
 *
 * @module
 */
import { generateSecretKey } from "nostr-tools";
import { startPostgresServer } from "../state/postgres/postgres_server.ts";
import { freshDatabase } from "../harness/postgres_database.ts";
import { startSharedTownProcess } from "../harness/shared_town_process.ts";
import { startIlpReceiver } from "../harness/ilp_receiver.ts";
import { BtpClient } from "../transport/btp_client.ts";
import { fulfillmentFor, importFulfillmentKey } from "../protocol/ilp_fulfillment.ts";
import type { IlpPrepare } from "../protocol/ilp_packet.ts";

const PACKETS = Number(Deno.args[0] ?? 1000);
const IN_FLIGHT = Number(Deno.args[1] ?? 16);
const ROUNDS = Number(Deno.args[2] ?? 2);
const SECRET = crypto.getRandomValues(new Uint8Array(32));
const KEY = await importFulfillmentKey(SECRET);

async function makePrepares(destination: string, count: number, run: string) {
  return await Promise.all(Array.from({ length: count }, async (_, i): Promise<IlpPrepare> => {
    const data = new TextEncoder().encode(`${run}-${i}-${"x".repeat(200)}`);
    const { condition } = await fulfillmentFor(KEY, data);
    return {
      amount: "100",
      destination,
      executionCondition: condition,
      expiresAt: new Date(Date.now() + 60_000),
      data,
    };
  }));
}

/** Sends `count` packets with `inFlight` at once; every latency in ms, and the wall time. */
async function run(client: BtpClient, count: number, inFlight: number, tag: string) {
  const prepares = await makePrepares("test.town.bob.bench", count, tag);
  const latencies: number[] = [];
  const rejects: Record<string, number> = {};
  let next = 0;
  const started = performance.now();
  await Promise.all(Array.from({ length: inFlight }, async () => {
    while (next < prepares.length) {
      const prepare = prepares[next++];
      const t0 = performance.now();
      const reply = await client.sendPrepare(prepare);
      latencies.push(performance.now() - t0);
      if (reply.type === "reject") rejects[reply.code] = (rejects[reply.code] ?? 0) + 1;
    }
  }));
  return { latencies, rejects, wallMs: performance.now() - started };
}

function figures(all: { latencies: number[]; rejects: Record<string, number>; wallMs: number }[]) {
  const sorted = all.flatMap((r) => r.latencies).sort((a, b) => a - b);
  const at = (p: number) => sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * p))];
  const wall = all.reduce((s, r) => s + r.wallMs, 0);
  const rejects: Record<string, number> = {};
  for (const r of all) {
    for (const [k, v] of Object.entries(r.rejects)) rejects[k] = (rejects[k] ?? 0) + v;
  }
  return {
    packets: sorted.length,
    p50: +at(0.5).toFixed(2),
    p99: +at(0.99).toFixed(2),
    perSecond: Math.round(sorted.length / (wall / 1000)),
    rejects,
  };
}

await using pg = await startPostgresServer();
const storeUrl = await freshDatabase(pg.url);
const secretKey = generateSecretKey();
await using a = await startSharedTownProcess({ storeUrl, secretKey });
await using b = await startSharedTownProcess({ storeUrl, secretKey });
const bob = await startIlpReceiver({
  url: `btp+ws://bob:t@127.0.0.1:${a.btpPort}`,
  authToken: "t",
  sharedSecret: SECRET,
});
const local = new BtpClient({ url: `btp+ws://alice-a:t@127.0.0.1:${a.btpPort}` });
const forwarded = new BtpClient({ url: `btp+ws://alice-b:t@127.0.0.1:${b.btpPort}` });
for (const c of [local, forwarded]) {
  await c.connect();
  await c.fetchIldcp();
}
const load = () => Deno.loadavg().map((l) => l.toFixed(2)).join(" ");
const loadBefore = load();
// Warm-up: connections, the JIT, the database's plans.
await run(local, 100, 4, "warm-local");
await run(forwarded, 100, 4, "warm-forwarded");
const modes: [string, BtpClient, number][] = [
  ["local, 1 in flight", local, 1],
  ["forwarded, 1 in flight", forwarded, 1],
  [`local, ${IN_FLIGHT} in flight`, local, IN_FLIGHT],
  [`forwarded, ${IN_FLIGHT} in flight`, forwarded, IN_FLIGHT],
];
const done: Record<string, Awaited<ReturnType<typeof run>>[]> = {};
for (let round = 0; round < ROUNDS; round++) {
  for (const [name, client, inFlight] of modes) {
    const r = await run(client, PACKETS, inFlight, `${name}-${round}`);
    (done[name] ??= []).push(r);
  }
}
console.log(`load average before: ${loadBefore}; after: ${load()}`);
console.log("| path | packets | p50 ms | p99 ms | packets/s | rejects |");
console.log("| ---- | ------- | ------ | ------ | --------- | ------- |");
for (const [name] of modes) {
  const f = figures(done[name]);
  console.log(
    `| ${name} | ${f.packets} | ${f.p50} | ${f.p99} | ${f.perSecond} | ${
      JSON.stringify(f.rejects)
    } |`,
  );
}
await local.close();
await forwarded.close();
await bob.close();
