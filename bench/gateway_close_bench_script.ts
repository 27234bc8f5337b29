/**
 * What the agent-task driver's close of its model gateway costs (docs/SKILLS.md "agent-task",
 * step 3; docs/SCALE.md "The gateway closed with curl"): the wall time from starting the close to
 * its exit, against a stand-in gateway on a Unix socket that answers the close and stops
 * listening, as the real one does. Two ways, taking turns: roles/provider/sandbox/gateway_close.sh
 * with the host's curl, and the forwarder's own close (`deno run ... gateway_forwarder.js close`,
 * the flags the sandbox gives it), which the script falls back to without curl. Outside the
 * sandbox: the process starts are the cost compared.
 *
 * Run: deno run -A bench/gateway_close_bench_script.ts [--runs 20]
 *
 * @module
 */
import { parseBenchFlags } from "./bench_flags.ts";

const { values } = parseBenchFlags(Deno.args, {
  values: ["runs"],
  switches: [],
  usage: "Usage: deno run -A bench/gateway_close_bench_script.ts [--runs 20]",
});
const runs = Number(values.runs ?? 20);
const script = new URL("../roles/provider/sandbox/gateway_close.sh", import.meta.url).pathname;
const forwarder = new URL("../roles/provider/sandbox/gateway_forwarder.js", import.meta.url)
  .pathname;

/** One close against a fresh stand-in gateway; its wall time in ms. */
async function closeOnce(dir: string, command: (socket: string) => string[]): Promise<number> {
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
    env: { PATH: "/usr/bin:/bin", DENO_DIR: "/nonexistent", NO_COLOR: "1" },
  }).output();
  const ms = performance.now() - started;
  await server.finished;
  if (!out.success || !closed) throw new Error(`${cmd} did not close the gateway (${out.code})`);
  return ms;
}

const deno = Deno.execPath();
const viaForwarder = (socket: string) => [
  deno,
  "run",
  "--quiet",
  "--no-config",
  "--no-lock",
  "--no-remote",
  "--no-npm",
  "--no-prompt",
  `--allow-net=unix:${socket}`,
  `--allow-read=${socket}`,
  `--allow-write=${socket}`,
  forwarder,
  "close",
  socket,
];
const viaCurl = (socket: string) => ["sh", script, socket, ...viaForwarder(socket)];

const dir = await Deno.makeTempDir({ prefix: "turnpike-gateway-close-" });
try {
  const times = { curl: [] as number[], forwarder: [] as number[] };
  for (let i = 0; i < runs; i++) {
    times.curl.push(await closeOnce(dir, viaCurl));
    times.forwarder.push(await closeOnce(dir, viaForwarder));
  }
  const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
  const best = (xs: number[]) => Math.min(...xs);
  for (const [name, xs] of Object.entries(times)) {
    console.log(
      `${name.padEnd(10)} best ${best(xs).toFixed(1)} ms, median ${median(xs).toFixed(1)} ms ` +
        `(${runs} runs)`,
    );
  }
  console.log(
    `median ratio forwarder / curl: ${(median(times.forwarder) / median(times.curl)).toFixed(1)}x`,
  );
} finally {
  await Deno.remove(dir, { recursive: true });
}
