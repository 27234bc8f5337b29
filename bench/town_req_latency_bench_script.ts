/**
 * How long a REQ takes to be answered to EOSE when the town is idle: 500 small stored events, a
 * raw WebSocket client that only counts (no verification, so the figure is the town's), p50 and
 * min of 30 REQs. `--root <checkout>` runs another checkout's town in the same way, to compare
 * (e.g. before and after a change to the read side's pacing). `--store <postgres://...>` keeps the
 * events in that PostgreSQL database (an empty one) instead of SQLite.
 *
 * Run: deno run -A bench/town_req_latency_bench_script.ts [--root <repo checkout>]
 * [--store <postgres://...>]
 *
 * @module
 */
import { finalizeEvent, generateSecretKey } from "nostr-tools";
import { encodeEventToon } from "../protocol/toon_codec.ts";
import type { NostrEvent } from "../protocol/nostr_event.ts";

const at = Deno.args.indexOf("--root");
const root = at >= 0
  ? new URL(`file://${Deno.realPathSync(Deno.args[at + 1])}/`)
  : new URL("../", import.meta.url);
const storeAt = Deno.args.indexOf("--store");
const storeUrl = storeAt >= 0 ? Deno.args[storeAt + 1] : undefined;
const { startTestTown } = await import(
  new URL("harness/town_test_node.ts", root).href
) as typeof import("../harness/town_test_node.ts");

const EVENTS = 500;
const ROUNDS = 30;
const town = await startTestTown({ secretKey: generateSecretKey(), storeUrl });
const key = generateSecretKey();
const now = Math.floor(Date.now() / 1000);
for (let i = 0; i < EVENTS; i++) {
  const event = finalizeEvent(
    { kind: 1, created_at: now - i, tags: [], content: `event ${i}` },
    key,
  ) as NostrEvent;
  await town.store.insert(event, encodeEventToon(event));
}

const times: number[] = [];
for (let round = 0; round < ROUNDS; round++) {
  const ws = new WebSocket(`ws://127.0.0.1:${town.httpPort}`);
  await new Promise((resolve) => ws.onopen = resolve);
  const t0 = performance.now();
  let events = 0;
  await new Promise<void>((resolve) => {
    ws.onmessage = (m) => {
      // Only the answer's events: the town may greet with an AUTH challenge first.
      const data = String(m.data);
      if (data.startsWith('["EOSE"')) resolve();
      else if (data.startsWith('["EVENT"')) events++;
    };
    ws.send(JSON.stringify(["REQ", "bench", { kinds: [1], limit: EVENTS }]));
  });
  times.push(performance.now() - t0);
  ws.close();
  if (events !== EVENTS) throw new Error(`got ${events} events, not ${EVENTS}`);
}
times.sort((a, b) => a - b);
console.log(
  `${root.pathname} (${
    storeUrl === undefined ? "SQLite" : "PostgreSQL"
  }): REQ of ${EVENTS} stored events to EOSE, p50 ` +
    `${times[ROUNDS >> 1].toFixed(1)} ms, min ${times[0].toFixed(1)} ms (${ROUNDS} REQs)`,
);
await town.stop();
Deno.exit(0);
