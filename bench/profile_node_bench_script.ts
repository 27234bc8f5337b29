/**
 * Many jobs from one profile, measured on real peers (a town, a provider with the built-in echo
 * skill, anvil and an automatic channel), every command its own `turnpike` process as an agent
 * runs them (docs/ARCHITECTURE.md "The profile's node"):
 *
 * - one CLI call, start to its first byte on stdout (the `sent` line) and to its exit: the first
 *   (it starts the profile's node: unlock, town link, channel) vs the next ones (the node runs);
 * - 20 `job submit --wait` started at once vs one after another, wall time;
 * - the node's RSS, idle after the jobs.
 *
 * With `--before <path to an older checkout's cli.ts>` the same calls run first through that
 * version (each command its own requester: unlock, link, channel lock), for a same-run
 * comparison; its concurrent run shows how many of 20 got through.
 *
 *     deno run -A bench/profile_node_bench_script.ts [--before /tmp/old/cli.ts] [--jobs 20]
 *
 * @module
 */
import { providerOnline, startAutoChannelNetwork } from "../harness/auto_channel_network.ts";
import { runCli } from "../harness/run_cli.ts";
import { parseBenchFlags } from "./bench_flags.ts";

const { values } = parseBenchFlags(Deno.args, {
  values: ["before", "jobs"],
  switches: [],
  usage:
    "Usage: deno run -A bench/profile_node_bench_script.ts [--before /tmp/old/cli.ts] [--jobs 20]",
});
const before = values.before;
const jobs = Number(values.jobs ?? 20);

interface Timed {
  code: number;
  firstByteMs: number;
  totalMs: number;
  stderr: string;
}

/** Runs one CLI (this one or `cli`), timing its first stdout byte and its exit. */
async function timed(
  cli: string,
  cliArgs: string[],
  env: Record<string, string>,
): Promise<Timed> {
  const start = performance.now();
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", cli, ...cliArgs],
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
    env: { NO_COLOR: "1", ...env },
  }).spawn();
  let firstByteMs = -1;
  const out = (async () => {
    for await (const _ of child.stdout) {
      if (firstByteMs < 0) firstByteMs = performance.now() - start;
    }
  })();
  const err = new Response(child.stderr).text();
  const [status, stderr] = await Promise.all([child.status, err, out]);
  return { code: status.code, firstByteMs, totalMs: performance.now() - start, stderr };
}

const percentile = (xs: number[], p: number) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor(p * s.length))];
};
const ms = (x: number) => `${x.toFixed(0)} ms`;

const net = await startAutoChannelNetwork({ prefix: "bench_profile_node_", provider: true });
try {
  await providerOnline(net.env);
  const submit = (cli: string, text: string) =>
    timed(cli, [
      "--profile",
      "alice",
      "--json",
      "job",
      "submit",
      "echo",
      "--input",
      `text:${text}`,
      "--bid",
      "100000",
      "--wait",
      ...net.secret,
    ], net.env);
  const thisCli = new URL("../cli.ts", import.meta.url).pathname;
  const rows: string[] = [];
  const series = async (cli: string, label: string) => {
    const seq: Timed[] = [];
    const t0 = performance.now();
    for (let i = 0; i < jobs; i++) seq.push(await submit(cli, `${label} seq ${i}`));
    const seqWall = performance.now() - t0;
    const t1 = performance.now();
    const par = await Promise.all(
      Array.from({ length: jobs }, (_, i) => submit(cli, `${label} par ${i}`)),
    );
    const parWall = performance.now() - t1;
    const okSeq = seq.filter((r) => r.code === 0);
    rows.push(
      `${label}: one after another ${jobs} jobs ${ms(seqWall)} (${okSeq.length} ok); ` +
        `first byte p50 ${ms(percentile(okSeq.map((r) => r.firstByteMs), 0.5))}, ` +
        `exit p50 ${ms(percentile(okSeq.map((r) => r.totalMs), 0.5))}`,
    );
    rows.push(
      `${label}: ${jobs} at once ${ms(parWall)}, ${par.filter((r) => r.code === 0).length} of ` +
        `${jobs} done` +
        (par.some((r) => r.code !== 0)
          ? `; first failure: ${
            par.find((r) => r.code !== 0)!.stderr.split("\n").find((l) => l.startsWith("Error:"))
          }`
          : ""),
    );
  };
  if (before !== undefined) await series(before, "before (one requester per command)");
  const cold = await submit(thisCli, "cold");
  rows.push(
    `after: the first call (starts the node) first byte ${ms(cold.firstByteMs)}, exit ` +
      `${ms(cold.totalMs)} (code ${cold.code})`,
  );
  await series(thisCli, "after (the profile's node)");
  const version = await timed(thisCli, ["--version"], net.env);
  rows.push(`reference: \`turnpike --version\` (module load only) exit ${ms(version.totalMs)}`);
  await new Promise((r) => setTimeout(r, 2000));
  const status = await runCli(["--profile", "alice", "--json", "node", "status"], {
    env: net.env,
  });
  const pid = JSON.parse(status.stdout).node?.pid;
  const rss = pid === undefined
    ? "?"
    : (await Deno.readTextFile(`/proc/${pid}/status`)).match(/VmRSS:\s+(\d+) kB/)?.[1];
  rows.push(`the node's RSS idle after the jobs: ${Math.round(Number(rss) / 1024)} MiB`);
  console.log(rows.join("\n"));
} finally {
  await net[Symbol.asyncDispose]();
}
