/**
 * Where a V8 CPU profile's time goes: reads `.cpuprofile` files (what `deno run --cpu-prof`
 * writes, one per isolate: the main thread and each worker) and prints the busy time (all but
 * `(idle)`) by file and by function, self time; with `--inclusive` also the time under each
 * function; with `--callers <name>` the call paths (nearest frames of the project and its
 * packages first) under which the samples whose function or file contains `<name>` ran.
 *
 * A sample in a synchronous op (`op_fs_open_sync`...) is the thread's wall time in that call,
 * the kernel's work and its waits alike; pair it with `perf` for what is CPU
 * (docs/SCALE.md "Where a no-op job's CPU goes").
 *
 *     deno run -A --cpu-prof --cpu-prof-dir=/tmp/prof bench/requester_jobs_bench_script.ts \
 *       --only latency --sh-only
 *     deno run -A bench/cpu_profile_summary_script.ts /tmp/prof/CPU.*.cpuprofile \
 *       [--top 30] [--inclusive] [--callers op_fs_open_sync] [--depth 4] [--per 200]
 *
 * `--per <n>`: also print each figure divided by n (ms per job for a run of n jobs).
 * `--window <from>,<to>`: only the samples between those seconds of the profile (negative: counted
 *   back from its end), e.g. a scale run's jobs without its start and its closes.
 *
 * @module
 */
import { parseBenchFlags } from "./bench_flags.ts";

const usage = "Usage: deno run -A bench/cpu_profile_summary_script.ts <file.cpuprofile>... " +
  "[--top 30] [--inclusive] [--callers <name>] [--depth 4] [--per <jobs>] [--window <from>,<to>]";
// The profiles first, then the flags.
const firstFlag = Deno.args.findIndex((a) => a.startsWith("-"));
const rest = firstFlag === -1 ? Deno.args : Deno.args.slice(0, firstFlag);
const { values, switches } = parseBenchFlags(firstFlag === -1 ? [] : Deno.args.slice(firstFlag), {
  values: ["top", "callers", "depth", "per", "window"],
  switches: ["inclusive"],
  usage,
});
if (rest.length === 0) {
  console.error(usage);
  Deno.exit(2);
}
const top = Number(values.top ?? 30);
const depth = Number(values.depth ?? 4);
const per = values.per === undefined ? undefined : Number(values.per);
const window = values.window?.split(",").map((v) => Number(v) * 1e6);
if (window !== undefined && (window.length !== 2 || window.some((v) => !Number.isFinite(v)))) {
  console.error(`--window wants <from>,<to> in seconds (negative: before the profile's end)`);
  Deno.exit(2);
}

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  children?: number[];
}
interface Profile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
}

/** A frame's name: function, then its file relative to the project or its package. */
function frameName(node: ProfileNode): string {
  const url = fileOf(node);
  return `${node.callFrame.functionName || "(anonymous)"}${
    url === "" ? "" : ` ${url}:${node.callFrame.lineNumber + 1}`
  }`;
}

function fileOf(node: ProfileNode): string {
  const url = node.callFrame.url;
  const npm = url.indexOf("/node_modules/.deno/");
  if (npm !== -1) return `npm:${url.slice(npm + "/node_modules/.deno/".length).split("/")[0]}`;
  const here = new URL("../", import.meta.url).href;
  return url.startsWith(here) ? url.slice(here.length) : url;
}

function ms(us: number): string {
  const figure = `${(us / 1000).toFixed(0).padStart(7)} ms`;
  return per === undefined ? figure : `${figure} ${(us / 1000 / per).toFixed(2).padStart(7)}/job`;
}

function printTop(title: string, totals: Map<string, number>, busy: number): void {
  console.log(`-- ${title}`);
  const rows = [...totals].sort((a, b) => b[1] - a[1]).slice(0, top);
  for (const [name, us] of rows) {
    console.log(`${ms(us)} ${(100 * us / busy).toFixed(1).padStart(5)}%  ${name}`);
  }
}

for (const file of rest) {
  const profile: Profile = JSON.parse(await Deno.readTextFile(file));
  const nodes = new Map(profile.nodes.map((n) => [n.id, n]));
  const parent = new Map<number, number>();
  for (const n of profile.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
  const selfByNode = new Map<number, number>();
  // `--window`: only the samples in it (a long run's jobs, its start and end left out).
  const total = profile.timeDeltas.reduce((a, b) => a + b, 0);
  const [from, to] = (window ?? [0, total]).map((v) => v < 0 ? total + v : v);
  let at = 0;
  profile.samples.forEach((id, i) => {
    at += profile.timeDeltas[i] ?? 0;
    if (at < from || at > to) return;
    selfByNode.set(id, (selfByNode.get(id) ?? 0) + (profile.timeDeltas[i] ?? 0));
  });
  const byFile = new Map<string, number>();
  const byFunction = new Map<string, number>();
  const inclusive = new Map<string, number>();
  const callers = new Map<string, number>();
  const add = (m: Map<string, number>, key: string, us: number) =>
    m.set(key, (m.get(key) ?? 0) + us);
  let busy = 0;
  let idle = 0;
  for (const [id, us] of selfByNode) {
    const node = nodes.get(id)!;
    if (node.callFrame.functionName === "(idle)") {
      idle += us;
      continue;
    }
    busy += us;
    add(byFile, fileOf(node) || node.callFrame.functionName, us);
    add(byFunction, frameName(node), us);
    if (switches.inclusive) {
      const seen = new Set<string>();
      for (let at: number | undefined = id; at !== undefined; at = parent.get(at)) {
        const name = frameName(nodes.get(at)!);
        if (!seen.has(name)) add(inclusive, name, us);
        seen.add(name);
      }
    }
    if (values.callers !== undefined && frameName(node).includes(values.callers)) {
      const path: string[] = [];
      for (let at = parent.get(id); at !== undefined && path.length < depth; at = parent.get(at)) {
        const up = nodes.get(at)!;
        const where = fileOf(up);
        if (where !== "" && !where.startsWith("ext:")) path.push(frameName(up));
      }
      add(callers, path.join(" < ") || "(no caller of the project)", us);
    }
  }
  console.log(`== ${file}: busy ${ms(busy)}, idle ${ms(idle)}`);
  printTop("self time by file", byFile, busy);
  printTop("self time by function", byFunction, busy);
  if (switches.inclusive) printTop("time under each function (inclusive)", inclusive, busy);
  if (values.callers !== undefined) printTop(`callers of ${values.callers}`, callers, busy);
}
