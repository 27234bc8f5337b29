/**
 * Time from `job submit --wait` to the result for a requester with `[channels] auto`: on a
 * fresh profile (no channel yet: the town's kind 10032 is read, a channel opened and funded on
 * chain, then the job) versus the same profile's next job (the channel is open). Real processes
 * on a local anvil: a town, a provider (`node up`, its own channel opened automatically) and N
 * requester profiles, each measured once fresh and once with its channel. Both timings include
 * the CLI's start-up and the wallet unlock; the difference is the automatic opening.
 *
 * Run: deno run -A bench/channel_auto_open_bench_script.ts [profiles=3]
 *
 * @module
 */
import { runCli } from "../harness/run_cli.ts";
import { spawnCli } from "../harness/cli_process.ts";
import { freePort } from "../harness/free_port.ts";

const profiles = Number(Deno.args[0] ?? 3);
const home = await Deno.makeTempDir({ prefix: "auto_open_bench_" });
const pass = `${home}/pass`;
await Deno.writeTextFile(pass, "bench passphrase\n");
const env = { TURNPIKE_HOME: home };
const secret = ["--passphrase-file", pass, "--non-interactive"];
const [townPort, btpPort] = [freePort(), freePort()];
const names = Array.from({ length: profiles }, (_, i) => `alice${i}`);

async function cli(profile: string, ...args: string[]) {
  const res = await runCli(["--profile", profile, ...args, ...secret], { env });
  if (res.code !== 0) throw new Error(`${profile} ${args.join(" ")}: ${res.stderr}`);
  return res;
}

const peers = [...names, "beta"].flatMap((n) => ["--peer", `${n}:${n}-token`]);
await cli(
  "town",
  "init",
  "--role",
  "town",
  "--town-port",
  `${townPort}`,
  "--btp-port",
  `${btpPort}`,
  ...peers,
);
for (const [name, role] of [...names.map((n) => [n, "requester"]), ["beta", "provider"]]) {
  await cli(
    name,
    "init",
    "--role",
    role,
    "--town",
    `ws://127.0.0.1:${townPort}`,
    "--btp-url",
    `btp+ws://127.0.0.1:${btpPort}`,
    "--btp-token",
    `${name}-token`,
  );
}
const configs = ["town", "beta", ...names].flatMap((n) => ["--config", `${home}/${n}`]);
const chain = spawnCli(["chain", "up", "--port", "0", ...configs], { env });
let town: ReturnType<typeof spawnCli> | undefined;
let provider: ReturnType<typeof spawnCli> | undefined;
try {
  await chain.waitForLine((l) => l.startsWith("Ready."));
  town = spawnCli(["--profile", "town", "town", "up", ...secret], { env });
  await town.waitForLine((l) => l.startsWith("  learns"));
  provider = spawnCli(["--profile", "beta", "node", "up", ...secret], { env });
  await provider.waitForLine((l) => /^ {2}network\s/.test(l));
  const fresh: number[] = [];
  const open: number[] = [];
  const opening: number[] = [];
  for (const name of names) {
    for (const list of [fresh, open]) {
      const started = performance.now();
      const res = await cli(
        name,
        "job",
        "submit",
        "echo",
        "--input",
        "text:bench",
        "--bid",
        "50000",
        "--wait",
      );
      list.push(performance.now() - started);
      const ms = /deposit .* in (\d+) ms/.exec(res.stderr)?.[1];
      if (ms) opening.push(Number(ms));
    }
  }
  const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
  const fmt = (xs: number[]) =>
    `median ${Math.round(median(xs))} ms (${xs.map((x) => Math.round(x)).join(", ")})`;
  console.log(`job submit --wait to result, ${profiles} requester profiles, anvil, loopback`);
  console.log(`  fresh profile (auto-open + job): ${fmt(fresh)}`);
  console.log(`  channel already open:            ${fmt(open)}`);
  console.log(`  the opening itself (10032, approve, open, deposit): ${fmt(opening)}`);
} finally {
  for (const p of [provider, town, chain]) {
    if (!p) continue;
    try {
      p.child.kill("SIGINT");
    } catch {
      // already exited
    }
    await p.done;
  }
  await Deno.remove(home, { recursive: true });
}
