/**
 * What the agent-task driver's close of its model gateway costs (docs/SKILLS.md "agent-task",
 * step 3; docs/SCALE.md "The gateway closed by the compiled setup"): the wall time from starting
 * the close to its exit, against a stand-in gateway on a Unix socket that answers the close and
 * stops listening, as the real one does. Three ways, taking turns: the compiled setup's
 * `--close-gateway` (roles/provider/sandbox/sandbox_init.c, built here as a provider builds it),
 * the forwarder's own close (`deno run ... gateway_forwarder.js close`, the flags the sandbox gives
 * it: a host without a C compiler), and curl (two transfers, the close then a connection that must
 * be refused; no turnpike code uses it, the obvious alternative). Outside the sandbox: the process
 * starts are the cost compared.
 *
 * Run: deno run -A bench/gateway_close_bench_script.ts [--runs 20]
 *
 * @module
 */
import { parseBenchFlags } from "./bench_flags.ts";
import { sandboxInitBinary } from "../roles/provider/sandbox/sandbox_init.ts";

const { values } = parseBenchFlags(Deno.args, {
  values: ["runs"],
  switches: [],
  usage: "Usage: deno run -A bench/gateway_close_bench_script.ts [--runs 20]",
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

const dir = await Deno.makeTempDir({ prefix: "turnpike-gateway-close-" });
// Under a regular file: not a directory anyone can make.
const noDenoDir = `${dir}/not-a-dir/deno`;
await Deno.writeTextFile(`${dir}/not-a-dir`, "");
try {
  const init = await sandboxInitBinary({ dir: `${dir}/init` });
  if (init === undefined) throw new Error("no C compiler: the compiled setup cannot be built here");
  const viaCompiled = (socket: string) => [init, "--close-gateway", socket];
  const times = { compiled: [] as number[], forwarder: [] as number[], curl: [] as number[] };
  for (let i = 0; i < runs; i++) {
    times.compiled.push(await closeOnce(dir, viaCompiled));
    times.forwarder.push(await closeOnce(dir, viaForwarder));
    times.curl.push(await closeOnce(dir, viaCurl, [0, 7]));
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
    `median ratio forwarder / compiled: ${
      (median(times.forwarder) / median(times.compiled)).toFixed(1)
    }x, curl / compiled: ${(median(times.curl) / median(times.compiled)).toFixed(1)}x`,
  );
} finally {
  await Deno.remove(dir, { recursive: true });
}
