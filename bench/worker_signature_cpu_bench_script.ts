/**
 * The process CPU time (all threads, `process.cpuUsage()`) of a key's worker
 * (identity/worker_node_signer.ts) started with a throwaway key: started and closed unsigned, with
 * one signature, with 8 (all by @noble/curves in the worker, identity/event_signer.ts), for this
 * checkout and, given a second one, for that one too, alternating. CPU time rather than
 * `deno bench`'s wall time (bench/worker_signature_bench.ts): on a machine shared with other work
 * it moves far less with the load.
 *
 *     deno run -A --unstable-worker-options bench/worker_signature_cpu_bench_script.ts [other checkout] [runs]
 *
 * @module
 */
import process from "node:process";
import type { NodeSigner } from "../protocol/node_signer.ts";

type Open = (source: { generate: true }) => Promise<NodeSigner>;

const here = new URL("..", import.meta.url).pathname.replace(/\/$/, "");
const other = Deno.args[0] || undefined;
const runs = Number(Deno.args[1] ?? 20);

const trees: [string, Open][] = [];
for (const [name, dir] of [["this", here], ["other", other]] as const) {
  if (dir === undefined) continue;
  const module = await import(`${dir}/identity/worker_node_signer.ts`);
  trees.push([name, module.openWorkerNodeSigner as Open]);
}

async function cpuMs(open: Open, signatures: number): Promise<number> {
  const start = process.cpuUsage();
  const signer = await open({ generate: true });
  for (let i = 0; i < signatures; i++) {
    await signer.signEvent({
      kind: 7000,
      created_at: i,
      tags: [["status", "processing"]],
      content: "",
    });
  }
  signer.close();
  const used = process.cpuUsage(start);
  return (used.user + used.system) / 1000;
}

const times = new Map<string, number[]>();
for (let run = 0; run < runs + 1; run++) {
  for (const [name, open] of trees) {
    for (const n of [0, 1, 8]) {
      const ms = await cpuMs(open, n);
      if (run === 0) continue; // warm-up
      const key = `${name}: ${n} signature(s)`;
      times.set(key, [...(times.get(key) ?? []), ms]);
    }
  }
}
console.log("| checkout: worker | CPU ms median | p25 / p75 |");
console.log("| --- | ---: | ---: |");
for (const [key, list] of times) {
  const s = list.toSorted((a, b) => a - b);
  const q = (f: number) => s[Math.floor((s.length - 1) * f)].toFixed(1);
  console.log(`| ${key} | ${q(0.5)} | ${q(0.25)} / ${q(0.75)} |`);
}
console.log(`(this = ${here}${other ? `, other = ${other}` : ""}; ${runs} runs after one warm-up)`);
