/**
 * What anvil's log of each request costs: the same read requests (`eth_blockNumber` and
 * `eth_getBalance`, half each) against an anvil started by `startAnvil` with its log kept
 * (`log: true`, as before) and turned off (the default), alternating, each round a fresh anvil.
 * Printed: anvil's CPU, and this process's (the client's requests and, with the log, the drain
 * that reads and decodes it), ms per 1,000 requests. docs/SCALE.md "anvil's log".
 *
 * Run: deno run -A bench/anvil_request_log_bench_script.ts [--requests 3000] [--rounds 3]
 *
 * @module
 */
import { startAnvil } from "../chain/anvil.ts";
import { parseBenchFlags } from "./bench_flags.ts";
import { processCpuMs } from "./process_cpu.ts";

const { values } = parseBenchFlags(Deno.args, {
  values: ["requests", "rounds"],
  switches: [],
  usage:
    "Usage: deno run -A bench/anvil_request_log_bench_script.ts [--requests 3000] [--rounds 3]",
});
const requests = Number(values.requests ?? 3000);
const rounds = Number(values.rounds ?? 3);

async function measure(log: boolean): Promise<{ anvil: number; self: number }> {
  const anvil = await startAnvil({ log });
  try {
    const call = async (i: number) => {
      const body = i % 2 === 0
        ? { jsonrpc: "2.0", id: i, method: "eth_blockNumber", params: [] }
        : {
          jsonrpc: "2.0",
          id: i,
          method: "eth_getBalance",
          params: ["0x0000000000000000000000000000000000000001", "latest"],
        };
      const response = await fetch(anvil.rpcUrl, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify(body),
      });
      await response.json();
    };
    for (let i = 0; i < 200; i++) await call(i); // warm-up
    const anvilBefore = (await processCpuMs(anvil.pid)).self;
    const selfBefore = (await processCpuMs()).self;
    // Eight at a time, as several processes' watchers would ask.
    let next = 0;
    await Promise.all(
      Array.from({ length: 8 }, async () => {
        while (next < requests) await call(next++);
      }),
    );
    await new Promise((r) => setTimeout(r, 200)); // the drain catches up
    return {
      anvil: ((await processCpuMs(anvil.pid)).self - anvilBefore) * 1000 / requests,
      self: ((await processCpuMs()).self - selfBefore) * 1000 / requests,
    };
  } finally {
    await anvil.stop();
  }
}

console.log(`${requests} read requests a run, 8 at a time; CPU ms per 1,000 requests`);
for (let round = 1; round <= rounds; round++) {
  const kept = await measure(true);
  const off = await measure(false);
  console.log(
    `round ${round}: log kept: anvil ${kept.anvil.toFixed(0)}, this process ${
      kept.self.toFixed(0)
    }; log off: anvil ${off.anvil.toFixed(0)}, this process ${off.self.toFixed(0)}`,
  );
}
