/**
 * Pipeline bench: relay source -> kind extractor -> correlator -> counting sink, across Workers
 * (one per stage) versus the same stages inline in one thread, plus the raw cost of a Worker
 * boundary at batch sizes 1, 16 and 256 versus the same pass-through stage inline.
 *
 *     deno run -A bench/pipeline_bench_script.ts [--events 60000] [--boundary 200000]
 *       [--relay-inprocess] [--pipeline-only] [--workers-only] [--delay 1] [--in-flight 4] [--out-batches 4]
 *
 * The relay is a separate process (this same file with `--serve`): Deno.serve + upgradeWebSocket
 * replaying the valid fixture events, each given a fresh id so the relay source's de-duplication
 * keeps them all, as `["EVENT", sub, <TOON>]` as fast as the socket's bufferedAmount allows,
 * then EOSE. The relay source runs with `untilEose` and a high-water mark large enough that it
 * never pauses (pausing closes the socket: that would measure reconnects, not the pipeline).
 * Peak RSS is `Deno.memoryUsage().rss` of this process sampled every 20 ms (workers share it).
 *
 * @module
 */
import { createPipeline, type PipelineOptions } from "../pipeline/pipeline.ts";
import type { Chunk } from "../stages/chunks.ts";
import { extractSummary } from "../protocol/kind_extractor.ts";

const VALID_DIR = new URL("../fixtures/events/valid/", import.meta.url);

function flag(name: string, fallback: number): number {
  const i = Deno.args.indexOf(`--${name}`);
  return i === -1 ? fallback : Number(Deno.args[i + 1]);
}

async function validEvents(): Promise<string[]> {
  const events: string[] = [];
  for await (const entry of Deno.readDir(VALID_DIR)) {
    if (entry.name.endsWith(".toon")) {
      events.push((await Deno.readTextFile(new URL(entry.name, VALID_DIR))).trimEnd());
    }
  }
  return events.sort();
}

// ---- the relay process ------------------------------------------------------------------

/** The relay: in this process (`--relay inprocess`) or in its own (`--serve`). */
async function relayServer(total: number): Promise<{ url: string; stop(): Promise<void> }> {
  const templates = await validEvents();
  const toons: string[] = [];
  for (let i = 0; i < total; i++) {
    const id = i.toString(16).padStart(64, "0");
    toons.push(templates[i % templates.length].replace(/^id: .*$/m, `id: ${id}`));
  }
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen: () => {} }, (req) => {
    const { socket, response } = Deno.upgradeWebSocket(req);
    socket.onmessage = async (ev) => {
      const msg = JSON.parse(ev.data);
      if (msg[0] !== "REQ") return;
      const sub = msg[1];
      for (const toon of toons) {
        socket.send(JSON.stringify(["EVENT", sub, toon]));
        while (socket.bufferedAmount > 4 * 1024 * 1024) {
          await new Promise((r) => setTimeout(r, 1));
        }
      }
      socket.send(JSON.stringify(["EOSE", sub]));
    };
    return response;
  });
  return {
    url: `ws://127.0.0.1:${server.addr.port}`,
    async stop() {
      await server.shutdown();
    },
  };
}

async function serve(total: number): Promise<void> {
  const relay = await relayServer(total);
  console.log(JSON.stringify({ port: Number(new URL(relay.url).port) }));
  await new Promise(() => {}); // until killed
}

async function startRelay(total: number): Promise<{ url: string; stop(): Promise<void> }> {
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", new URL(import.meta.url).pathname, "--serve", "--events", String(total)],
    stdout: "piped",
    stderr: "inherit",
  }).spawn();
  const reader = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
  let text = "";
  while (!text.includes("\n")) {
    const { value, done } = await reader.read();
    if (done) throw new Error("relay process exited");
    text += value;
  }
  reader.releaseLock();
  child.stdout.cancel().catch(() => {});
  const { port } = JSON.parse(text.split("\n")[0]);
  return {
    url: `ws://127.0.0.1:${port}`,
    async stop() {
      child.kill("SIGTERM");
      await child.status;
    },
  };
}

// ---- measurements -----------------------------------------------------------------------

interface Figures {
  events: number;
  /** From creating the pipeline (workers started) to its end. */
  seconds: number;
  /** Events per second from the first output batch to the last: the sustained rate. */
  sustainedPerSecond: number;
  perSecond: number;
  peakRssMiB: number;
  failures: number;
  /** CPU time of this process (main thread and workers, not a relay process) per 1000 events. */
  cpuMsPerKEvents: number;
  /** Batches each stage took in (workers; 0 inline), to see the batch sizes reached. */
  batchesIn: number[];
}

async function measure(options: PipelineOptions, sampleRss = true): Promise<Figures> {
  let peak = Deno.memoryUsage().rss;
  const sampler = sampleRss
    ? setInterval(() => (peak = Math.max(peak, Deno.memoryUsage().rss)), 20)
    : undefined;
  const cpuBefore = await processCpuMs();
  const started = performance.now();
  await using pipeline = await createPipeline(options);
  let events = 0;
  let first = 0;
  let firstCount = 0;
  const outcome = await pipeline.run({
    onBatch(batch: Chunk[]) {
      if (first === 0) {
        first = performance.now();
        firstCount = batch.length;
      }
      events += batch.length; // the counting sink
    },
  });
  const ended = performance.now();
  const cpuMs = (await processCpuMs()) - cpuBefore;
  const seconds = (ended - started) / 1000;
  const sustained = (events - firstCount) / ((ended - first) / 1000);
  if (sampler !== undefined) clearInterval(sampler);
  peak = Math.max(peak, Deno.memoryUsage().rss);
  return {
    events,
    seconds: round(seconds, 3),
    sustainedPerSecond: Math.round(sustained),
    perSecond: Math.round(events / seconds),
    peakRssMiB: round(peak / 2 ** 20, 1),
    failures: outcome.failures.length + outcome.errors.length,
    cpuMsPerKEvents: round(cpuMs / (events / 1000), 1),
    batchesIn: outcome.metrics.stages.map((m) => m.batchesIn),
  };
}

/** User + system CPU of this process so far, in ms (Linux: /proc/self/stat, clock ticks of 10 ms). */
async function processCpuMs(): Promise<number> {
  const stat = await Deno.readTextFile("/proc/self/stat");
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  return (Number(fields[11]) + Number(fields[12])) * 10;
}

function round(x: number, digits: number): number {
  return Math.round(x * 10 ** digits) / 10 ** digits;
}

async function jobsReferenced(): Promise<{ jobId: string; skill: string }[]> {
  const jobs = new Map<string, string>();
  for (const toon of await validEvents()) {
    const s = extractSummary(toon);
    if (((s.kind >= 6000 && s.kind < 7000) || s.kind === 7000) && s.e[0]) {
      jobs.set(s.e[0], "bench");
    }
  }
  return [...jobs].map(([jobId, skill]) => ({ jobId, skill }));
}

async function relayPipeline(
  mode: "inline" | "workers",
  total: number,
  sourceOnly = false,
): Promise<Figures> {
  const relay = RELAY === "inprocess" ? await relayServer(total) : await startRelay(total);
  try {
    const jobs = await jobsReferenced();
    return await measure({
      mode,
      maxBatchDelayMs: flag("delay", 1),
      maxInFlightBatches: flag("in-flight", 4),
      maxOutBatches: flag("out-batches", 4),
      stages: [
        {
          name: "relay-source",
          options: {
            relay: relay.url,
            filters: [{}],
            untilEose: true,
            highWaterMark: total + 1,
            dedupCapacity: total + 1,
          },
        },
        ...(sourceOnly ? [] : [
          { name: "kind-extractor", options: {} },
          // Every event passes on (correlated or not) so the sink counts the full stream.
          { name: "correlator", options: { jobs, passUnmatched: true } },
        ]),
      ],
    });
  } finally {
    await relay.stop();
  }
}

const MODES = ["workers", "inline"] as const;

/** Where the relay runs: its own process (how it runs for real) or this one. */
const RELAY = Deno.args.includes("--relay-inprocess") ? "inprocess" : "process";

const BANG = {
  url: new URL("../harness/bang_transform.ts", import.meta.url).href,
  exportName: "bangStage",
};

async function boundary(mode: "inline" | "workers", total: number, batch: number) {
  const input: Chunk[] = Array.from(
    { length: total },
    (_, i) => ({ type: "toon", toon: `n: ${i}` }),
  );
  return await measure({
    mode,
    input,
    stages: [{ name: "bang", module: BANG, options: {} }],
    maxBatchChunks: batch,
    // Enough credits that a 1-chunk batch is not throttled by round trips alone.
    maxInFlightBatches: batch === 1 ? 64 : 4,
    maxOutBatches: batch === 1 ? 64 : 4,
  }, false);
}

if (import.meta.main) {
  const events = flag("events", 60_000);
  if (Deno.args.includes("--serve")) {
    await serve(events);
  } else {
    console.log(JSON.stringify({ relay: RELAY, loadavg: Deno.loadavg() }));
    const modes = Deno.args.includes("--workers-only") ? ["workers"] as const : MODES;
    for (const mode of modes) {
      const figures = await relayPipeline(mode, events);
      console.log(JSON.stringify([`relay->extractor->correlator->count (${mode})`, figures]));
    }
    if (!Deno.args.includes("--pipeline-only")) {
      // Attribution: the relay source alone, same relay.
      for (const mode of ["workers", "inline"] as const) {
        const figures = await relayPipeline(mode, events, true);
        console.log(JSON.stringify([`relay source alone -> count (${mode})`, figures]));
      }
      const n = flag("boundary", 200_000);
      for (const batch of [1, 16, 256]) {
        for (const mode of ["workers", "inline"] as const) {
          const total = batch === 1 && mode === "workers" ? Math.min(n, 50_000) : n;
          const figures = await boundary(mode, total, batch);
          console.log(JSON.stringify([`pass-through, batch ${batch} (${mode})`, figures]));
        }
      }
    }
    console.log(JSON.stringify({ loadavg: Deno.loadavg() }));
  }
}
