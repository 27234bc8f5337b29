/**
 * A town on several processes: paid writes end to end (BTP on loopback -> verify -> price ->
 * store -> FULFILL) for SQLite on one process against PostgreSQL (a private server, same
 * machine) on 1, 2 and 3 processes sharing one address (SO_REUSEPORT), with 64 and 512 writes
 * in flight over 8 client connections (the kernel spreads connections, not writes, over the
 * processes); per run writes/s and the p50/p99 latency of a write under that load. Then the
 * live push across processes (write through A, subscription on B): p50/p99 from the FULFILL
 * to the event on B. RSS of each town process at start, idle after a warm-up, and its peak
 * under load. CPU per write of the town processes together and of the PostgreSQL server (the
 * postmaster and every backend, exited ones included) over each run, from /proc: on one machine
 * they share the same cores, and the sum is what a write costs the machine. Every town and the
 * server run in their own processes; events are signed and their PREPAREs built before timing.
 *
 * Run: deno run -A bench/town_shared_store_bench_script.ts [writes=3000] [pushes=300]
 * (TOWN_BENCH_VERIFIER_WORKERS=0 verifies signatures on each town's main thread;
 * TOWN_BENCH_ONLY=postgres skips the SQLite scenario and the live push, TOWN_BENCH_IN_FLIGHT=64
 * runs only that load).
 */
import { freePort } from "../harness/free_port.ts";
import { generateSecretKey, getPublicKey } from "nostr-tools";
import { buildPaidWrite } from "../roles/town_client/spsp_handshake.ts";
import type { IlpPrepare } from "../protocol/ilp_packet.ts";
import { startPostgresServer } from "../state/postgres/postgres_server.ts";
import { freshDatabase } from "../harness/postgres_database.ts";
import { type SharedTownProcess, startSharedTownProcess } from "../harness/shared_town_process.ts";
import { connectPayingClient, type PayingClient } from "../harness/town_test_node.ts";

const CONNECTIONS = 8;
/** TOWN_BENCH_VERIFIER_WORKERS=<n>: the towns' signature-verifying workers (default theirs). */
const verifierWorkers = Deno.env.get("TOWN_BENCH_VERIFIER_WORKERS") === undefined
  ? undefined
  : Number(Deno.env.get("TOWN_BENCH_VERIFIER_WORKERS"));
const TOWN = "test.town";

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * p))];
}

async function rssMiB(pid: number): Promise<number> {
  const status = await Deno.readTextFile(`/proc/${pid}/status`);
  return Number(/VmRSS:\s+(\d+)/.exec(status)![1]) / 1024;
}

/** CPU seconds (user + system, all threads) of a process; with `children`, its reaped ones too. */
async function cpuSeconds(pid: number, children = false): Promise<number> {
  const stat = await Deno.readTextFile(`/proc/${pid}/stat`).catch(() => "");
  if (stat === "") return 0;
  const f = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  const ticks = Number(f[11]) + Number(f[12]) + (children ? Number(f[13]) + Number(f[14]) : 0);
  return ticks / 100;
}

/** CPU seconds of the PostgreSQL server: its postmaster (with reaped backends) and live children. */
async function postgresCpuSeconds(dataDir: string | undefined): Promise<number> {
  if (dataDir === undefined) return 0;
  const pid = Number((await Deno.readTextFile(`${dataDir}/postmaster.pid`)).split("\n")[0]);
  let total = await cpuSeconds(pid, true);
  for await (const e of Deno.readDir("/proc")) {
    if (!/^\d+$/.test(e.name)) continue;
    const stat = await Deno.readTextFile(`/proc/${e.name}/stat`).catch(() => "");
    const ppid = Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]);
    if (ppid === pid) total += await cpuSeconds(Number(e.name));
  }
  return total;
}

async function loadAverage(): Promise<string> {
  return (await Deno.readTextFile("/proc/loadavg")).split(" ")[0];
}

async function prepared(client: PayingClient, n: number): Promise<IlpPrepare[]> {
  const out: IlpPrepare[] = [];
  for (let i = 0; i < n; i++) {
    const event = client.sign({ content: `bench ${i} `.padEnd(200, "x") });
    out.push(
      (await buildPaidWrite({ event, grant: client.grant, pricePerByte: 10n, expiryMs: 240_000 }))
        .prepare,
    );
  }
  return out;
}

interface RunResult {
  perSecond: number;
  p50: number;
  p99: number;
  rssPeak: number[];
  /** CPU ms per write: the town processes together, and the PostgreSQL server. */
  townCpuMs: number;
  postgresCpuMs: number;
}

async function run(
  towns: SharedTownProcess[],
  btpPort: number,
  inFlight: number,
  writes: number,
  townPubkey: string,
  pgDataDir?: string,
): Promise<RunResult> {
  const clients: PayingClient[] = await Promise.all(
    Array.from({ length: CONNECTIONS }, (_, i) =>
      connectPayingClient({
        url: `btp+ws://127.0.0.1:${btpPort}`,
        token: `c${i}`,
        townAddress: TOWN,
        townPubkey,
      })),
  );
  const per = Math.ceil(writes / CONNECTIONS);
  const queues = await Promise.all(clients.map((c) => prepared(c, per)));
  const latencies: number[] = [];
  const rssPeak = towns.map(() => 0);
  let sampling = true;
  const sampler = (async () => {
    while (sampling) {
      for (let i = 0; i < towns.length; i++) {
        rssPeak[i] = Math.max(rssPeak[i], await rssMiB(towns[i].pid).catch(() => 0));
      }
      await new Promise((r) => setTimeout(r, 100));
    }
  })();
  const townCpu = async () =>
    (await Promise.all(towns.map((t) => cpuSeconds(t.pid)))).reduce((a, b) => a + b, 0);
  const townCpu0 = await townCpu();
  const pgCpu0 = await postgresCpuSeconds(pgDataDir);
  const t0 = performance.now();
  await Promise.all(clients.map(async (client, c) => {
    const queue = queues[c];
    let next = 0;
    await Promise.all(Array.from({ length: Math.max(1, inFlight / CONNECTIONS) }, async () => {
      while (next < queue.length) {
        const p = queue[next++];
        const s = performance.now();
        const reply = await client.client.sendPrepare(p);
        if (reply.type !== "fulfill") throw new Error(`rejected: ${reply.code} ${reply.message}`);
        latencies.push(performance.now() - s);
      }
    }));
  }));
  const seconds = (performance.now() - t0) / 1000;
  const townCpuMs = (await townCpu() - townCpu0) * 1000 / latencies.length;
  const postgresCpuMs = (await postgresCpuSeconds(pgDataDir) - pgCpu0) * 1000 / latencies.length;
  sampling = false;
  await sampler;
  await Promise.all(clients.map((c) => c.close()));
  latencies.sort((a, b) => a - b);
  return {
    perSecond: latencies.length / seconds,
    p50: percentile(latencies, 0.5),
    p99: percentile(latencies, 0.99),
    rssPeak,
    townCpuMs,
    postgresCpuMs,
  };
}

async function scenario(
  name: string,
  processes: number,
  storeUrl: string | undefined,
  writes: number,
  pgDataDir?: string,
): Promise<void> {
  const key = generateSecretKey();
  const httpPort = freePort();
  const btpPort = freePort();
  const towns: SharedTownProcess[] = [];
  for (let i = 0; i < processes; i++) {
    towns.push(
      await startSharedTownProcess({
        storeUrl,
        secretKey: key,
        httpPort,
        btpPort,
        verifierWorkers,
      }),
    );
  }
  try {
    await new Promise((r) => setTimeout(r, 1000));
    const fresh = await Promise.all(towns.map((t) => rssMiB(t.pid)));
    // Warm-up: JIT, caches, pools, workers.
    await run(towns, btpPort, 64, 800, getPublicKey(key));
    await new Promise((r) => setTimeout(r, 1000));
    const idle = await Promise.all(towns.map((t) => rssMiB(t.pid)));
    const loads = Deno.env.get("TOWN_BENCH_IN_FLIGHT")
      ? [Number(Deno.env.get("TOWN_BENCH_IN_FLIGHT"))]
      : [64, 512];
    for (const inFlight of loads) {
      const r = await run(towns, btpPort, inFlight, writes, getPublicKey(key), pgDataDir);
      console.log(
        `${name.padEnd(22)} ${String(inFlight).padStart(3)} in flight: ` +
          `${Math.round(r.perSecond)} writes/s, p50 ${r.p50.toFixed(1)} ms, p99 ` +
          `${r.p99.toFixed(1)} ms | CPU ms/write: towns ${r.townCpuMs.toFixed(3)}, PostgreSQL ` +
          `${r.postgresCpuMs.toFixed(3)} | RSS MiB at start ${
            fresh.map((m) => m.toFixed(0)).join("/")
          }, ` +
          `idle after warm-up ${idle.map((m) => m.toFixed(0)).join("/")}` +
          `, peak ${r.rssPeak.map((m) => m.toFixed(0)).join("/")} | load ${await loadAverage()}`,
      );
    }
  } finally {
    for (const t of towns) await t.stop();
  }
}

async function livePush(storeUrl: string, pushes: number): Promise<void> {
  const key = generateSecretKey();
  const a = await startSharedTownProcess({ storeUrl, secretKey: key });
  const b = await startSharedTownProcess({ storeUrl, secretKey: key });
  try {
    const writer = await connectPayingClient({
      url: `btp+ws://127.0.0.1:${a.btpPort}`,
      token: "w",
      townAddress: TOWN,
      townPubkey: getPublicKey(key),
    });
    const ws = new WebSocket(`ws://127.0.0.1:${b.httpPort}`);
    await new Promise((r) => ws.onopen = r);
    const arrived = new Map<string, number>();
    let eose = false;
    ws.onmessage = (m) => {
      const msg = JSON.parse(m.data);
      if (msg[0] === "EOSE") eose = true;
      if (msg[0] === "EVENT") arrived.set(msg[2].id, performance.now());
    };
    ws.send(JSON.stringify(["REQ", "live", { authors: [writer.pubkey] }]));
    while (!eose) await new Promise((r) => setTimeout(r, 5));
    const queue = await prepared(writer, pushes);
    const fromFulfill: number[] = [];
    const fromSend: number[] = [];
    for (const p of queue) {
      const sent = performance.now();
      const reply = await writer.client.sendPrepare(p);
      const fulfilled = performance.now();
      if (reply.type !== "fulfill") throw new Error(`rejected: ${reply.code}`);
      const eventId = JSON.parse(new TextDecoder().decode(reply.data)).eventId as string;
      while (!arrived.has(eventId)) await new Promise((r) => setTimeout(r, 0));
      const at = arrived.get(eventId)!;
      fromFulfill.push(Math.max(0, at - fulfilled));
      fromSend.push(at - sent);
    }
    fromFulfill.sort((x, y) => x - y);
    fromSend.sort((x, y) => x - y);
    console.log(
      `live push A -> B (${pushes}, one at a time): FULFILL to event on B p50 ` +
        `${percentile(fromFulfill, 0.5).toFixed(2)} ms, p99 ${
          percentile(fromFulfill, 0.99).toFixed(2)
        } ms; ` +
        `PREPARE sent to event on B p50 ${percentile(fromSend, 0.5).toFixed(2)} ms, p99 ` +
        `${percentile(fromSend, 0.99).toFixed(2)} ms | load ${await loadAverage()}`,
    );
    ws.close();
    await writer.close();
  } finally {
    await a.stop();
    await b.stop();
  }
}

if (import.meta.main) {
  const writes = Number(Deno.args[0] ?? 3000);
  const pushes = Number(Deno.args[1] ?? 300);
  console.log(
    `${writes} paid writes per run over ${CONNECTIONS} connections; ` +
      `${navigator.hardwareConcurrency} cores; load ${await loadAverage()}`,
  );
  const onlyPostgres = Deno.env.get("TOWN_BENCH_ONLY") === "postgres";
  await using pg = await startPostgresServer();
  if (!onlyPostgres) await scenario("SQLite, 1 process", 1, undefined, writes);
  for (const n of [1, 2, 3]) {
    await scenario(
      `PostgreSQL, ${n} process${n > 1 ? "es" : ""}`,
      n,
      await freshDatabase(pg.url),
      writes,
      pg.dataDir,
    );
  }
  if (!onlyPostgres) await livePush(await freshDatabase(pg.url), pushes);
}
