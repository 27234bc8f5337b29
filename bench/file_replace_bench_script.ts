/**
 * A small file replaced without an fsync (the audit trail's branch ref, a provider's status
 * file): `Deno.renameSync` over it, against state/file_replace.ts (`renameat2`'s
 * `RENAME_EXCHANGE`, no ext4 flush; the old file removed off the caller's thread), in the same
 * run, alternating rounds; quiet, then beside a process that appends and fsyncs a file in a loop
 * (a busy disk, as a host of agents makes it). Wall time a replacement on the caller's thread (the
 * rename and the exchange are synchronous calls), p50 / p90 / p99.
 *
 * Run: deno run -A bench/file_replace_bench_script.ts [replacements a round = 500] [rounds = 3]
 */
import { exchangeAvailable, replaceFile } from "../state/file_replace.ts";

const perRound = Number(Deno.args[0] ?? 500);
const rounds = Number(Deno.args[1] ?? 3);
const dir = await Deno.makeTempDir({ prefix: "tp-bench-replace-" });
const ref = `${dir}/ref`;
Deno.writeTextFileSync(ref, `${"0".repeat(40)}\n`);
const line = new TextEncoder().encode(`${"1".repeat(40)}\n`);

async function round(replace: (from: string, to: string) => unknown): Promise<number[]> {
  const times: number[] = [];
  for (let i = 0; i < perRound; i++) {
    const lock = `${ref}.lock`;
    const file = Deno.openSync(lock, { write: true, createNew: true, mode: 0o644 });
    file.writeSync(line);
    file.close();
    const t0 = performance.now();
    const removed = replace(lock, ref);
    times.push(performance.now() - t0);
    // The old file's removal, off this thread, is done before the lock's name is used again.
    await removed;
  }
  return times;
}

const pct = (sorted: number[], p: number) =>
  sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))];
const show = (t: number[]) => {
  t.sort((a, b) => a - b);
  return `p50 ${pct(t, 0.5).toFixed(3)} p90 ${pct(t, 0.9).toFixed(3)} p99 ${
    pct(t, 0.99).toFixed(3)
  } ms`;
};

async function measure(label: string) {
  const over: number[] = [];
  const exchange: number[] = [];
  for (let r = 0; r < rounds; r++) {
    over.push(...await round((a, b) => Deno.renameSync(a, b)));
    exchange.push(...await round(replaceFile));
    await new Promise((resolve) => setTimeout(resolve, 0));
  }
  console.log(`${label}: rename over it ${show(over)} | exchange ${show(exchange)}`);
}

console.log(
  `${perRound} replacements a round, ${rounds} rounds each, alternating; exchange available: ${exchangeAvailable()}`,
);
await measure("quiet");
// A busy disk: another process appends 4 KiB and fsyncs, over and over.
const load = new Deno.Command(Deno.execPath(), {
  args: [
    "eval",
    `const f = Deno.openSync(${
      JSON.stringify(`${dir}/load`)
    }, { write: true, create: true, append: true });
     const b = new Uint8Array(4096);
     while (true) { f.writeSync(b); f.syncDataSync(); }`,
  ],
}).spawn();
await new Promise((resolve) => setTimeout(resolve, 200));
await measure("beside an fsync loop");
load.kill("SIGKILL");
await load.status;
await Deno.remove(dir, { recursive: true });
