/**
 * What a provider's job store costs to open and to hold as its history grows (docs/SCALE.md "A
 * provider's memory and start"): a state dir with N published jobs and their income rows
 * (bench/aged_profile.ts), then the store opened R times, each in a fresh process so that its
 * memory is its own: the milliseconds `openProviderJobStore` takes and what the process's resident
 * memory grew by with the store open (after a full GC), best and median. With `--first`, the first
 * open after the seeding is reported apart (an index made before a change of its tables is
 * changed then, once).
 *
 * Run: deno run -A bench/provider_store_bench_script.ts [--jobs 100000] [--rounds 3] [--first]
 * (the same script in another checkout measures that checkout's store).
 *
 * @module
 */
import { parseBenchFlags } from "./bench_flags.ts";
import { seedProviderHistory } from "./aged_profile.ts";
import { openProviderJobStore } from "../state/jobs/provider_job_store.ts";

const { values, switches } = parseBenchFlags(Deno.args, {
  values: ["jobs", "rounds", "measure"],
  switches: ["first"],
  usage: "Usage: deno run -A bench/provider_store_bench_script.ts [--jobs 100000] [--rounds 3] " +
    "[--first]",
});

function rssMiB(): number {
  const status = Deno.readTextFileSync("/proc/self/status");
  return Number(/VmRSS:\s+(\d+) kB/.exec(status)![1]) / 1024;
}

if (values.measure !== undefined) {
  const gc = (globalThis as { gc?: () => void }).gc!;
  gc();
  const before = rssMiB();
  const t = performance.now();
  const store = await openProviderJobStore({ stateDir: values.measure });
  const ms = performance.now() - t;
  gc();
  console.log(
    JSON.stringify({ ms, mib: rssMiB() - before, unfinished: store.unfinished().length }),
  );
  store.close();
  Deno.exit(0);
}

const jobs = Number(values.jobs ?? 100_000);
const rounds = Number(values.rounds ?? 3);
const stateDir = await Deno.makeTempDir({ prefix: "turnpike-store-bench-" });
try {
  const t = performance.now();
  await seedProviderHistory({ stateDir, jobs, customer: "cd".repeat(32) });
  console.log(`${jobs} published jobs seeded in ${(performance.now() - t).toFixed(0)} ms`);
  const measure = async () => {
    const out = await new Deno.Command(Deno.execPath(), {
      args: [
        "run",
        "-A",
        "--v8-flags=--expose-gc",
        new URL(import.meta.url).pathname,
        "--measure",
        stateDir,
      ],
      stderr: "inherit",
    }).output();
    if (!out.success) throw new Error("the measuring process failed");
    return JSON.parse(new TextDecoder().decode(out.stdout)) as { ms: number; mib: number };
  };
  if (switches.first) {
    const first = await measure();
    console.log(`first open: ${first.ms.toFixed(0)} ms, +${first.mib.toFixed(1)} MiB`);
  }
  const runs: { ms: number; mib: number }[] = [];
  for (let i = 0; i < rounds; i++) runs.push(await measure());
  const best = (k: "ms" | "mib") => Math.min(...runs.map((r) => r[k]));
  const median = (k: "ms" | "mib") => runs.map((r) => r[k]).sort((a, b) => a - b)[runs.length >> 1];
  console.log(
    `open: best ${best("ms").toFixed(0)} ms, median ${median("ms").toFixed(0)} ms; ` +
      `memory held: best +${best("mib").toFixed(1)} MiB, median +${median("mib").toFixed(1)} MiB`,
  );
} finally {
  await Deno.remove(stateDir, { recursive: true });
}
