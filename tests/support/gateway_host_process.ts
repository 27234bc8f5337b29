/**
 * Test helper: a provider's model gateways in a process of their own, under `prlimit
 * --nofile=<n>:<n>` (a small host's file limit; Deno raises only the soft limit by itself), for
 * attacks on the gateway (roles/agent_work/provider/agent_gateway.ts) that must exhaust the
 * provider's descriptors or memory and not the test's. Two jobs' gateways, `a` and `b`, on one
 * upstream.
 *
 * @module
 */

/** Options for {@linkcode startGatewayHost}. */
export interface GatewayHostOptions {
  /** Soft and hard RLIMIT_NOFILE of the process. */
  openFiles: number;
  /** The upstream's base URL (both gateways, the Anthropic flavor). */
  upstream: string;
  /** The key the gateways add. */
  apiKey: string;
}

/** The gateways' process. */
export interface GatewayHost extends AsyncDisposable {
  /** The socket of job a's gateway. */
  a: string;
  /** The socket of job b's gateway. */
  b: string;
  pid: number;
  /** True while the process runs. */
  alive(): boolean;
  /** Its open descriptors now (/proc/<pid>/fd). */
  descriptors(): number;
  /** Its resident memory now, MiB (/proc/<pid>/status). */
  rssMiB(): number;
  /** What it wrote on stderr so far (its last 64 KiB). */
  stderr(): string;
}

/**
 * Starts the process and waits for both gateways to listen.
 *
 * @example
 * ```ts ignore
 * import { startGatewayHost } from "./gateway_host_process.ts";
 *
 * await using host = await startGatewayHost({
 *   openFiles: 1024,
 *   upstream: "http://127.0.0.1:9",
 *   apiKey: "sk-test",
 * });
 * host.descriptors();
 * ```
 */
export async function startGatewayHost(options: GatewayHostOptions): Promise<GatewayHost> {
  const dir = await Deno.makeTempDir({ prefix: "gateway_host_" });
  const runner = `${dir}/runner.ts`;
  const gateway = new URL("../../roles/agent_work/provider/agent_gateway.ts", import.meta.url);
  await Deno.writeTextFile(
    runner,
    `import { startAgentGateway } from "${gateway}";
const start = (job: string) => startAgentGateway({
  socketPath: "${dir}/" + job + ".sock",
  upstream: ${JSON.stringify(options.upstream)},
  flavor: "anthropic",
  apiKey: ${JSON.stringify(options.apiKey)},
  prices: { inputPerMillion: 1_000_000n, outputPerMillion: 5_000_000n },
  budget: 1_000_000_000n,
});
const [a, b] = [await start("a"), await start("b")];
console.log(JSON.stringify({ a: a.socketPath, b: b.socketPath }));
await new Promise(() => {});
`,
  );
  const child = new Deno.Command("prlimit", {
    args: [
      `--nofile=${options.openFiles}:${options.openFiles}`,
      Deno.execPath(),
      "run",
      "-A",
      "--config",
      new URL("../../deno.json", import.meta.url).pathname,
      runner,
    ],
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  let stderr = "";
  const stderrDone = child.stderr.pipeThrough(new TextDecoderStream()).pipeTo(
    new WritableStream({ write: (t) => void (stderr = (stderr + t).slice(-65536)) }),
  ).catch(() => {});
  const lines = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
  let text = "";
  while (!text.includes("\n")) {
    const { value, done } = await lines.read();
    if (done) throw new Error(`the gateway process ended before listening: ${stderr}`);
    text += value;
  }
  // Nothing else is read: a pipe left unread would fill and block the process.
  await lines.cancel();
  const sockets = JSON.parse(text.split("\n")[0]) as { a: string; b: string };
  let exited = false;
  const status = child.status.then((s) => {
    exited = true;
    return s;
  });
  const pid = child.pid;
  return {
    ...sockets,
    pid,
    alive: () => !exited,
    descriptors: () => [...Deno.readDirSync(`/proc/${pid}/fd`)].length,
    rssMiB: () => {
      const text = Deno.readTextFileSync(`/proc/${pid}/status`);
      return Number(/VmRSS:\s+(\d+) kB/.exec(text)![1]) / 1024;
    },
    stderr: () => stderr,
    async [Symbol.asyncDispose]() {
      if (!exited) child.kill("SIGKILL");
      await status;
      await stderrDone;
      await Deno.remove(dir, { recursive: true });
    },
  };
}
