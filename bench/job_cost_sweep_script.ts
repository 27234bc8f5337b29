/**
 * A job's cost at several sizes in one run: the scale harness (`bench/network_scale_bench_script.ts`)
 * run back to back on the same tree at 10, 100 and 1,000 pairs (20, 200, 2,000 agents), 1 town,
 * the same job rate, requesters and providers in host processes; then one table of what a job
 * cost at each size (docs/SCALE.md "A job's cost and the agents that take no part in it").
 *
 *     deno run -A bench/job_cost_sweep_script.ts [--agents 20,200,2000] [--rate 2] [--seconds 40]
 *       [--per-provider-host 50] [--per-requester-host 125] [--start-batch 16] [--out DIR]
 *
 * Writes each size's report (`DIR/agents-N.json`, `.md`, `.svg`) and the table (`DIR/sweep.md`),
 * and prints the table.
 *
 * @module
 */
import { parseBenchFlags } from "./bench_flags.ts";

const { values } = parseBenchFlags(Deno.args, {
  values: [
    "agents",
    "rate",
    "seconds",
    "per-provider-host",
    "per-requester-host",
    "start-batch",
    "out",
  ],
  switches: [],
  usage:
    `Usage: deno run -A bench/job_cost_sweep_script.ts [--agents 20,200,2000] [--rate 2] [--seconds 40]
  [--per-provider-host 50] [--per-requester-host 125] [--start-batch 16] [--out DIR]`,
});
const opt = (name: keyof typeof values, fallback: string) => values[name] ?? fallback;
const sizes = opt("agents", "20,200,2000").split(",").map(Number);
const rate = opt("rate", "2");
const seconds = opt("seconds", "40");
const perProviderHost = Number(opt("per-provider-host", "50"));
const perRequesterHost = Number(opt("per-requester-host", "125"));
const startBatch = opt("start-batch", "16");
const out = opt("out", await Deno.makeTempDir({ prefix: "job-cost-sweep-" }));
await Deno.mkdir(out, { recursive: true });

/** The figures of one size, from its report. */
interface Row {
  agents: number;
  offered: number;
  done: number;
  p50: number;
  p99: number;
  own: number;
  children: number;
  lessIdle: number;
  town: number;
  idlePerAgentHour: number;
  loadAvg: string;
}

const harness = new URL("./network_scale_bench_script.ts", import.meta.url).pathname;
const rows: Row[] = [];
for (const agents of sizes) {
  const pairs = Math.floor(agents / 2);
  const report = `${out}/agents-${agents}.json`;
  const cmd = [
    "run",
    "-A",
    harness,
    "--agents",
    String(agents),
    "--towns",
    "1",
    "--seconds",
    seconds,
    "--rate",
    rate,
    "--provider-hosts",
    String(perProviderHost),
    "--requester-hosts",
    String(Math.max(1, Math.ceil(pairs / perRequesterHost))),
    "--start-batch",
    startBatch,
    "--report",
    report,
  ];
  console.error(`sweep: deno ${cmd.join(" ")}`);
  const load0 = (await Deno.readTextFile("/proc/loadavg")).split(" ")[0];
  const status = await new Deno.Command(Deno.execPath(), { args: cmd, stdout: "null" })
    .spawn().status;
  const load1 = (await Deno.readTextFile("/proc/loadavg")).split(" ")[0];
  if (!status.success) throw new Error(`the harness failed at ${agents} agents (${status.code})`);
  const r = JSON.parse(await Deno.readTextFile(report));
  rows.push({
    agents,
    offered: r.jobs.offered,
    done: r.jobs.done,
    p50: r.latencyMs.p50,
    p99: r.latencyMs.p99,
    own: r.agents.cpuMsPerJob,
    children: r.agents.childCpuMsPerJob,
    lessIdle: r.agents.marginalCpuMsPerJob,
    town: r.townCpuMsPerJob,
    idlePerAgentHour: r.agents.idleCpuMsPerAgentHour,
    loadAvg: `${load0}-${load1}`,
  });
}

const table = [
  "| pairs (agents) | offered / done | agents' CPU ms / job (own + children) | less idle | town CPU ms / job | all, less idle | p50 / p99 ms | idle CPU ms / agent-hour | load (start-end) |",
  "| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
  ...rows.map((x) =>
    `| ${
      x.agents / 2
    } (${x.agents}) | ${x.offered} / ${x.done} | ${x.own} + ${x.children} | ${x.lessIdle} | ${x.town} | ${
      x.lessIdle + x.town
    } | ${x.p50} / ${x.p99} | ${x.idlePerAgentHour} | ${x.loadAvg} |`
  ),
].join("\n");
await Deno.writeTextFile(`${out}/sweep.md`, `${table}\n`);
await Deno.writeTextFile(`${out}/sweep.json`, JSON.stringify(rows, null, 2));
console.log(table);
console.error(`sweep: reports in ${out}`);
