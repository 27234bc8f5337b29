/**
 * What an idle town's stopped key worker costs the next request that needs the key: `turnpike
 * town up` (the CLI, a real process, `--generate-key`, SQLite) is started, its start timed (spawn
 * to its JSON line), left idle `IDLE_S` seconds, then an SPSP handshake over BTP (the town's
 * answer is an event its key signs, after a NIP-44 key it derives) is timed, then a second one
 * (the worker running again). Given a second checkout, the same for that one, alternating.
 * Prints each run and the medians (docs/SCALE.md "An idle town's memory").
 *
 *     deno run -A bench/town_idle_first_sign_bench_script.ts [other checkout] [runs] [idle seconds]
 *
 * @module
 */
import { connectPayingClient } from "../harness/town_test_node.ts";
import { startCheckoutTown, type TownUpLine } from "../harness/checkout_process.ts";

const here = new URL("..", import.meta.url).pathname.replace(/\/$/, "");
const other = Deno.args[0] || undefined;
const runs = Number(Deno.args[1] ?? 3);
const idleS = Number(Deno.args[2] ?? 12);

interface Run {
  startMs: number;
  firstMs: number;
  secondMs: number;
}

async function handshakeMs(info: TownUpLine) {
  const t0 = performance.now();
  const payer = await connectPayingClient({
    url: `btp+ws://p${crypto.randomUUID().slice(0, 8)}:t@127.0.0.1:${info.btpPort}`,
    token: "t",
    townAddress: info.ilpAddress,
    townPubkey: info.pubkey,
  });
  const ms = performance.now() - t0;
  await payer.close();
  return ms;
}

async function oneRun(checkout: string): Promise<Run> {
  const stateDir = await Deno.makeTempDir({ prefix: "idle_first_sign_" });
  try {
    await using town = await startCheckoutTown({
      checkout,
      stateDir,
      townArgs: ["--dev-accept-any-token"],
    });
    await new Promise((r) => setTimeout(r, idleS * 1000));
    const firstMs = await handshakeMs(town.info);
    const secondMs = await handshakeMs(town.info);
    return { startMs: town.startMs, firstMs, secondMs };
  } finally {
    await Deno.remove(stateDir, { recursive: true }).catch(() => {});
  }
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const checkouts = other === undefined ? [here] : [other, here];
const results = new Map<string, Run[]>();
for (let run = 0; run < runs; run++) {
  for (const checkout of checkouts) {
    const r = await oneRun(checkout);
    results.set(checkout, [...results.get(checkout) ?? [], r]);
    console.error(
      `run ${run + 1} ${checkout}: start ${r.startMs.toFixed(0)} ms, first SPSP after ${idleS} s ` +
        `idle ${r.firstMs.toFixed(1)} ms, second ${r.secondMs.toFixed(1)} ms`,
    );
  }
}
console.log("| checkout | start (ms) | first SPSP after idle (ms) | second (ms) | runs |");
console.log("| --- | --- | --- | --- | --- |");
for (const [checkout, rs] of results) {
  const m = (f: (r: Run) => number) => median(rs.map(f)).toFixed(1);
  console.log(
    `| ${checkout} | ${m((r) => r.startMs)} | ${m((r) => r.firstMs)} | ${
      m((r) => r.secondMs)
    } | ${rs.length} |`,
  );
}
