/**
 * What one paid packet's fulfillment work costs (protocol/ilp_fulfillment.ts): the per-secret
 * key, the fulfillment and its condition (the receiver), and the condition checked (the sender),
 * one after the other, as a job's payment does them. Prints wall and CPU (this process, from
 * /proc/self/stat) per packet.
 *
 * Run: deno run -A bench/ilp_fulfillment_cost_bench_script.ts [--packets 20000] [--rounds 3]
 *
 * @module
 */
import {
  checkFulfillment,
  fulfillmentFor,
  importFulfillmentKey,
} from "../protocol/ilp_fulfillment.ts";

const arg = (name: string, fallback: number) =>
  Deno.args.includes(name) ? Number(Deno.args[Deno.args.indexOf(name) + 1]) : fallback;
const packets = arg("--packets", 20_000);
const rounds = arg("--rounds", 3);

/** CPU ms of this process (user + system), from /proc/self/stat. */
function cpuMs(): number {
  const fields = Deno.readTextFileSync("/proc/self/stat").split(") ")[1].split(" ");
  const ticks = Number(fields[11]) + Number(fields[12]);
  return ticks * 10; // USER_HZ 100
}

const secret = crypto.getRandomValues(new Uint8Array(32));
const data = new TextEncoder().encode("id: x\nkind: 5100\n".repeat(20));
for (let r = 0; r < rounds; r++) {
  const cpu0 = cpuMs();
  const t0 = performance.now();
  for (let i = 0; i < packets; i++) {
    const key = await importFulfillmentKey(secret);
    const { fulfillment, condition } = await fulfillmentFor(key, data);
    if (!await checkFulfillment(fulfillment, condition)) throw new Error("condition mismatch");
  }
  const wall = performance.now() - t0;
  const cpu = cpuMs() - cpu0;
  console.log(
    `round ${r + 1}: ${packets} packets, per packet ${
      (wall * 1000 / packets).toFixed(1)
    } us wall, ${(cpu * 1000 / packets).toFixed(1)} us CPU`,
  );
}
