/**
 * Paid writes end to end: client -> BTP (real WebSocket on loopback) -> router -> size, shallow
 * TOON scan, full decode, id + signature check -> price -> condition -> SQLite (file, WAL,
 * synchronous=FULL) -> FULFILL. The town runs in its own process (this script with `--serve`),
 * the client in this one, as they would in use. Measured: one write at a time (p50/p99 latency)
 * and 64 in flight (writes/s), for the town's default (group commit, signatures verified in a
 * worker) and, in the same run, the obvious alternatives: one transaction per event, and
 * signatures verified inline on the main thread. Events are signed and their PREPAREs built
 * before timing: the sender's cost is not the town's. The town's CPU a write is given for the
 * 64-in-flight part alone (snapshots the town takes when asked on its stdin) and for the whole run
 * (its start, the warm-up and the one-by-one writes included).
 *
 * `--tls` measures the default over plain `btp+ws://` and over `btp+wss://` in the same run: a CA
 * and a certificate for 127.0.0.1 made with `openssl` (docs/OPERATIONS.md "A town on the
 * internet"), the client trusting the CA as `ca_file` makes it.
 *
 * Run: deno run -A bench/town_paid_writes_bench_script.ts [--tls] [sequential=500] [concurrent=5000]
 */
import { buildPaidWrite } from "../roles/town_client/spsp_handshake.ts";
import { loadEventVerifier, verifierBackend } from "../protocol/event_verifier.ts";
import type { IlpPrepare } from "../protocol/ilp_packet.ts";
import { connectPayingClient, startTestTown } from "../harness/town_test_node.ts";
import { generateSecretKey, getPublicKey } from "nostr-tools";
import { trustCaFile } from "../transport/tls_trust.ts";

const IN_FLIGHT = 64;

/** The town process's CPU seconds so far (all threads, and its main thread) and writes done. */
interface TownCpu {
  cpuSeconds: number;
  mainThreadCpuSeconds: number;
  fulfilled: number;
  writeSyscalls: number;
  /** Minor page faults so far. */
  minorFaults: number;
  /** CPU seconds per thread name (the main thread, the commit worker, the pool, V8's helpers). */
  threads: Record<string, number>;
  /** Transactions committed so far. */
  batches: number;
}

interface Variant {
  name: string;
  groupCommit: boolean;
  verifierWorkers?: number;
  /** Serve BTP over TLS with this certificate and key (PEM files). */
  tls?: { certFile: string; keyFile: string };
}

const VARIANTS: Variant[] = [
  { name: "group commit + worker verify", groupCommit: true },
  { name: "group commit, inline verify", groupCommit: true, verifierWorkers: 0 },
  { name: "1 tx per event, inline verify", groupCommit: false, verifierWorkers: 0 },
];

/** CPU seconds (user + system) this process (all threads) or one of its threads has used. */
async function cpuSeconds(file = "/proc/self/stat"): Promise<number> {
  const stat = (await Deno.readTextFile(file)).split(") ")[1].split(" ");
  return (Number(stat[11]) + Number(stat[12])) / 100;
}

/** Minor page faults this process has taken (on some machines each costs 20 µs or more). */
async function minorFaults(): Promise<number> {
  return Number((await Deno.readTextFile("/proc/self/stat")).split(") ")[1].split(" ")[7]);
}

/** CPU seconds of this process's threads by name (`comm`): where the off-main-thread time goes. */
async function cpuSecondsByThreadName(): Promise<Record<string, number>> {
  const byName: Record<string, number> = {};
  for await (const task of Deno.readDir("/proc/self/task")) {
    const text = await Deno.readTextFile(`/proc/self/task/${task.name}/stat`).catch(() => "");
    if (text === "") continue; // the thread ended meanwhile
    const name = task.name === String(Deno.pid)
      ? "main"
      : text.slice(text.indexOf("(") + 1, text.lastIndexOf(")"));
    const stat = text.slice(text.lastIndexOf(") ") + 2).split(" ");
    byName[name] = (byName[name] ?? 0) + (Number(stat[11]) + Number(stat[12])) / 100;
  }
  return byName;
}

async function serve(variant: Variant): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "town_bench_" });
  const secretKey = generateSecretKey();
  const town = await startTestTown({
    secretKey,
    databasePath: `${dir}/events.sqlite`,
    peers: [{ account: "bench", token: "tok" }],
    groupCommit: variant.groupCommit,
    verifierWorkers: variant.verifierWorkers,
    tls: variant.tls,
  });
  console.log(
    JSON.stringify({
      btpPort: town.btpPort,
      address: town.ilpAddress,
      pubkey: getPublicKey(secretKey),
    }),
  );
  // Until stdin closes; each line from the client asks for a snapshot of this process's CPU, so
  // the client can take the 64-in-flight part alone (without the start, warm-up and one-by-one).
  for await (const _ of Deno.stdin.readable.pipeThrough(new TextDecoderStream())) {
    console.log(JSON.stringify({
      cpuSeconds: await cpuSeconds(),
      mainThreadCpuSeconds: await cpuSeconds(`/proc/self/task/${Deno.pid}/stat`),
      fulfilled: town.writeCounters.fulfilled,
      // Write-family system calls (socket sends, log lines, SQLite pages): a per-packet one shows.
      writeSyscalls: Number(/syscw: (\d+)/.exec(await Deno.readTextFile("/proc/self/io"))?.[1]),
      minorFaults: await minorFaults(),
      threads: await cpuSecondsByThreadName(),
      batches: town.writeBatches(),
    }));
  }
  // CPU seconds this town process used (user + system, all threads): capacity per core,
  // whatever else the machine was doing.
  console.error(JSON.stringify({
    cpuSeconds: await cpuSeconds(),
    // The main thread is the serial part of a write: its share bounds writes/s on any machine.
    mainThreadCpuSeconds: await cpuSeconds(`/proc/self/task/${Deno.pid}/stat`),
    threadCpuSeconds: await cpuSecondsByThreadName(),
    fulfilled: town.writeCounters.fulfilled,
    batches: town.writeBatches(),
    verifierBatches: town.writeCounters.verifierBatches,
    verifiedInline: town.writeCounters.verifiedInline,
    verifiedOffThread: town.writeCounters.verifiedOffThread,
    commitsInline: town.writeCounters.commitsInline,
  }));
  await town.stop();
  await Deno.remove(dir, { recursive: true });
}

/** The 1-minute load average: the machine is shared, figures are only comparable with it. */
async function loadAverage(): Promise<string> {
  return (await Deno.readTextFile("/proc/loadavg")).split(" ")[0];
}

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * p))];
}

async function measure(variant: Variant, sequential: number, concurrent: number) {
  const child = new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "-A",
      ...(Deno.env.get("TOWN_BENCH_CPU_PROF")
        ? ["--cpu-prof", `--cpu-prof-dir=${Deno.env.get("TOWN_BENCH_CPU_PROF")}`]
        : []),
      new URL(import.meta.url).pathname,
      "--serve",
      JSON.stringify(variant),
    ],
    stdin: "piped",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const reader = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
  let buffered = "";
  const nextLine = async (): Promise<string> => {
    while (!buffered.includes("\n")) buffered += (await reader.read()).value ?? "";
    const line = buffered.slice(0, buffered.indexOf("\n"));
    buffered = buffered.slice(line.length + 1);
    return line;
  };
  const writer = child.stdin.getWriter();
  const townCpu = async (): Promise<TownCpu> => {
    await writer.write(new TextEncoder().encode("cpu\n"));
    return JSON.parse(await nextLine());
  };
  const info = JSON.parse(await nextLine());
  const client = await connectPayingClient({
    url: `${variant.tls ? "btp+wss" : "btp+ws"}://127.0.0.1:${info.btpPort}`,
    token: "tok",
    townAddress: info.address,
    townPubkey: info.pubkey,
  });
  // One number per event of the run: batches signed within one second must not repeat an id.
  let signed = 0;
  const prepare = async (n: number): Promise<IlpPrepare[]> => {
    const out: IlpPrepare[] = [];
    for (let i = 0; i < n; i++) {
      const event = client.sign({ content: `bench event ${signed++} `.padEnd(200, "x") });
      out.push(
        (await buildPaidWrite({ event, grant: client.grant, pricePerByte: 10n, expiryMs: 300_000 }))
          .prepare,
      );
    }
    return out;
  };
  const send = async (p: IlpPrepare) => {
    const reply = await client.client.sendPrepare(p);
    if (reply.type !== "fulfill") throw new Error(`rejected: ${reply.code} ${reply.message}`);
  };
  for (const p of await prepare(200)) await send(p); // warm-up: JIT, SQLite pages, worker
  const seq = await prepare(sequential);
  const latencies: number[] = [];
  for (const p of seq) {
    const t0 = performance.now();
    await send(p);
    latencies.push(performance.now() - t0);
  }
  latencies.sort((a, b) => a - b);
  const conc = await prepare(concurrent);
  let next = 0;
  const town0 = await townCpu();
  const clientCpu0 = await cpuSeconds();
  const t0 = performance.now();
  await Promise.all(Array.from({ length: IN_FLIGHT }, async () => {
    while (next < conc.length) await send(conc[next++]);
  }));
  const perSecond = concurrent / ((performance.now() - t0) / 1000);
  const town1 = await townCpu();
  const inFlightWrites = town1.fulfilled - town0.fulfilled;
  const clientCpuMsPerWrite = ((await cpuSeconds()) - clientCpu0) * 1000 / concurrent;
  await client.close();
  await writer.close();
  await reader.cancel();
  const errText = await new Response(child.stderr).text();
  await child.status;
  const usage = JSON.parse(errText.trim().split("\n").pop() ?? "{}");
  const cpuMsPerWrite = (usage.cpuSeconds * 1000) / usage.fulfilled;
  const mainCpuMsPerWrite = (usage.mainThreadCpuSeconds * 1000) / usage.fulfilled;
  return {
    p50: percentile(latencies, 0.5),
    p99: percentile(latencies, 0.99),
    perSecond,
    cpuMsPerWrite,
    mainCpuMsPerWrite,
    perBatch: variant.groupCommit ? usage.fulfilled / Math.max(1, usage.batches) : 1,
    clientCpuMsPerWrite,
    inFlightCpuMsPerWrite: (town1.cpuSeconds - town0.cpuSeconds) * 1000 / inFlightWrites,
    inFlightWriteSyscalls: (town1.writeSyscalls - town0.writeSyscalls) / inFlightWrites,
    inFlightMinorFaults: (town1.minorFaults - town0.minorFaults) / inFlightWrites,
    inFlightMainCpuMsPerWrite: (town1.mainThreadCpuSeconds - town0.mainThreadCpuSeconds) * 1000 /
      inFlightWrites,
    inFlightPerBatch: inFlightWrites / Math.max(1, town1.batches - town0.batches),
    // ms a write per thread name over the 64-in-flight part (threads that ended meanwhile: none).
    inFlightThreads: Object.entries(town1.threads)
      .map(([name, seconds]): [string, number] => [name, seconds - (town0.threads[name] ?? 0)])
      .filter(([, seconds]) => seconds > 0)
      .sort((a, b) => b[1] - a[1])
      .map(([name, seconds]) => `${name} ${(seconds * 1000 / inFlightWrites).toFixed(3)}`)
      .join(", "),
    perVerifierMessage: (usage.fulfilled - usage.verifiedInline - usage.verifiedOffThread) /
      Math.max(1, usage.verifierBatches),
    verifiedInline: usage.verifiedInline as number,
    verifiedOffThread: usage.verifiedOffThread as number,
    commitsInline: usage.commitsInline as number,
    // ms a write per thread name (the main thread, the commit worker, Deno's blocking pool...).
    threads: Object.entries(usage.threadCpuSeconds as Record<string, number>)
      .filter(([, seconds]) => seconds > 0)
      .sort((a, b) => b[1] - a[1])
      .map(([name, seconds]) => `${name} ${(seconds * 1000 / usage.fulfilled).toFixed(3)}`)
      .join(", "),
  };
}

if (Deno.args[0] === "--serve") {
  await serve(JSON.parse(Deno.args[1]));
} else {
  const tls = Deno.args.includes("--tls");
  const args = Deno.args.filter((a) => a !== "--tls");
  const sequential = Number(args[0] ?? 500);
  const concurrent = Number(args[1] ?? 5000);
  await loadEventVerifier(); // the town's loads after its first few events (noble until then)
  console.log(
    `verifier ${verifierBackend()}; ${sequential} one at a time, ${concurrent} with ${IN_FLIGHT} ` +
      `in flight; ${navigator.hardwareConcurrency} cores`,
  );
  // TOWN_BENCH_VARIANT=<index> runs one variant (e.g. with TOWN_BENCH_CPU_PROF=<dir> to profile it).
  const only = Deno.env.get("TOWN_BENCH_VARIANT");
  const variants = tls
    ? [VARIANTS[0], { ...VARIANTS[0], name: `${VARIANTS[0].name}, TLS`, tls: await certificate() }]
    : only === undefined
    ? VARIANTS
    : [VARIANTS[Number(only)]];
  for (const variant of variants) {
    const r = await measure(variant, sequential, concurrent);
    console.log(
      `${variant.name.padEnd(30)} p50 ${r.p50.toFixed(2)} ms  p99 ${r.p99.toFixed(2)} ms | ` +
        `${IN_FLIGHT} in flight: ${Math.round(r.perSecond)} writes/s, town CPU ` +
        `${r.inFlightCpuMsPerWrite.toFixed(3)} ms/write (main thread ` +
        `${r.inFlightMainCpuMsPerWrite.toFixed(3)}), ${r.inFlightWriteSyscalls.toFixed(2)} write ` +
        `syscalls/write, ${r.inFlightMinorFaults.toFixed(2)} minor faults/write, ` +
        `${r.inFlightPerBatch.toFixed(1)} writes/commit; threads ms/write: ` +
        `${r.inFlightThreads} | whole run: town CPU ` +
        `${r.cpuMsPerWrite.toFixed(3)} ms/write (main thread ${r.mainCpuMsPerWrite.toFixed(3)}), ${
          r.perBatch.toFixed(1)
        } writes/commit | client CPU ` +
        `${r.clientCpuMsPerWrite.toFixed(3)} ms/write | ${
          r.perVerifierMessage.toFixed(1)
        } events/verifier message, ${r.verifiedInline} verified and ${r.commitsInline} ` +
        `committed on the main thread, ${r.verifiedOffThread} verified on the thread pool | ` +
        `threads ms/write: ${r.threads} | load ${await loadAverage()}`,
    );
  }
}

/** A CA and a certificate for 127.0.0.1 it signed (openssl); the CA trusted by this process. */
async function certificate(): Promise<{ certFile: string; keyFile: string }> {
  const dir = await Deno.makeTempDir({ prefix: "town_bench_tls_" });
  const sh = `openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes ` +
    `-keyout ca.key -out ca.pem -subj /CN=bench-ca && ` +
    `openssl req -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -keyout town.key ` +
    `-out town.csr -subj /CN=127.0.0.1 && echo subjectAltName=IP:127.0.0.1 > san.cnf && ` +
    `openssl x509 -req -in town.csr -CA ca.pem -CAkey ca.key -set_serial 1 -extfile san.cnf ` +
    `-out town.pem`;
  const out = await new Deno.Command("sh", { args: ["-c", sh], cwd: dir, stderr: "null" }).output();
  if (!out.success) throw new Error("openssl could not make the bench's certificate");
  await trustCaFile(`${dir}/ca.pem`);
  return { certFile: `${dir}/town.pem`, keyFile: `${dir}/town.key` };
}
