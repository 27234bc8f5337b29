/**
 * What a job's way to its model gateway costs in the sandbox (docs/SKILLS.md "The model gateway"),
 * the compiled setup (roles/provider/sandbox/sandbox_init.c, built here as a provider builds it)
 * against the forwarder (`deno run ... gateway_forwarder.js`, the flags the sandbox gives it: a
 * host without a C compiler), taking turns. Outside the sandbox: the process starts are the cost
 * compared.
 *
 * The relay (docs/SCALE.md "The gateway's relay in the compiled setup"): the wall time from its
 * start to its `ready` (the job waits for it), then ten model calls through it one after another
 * (a POST of 2 KB, an answer of 2 KB, each on its own connection as a client without keep-alive
 * makes them), and its resident memory after (with the processes of its connections: the job's
 * memory limit counts them).
 *
 * The close (docs/SKILLS.md "agent-task", step 3; docs/SCALE.md "The gateway closed by the
 * compiled setup"): the wall time from starting the close to its exit, against a stand-in gateway
 * on a Unix socket that answers the close and stops listening, as the real one does; the compiled
 * setup's `--close-gateway`, the forwarder's `close`, and curl (two transfers, the close then a
 * connection that must be refused; no turnpike code uses it, the obvious alternative).
 *
 * Run: deno run -A bench/gateway_bench_script.ts [--runs 20]
 *
 * @module
 */
import { parseBenchFlags } from "./bench_flags.ts";
import { sandboxInitBinary } from "../roles/provider/sandbox/sandbox_init.ts";

const { values } = parseBenchFlags(Deno.args, {
  values: ["runs"],
  switches: [],
  usage: "Usage: deno run -A bench/gateway_bench_script.ts [--runs 20]",
});
const runs = Number(values.runs ?? 20);
const forwarder = new URL("../roles/provider/sandbox/gateway_forwarder.js", import.meta.url)
  .pathname;

/** One close against a fresh stand-in gateway; its wall time in ms. */
async function closeOnce(
  dir: string,
  command: (socket: string) => string[],
  exits = [0],
): Promise<number> {
  const socketPath = `${dir}/gateway-${crypto.randomUUID()}.sock`;
  let closed = false;
  const server = Deno.serve({ path: socketPath, onListen() {} }, (req) => {
    if (req.method === "POST" && new URL(req.url).pathname === "/turnpike/agent-over") {
      closed = true;
      setTimeout(() => void server.shutdown(), 0);
      return Response.json({ closed: true });
    }
    return new Response("no", { status: 403 });
  });
  const [cmd, ...args] = command(socketPath);
  const started = performance.now();
  const out = await new Deno.Command(cmd, {
    args,
    clearEnv: true,
    // A DENO_DIR that cannot be made, as in the sandbox (`/nonexistent` out of it: this bench's
    // root would make it, and the sandbox's system mounts test that it is absent).
    env: { PATH: "/usr/bin:/bin", DENO_DIR: noDenoDir, NO_COLOR: "1" },
  }).output();
  const ms = performance.now() - started;
  await server.finished;
  if (!exits.includes(out.code) || !closed) {
    throw new Error(`${cmd} did not close the gateway (${out.code})`);
  }
  return ms;
}

const deno = Deno.execPath();
/** The forwarder run with the flags the sandbox gives it, allowed `net` and the socket. */
const forwarderRun = (net: string, socket: string, ...args: string[]) => [
  deno,
  "run",
  "--quiet",
  "--no-config",
  "--no-lock",
  "--no-remote",
  "--no-npm",
  "--no-prompt",
  `--allow-net=${net}`,
  `--allow-read=${socket}`,
  `--allow-write=${socket}`,
  forwarder,
  ...args,
];
const viaForwarder = (socket: string) => forwarderRun(`unix:${socket}`, socket, "close", socket);
const close = ["-s", "-o", "/dev/null", "-X", "POST", "-H", "Content-Length: 0"];
const viaCurl = (socket: string) => [
  "curl",
  "-q",
  ...close,
  "--unix-socket",
  socket,
  "http://127.0.0.1/turnpike/agent-over",
  "--next",
  ...close,
  "--unix-socket",
  socket,
  "http://127.0.0.1/turnpike/agent-over",
];

/** A relay's start, its calls and its memory (the header). */
interface RelayRun {
  readyMs: number;
  callMs: number;
  rssKiB: number;
}

/** One relay against a stand-in gateway that answers every call with 2 KB. */
async function relayOnce(dir: string, command: (port: number, socket: string) => string[]) {
  const socketPath = `${dir}/gateway-${crypto.randomUUID()}.sock`;
  const answer = "a".repeat(2048);
  const server = Deno.serve({ path: socketPath, onListen() {} }, async (req) => {
    await req.arrayBuffer();
    return new Response(answer);
  });
  const port = 20_000 + Math.floor(Math.random() * 30_000);
  const [cmd, ...args] = command(port, socketPath);
  const started = performance.now();
  const relay = new Deno.Command(cmd, {
    args,
    clearEnv: true,
    env: { PATH: "/usr/bin:/bin", DENO_DIR: noDenoDir, NO_COLOR: "1" },
    stdout: "piped",
  }).spawn();
  try {
    const lines = relay.stdout.pipeThrough(new TextDecoderStream()).getReader();
    const first = await lines.read();
    const readyMs = performance.now() - started;
    if (first.value?.trim() !== "ready") throw new Error(`${cmd} did not say ready`);
    lines.releaseLock();
    const body = "q".repeat(2048);
    const calls = performance.now();
    for (let i = 0; i < 10; i++) {
      const res = await fetch(`http://127.0.0.1:${port}/v1/messages`, {
        method: "POST",
        body,
        headers: { connection: "close" },
      });
      if ((await res.text()).length !== answer.length) throw new Error("a call came back short");
    }
    const callMs = (performance.now() - calls) / 10;
    return { readyMs, callMs, rssKiB: await treeRssKiB(relay.pid) } satisfies RelayRun;
  } finally {
    relay.kill("SIGKILL");
    await relay.status;
    await relay.stdout.cancel().catch(() => {});
    await server.shutdown();
  }
}

/** The resident memory of `pid` and its children, in KiB (/proc's VmRSS). */
async function treeRssKiB(pid: number): Promise<number> {
  let kib = 0;
  const children = await Deno.readTextFile(`/proc/${pid}/task/${pid}/children`).catch(() => "");
  for (const p of [pid, ...children.trim().split(/\s+/).filter(Boolean).map(Number)]) {
    const status = await Deno.readTextFile(`/proc/${p}/status`).catch(() => "");
    kib += Number(/^VmRSS:\s+(\d+)/m.exec(status)?.[1] ?? 0);
  }
  return kib;
}

const relayViaForwarder = (port: number, socket: string) =>
  forwarderRun(`127.0.0.1:${port},unix:${socket}`, socket, String(port), socket);

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const best = (xs: number[]) => Math.min(...xs);

const dir = await Deno.makeTempDir({ prefix: "turnpike-gateway-" });
// Under a regular file: not a directory anyone can make.
const noDenoDir = `${dir}/not-a-dir/deno`;
await Deno.writeTextFile(`${dir}/not-a-dir`, "");
try {
  const init = await sandboxInitBinary({ dir: `${dir}/init` });
  if (init === undefined) throw new Error("no C compiler: the compiled setup cannot be built here");
  const relays = { compiled: [] as RelayRun[], forwarder: [] as RelayRun[] };
  for (let i = 0; i < runs; i++) {
    relays.compiled.push(
      await relayOnce(dir, (port, socket) => [init, "--relay-gateway", String(port), socket]),
    );
    relays.forwarder.push(await relayOnce(dir, relayViaForwarder));
  }
  for (const [name, rs] of Object.entries(relays)) {
    const [ready, call, rss] = [
      rs.map((r) => r.readyMs),
      rs.map((r) => r.callMs),
      rs.map((r) => r.rssKiB),
    ];
    console.log(
      `relay ${name.padEnd(10)} ready best ${best(ready).toFixed(1)} ms, median ` +
        `${median(ready).toFixed(1)} ms; a call through it median ${median(call).toFixed(2)} ms; ` +
        `RSS median ${(median(rss) / 1024).toFixed(1)} MiB (${runs} runs)`,
    );
  }
  const m = (name: keyof typeof relays, f: (r: RelayRun) => number) => median(relays[name].map(f));
  console.log(
    `relay median ratios forwarder / compiled: ready ${
      (m("forwarder", (r) => r.readyMs) / m("compiled", (r) => r.readyMs)).toFixed(1)
    }x, a call ${
      (m("forwarder", (r) => r.callMs) / m("compiled", (r) => r.callMs)).toFixed(1)
    }x, ` +
      `RSS ${(m("forwarder", (r) => r.rssKiB) / m("compiled", (r) => r.rssKiB)).toFixed(1)}x`,
  );
  const viaCompiled = (socket: string) => [init, "--close-gateway", socket];
  const times = { compiled: [] as number[], forwarder: [] as number[], curl: [] as number[] };
  for (let i = 0; i < runs; i++) {
    times.compiled.push(await closeOnce(dir, viaCompiled));
    times.forwarder.push(await closeOnce(dir, viaForwarder));
    times.curl.push(await closeOnce(dir, viaCurl, [0, 7]));
  }
  for (const [name, xs] of Object.entries(times)) {
    console.log(
      `close ${name.padEnd(10)} best ${best(xs).toFixed(1)} ms, median ${
        median(xs).toFixed(1)
      } ms ` +
        `(${runs} runs)`,
    );
  }
  console.log(
    `close median ratios forwarder / compiled: ${
      (median(times.forwarder) / median(times.compiled)).toFixed(1)
    }x, curl / compiled: ${(median(times.curl) / median(times.compiled)).toFixed(1)}x`,
  );
} finally {
  await Deno.remove(dir, { recursive: true });
}
