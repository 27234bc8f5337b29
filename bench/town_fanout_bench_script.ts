/**
 * Town read-side figures (a script: `deno run -A bench/town_fanout_bench_script.ts`):
 *
 * 1. Store insert rate, batched (1000 per transaction) vs one per transaction (synchronous=FULL,
 *    the default, and NORMAL for comparison).
 * 2. Query latency (p50/p99) on 20k stored events for typical filters.
 * 3. Hub matching cost per published event with 2000 open subscriptions: kind-indexed (the hub)
 *    vs trying every filter (the obvious alternative).
 * 4. Fan-out: 100 WebSocket subscribers (in a Worker thread, so clients and server use both
 *    cores) each receive every event of a 10k-event burst published through the hub, in JSON and
 *    in TOON mode: deliveries/s and peak RSS of the process.
 *
 * Events are synthetic (well-shaped, not signed): neither the store nor the hub verifies
 * signatures (the paid write path does, before either sees an event).
 *
 * @module
 */
import type { NostrEvent } from "../protocol/nostr_event.ts";
import { matchFilter, type NostrFilter } from "../protocol/nostr_filter.ts";
import { encodeEventToon } from "../protocol/toon_codec.ts";
import { openEventStore } from "../state/events/event_store.ts";
import { type HubSubscriber, SubscriptionHub } from "../roles/town/relay/subscription_hub.ts";
import { createTownHttpHandler } from "../roles/town/town_http_handler.ts";

const hex = (n: number, len: number) => n.toString(16).padStart(len, "0");
const authors = Array.from({ length: 50 }, (_, i) => hex(i + 1, 64));

function syntheticEvent(i: number, kind = 1): NostrEvent {
  return {
    id: hex(i, 16) + crypto.randomUUID().replaceAll("-", "").repeat(2).slice(0, 48),
    pubkey: authors[i % authors.length],
    created_at: 1_700_000_000 + i,
    kind,
    tags: [["p", authors[(i * 7) % authors.length]], ["e", hex(i % 997, 64)]],
    content: `job ${i}: translate this sentence into French, please, and be quick about it`,
    sig: hex(i, 128),
  };
}

function fmt(n: number): string {
  return Math.round(n).toLocaleString("en-US");
}

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * p))];
}

async function storeInserts(): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "town_bench_" });
  try {
    for (const synchronous of ["FULL", "NORMAL"] as const) {
      const batched = openEventStore({ path: `${dir}/b_${synchronous}.sqlite`, synchronous });
      const n = 20_000;
      const items = Array.from({ length: n }, (_, i) => {
        const event = syntheticEvent(i, i % 10 === 0 ? 7000 : 1);
        return { event, raw: encodeEventToon(event) };
      });
      let t = performance.now();
      for (let i = 0; i < n; i += 1000) batched.insertBatch(items.slice(i, i + 1000));
      const batchedRate = n / ((performance.now() - t) / 1000);
      const single = openEventStore({ path: `${dir}/s_${synchronous}.sqlite`, synchronous });
      const m = 2000;
      t = performance.now();
      for (let i = 0; i < m; i++) single.insert(items[i].event, items[i].raw);
      const singleRate = m / ((performance.now() - t) / 1000);
      console.log(
        `store insert (synchronous=${synchronous}): batched x1000 ${fmt(batchedRate)} events/s; ` +
          `one per transaction ${fmt(singleRate)} events/s`,
      );
      if (synchronous === "FULL") queryLatency(batched);
      batched.close();
      single.close();
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

function queryLatency(store: ReturnType<typeof openEventStore>): void {
  const queries: [string, NostrFilter[]][] = [
    ["kinds:[1] limit 100", [{ kinds: [1], limit: 100 }]],
    ["kinds:[1,7000] limit 100", [{ kinds: [1, 7000], limit: 100 }]],
    ["authors:[a] limit 50", [{ authors: [authors[3]], limit: 50 }]],
    ["#p:[a] kinds:[7000]", [{ "#p": [authors[0]], kinds: [7000], limit: 100 }]],
    ["#e:[x] (21 hits)", [{ "#e": [hex(5, 64)] }]],
    ["ids: 10 ids", [{ ids: Array.from({ length: 10 }, (_, i) => syntheticId(store, i)) }]],
    ["3 filters OR, limit 20 each", [{ kinds: [7000], limit: 20 }, {
      authors: [authors[1]],
      limit: 20,
    }, {
      "#p": [authors[2]],
      limit: 20,
    }]],
  ];
  for (const [name, filters] of queries) {
    const times: number[] = [];
    let rows = 0;
    for (let i = 0; i < 300; i++) {
      const t = performance.now();
      rows = store.query(filters).length;
      times.push(performance.now() - t);
    }
    times.sort((a, b) => a - b);
    console.log(
      `query ${name}: ${rows} rows, p50 ${percentile(times, 0.5).toFixed(3)} ms, ` +
        `p99 ${percentile(times, 0.99).toFixed(3)} ms`,
    );
  }
}

function syntheticId(store: ReturnType<typeof openEventStore>, i: number): string {
  return store.query([{
    limit: 1,
    since: 1_700_000_000 + i * 100,
    until: 1_700_000_000 + i * 100,
  }])[0]
    .id;
}

function hubMatching(): void {
  const hub = new SubscriptionHub();
  const sink: HubSubscriber = { deliver() {} };
  const filters: NostrFilter[] = [];
  for (let i = 0; i < 2000; i++) {
    const filter = { kinds: [5000 + (i % 1000)], "#p": [authors[i % authors.length]] };
    filters.push(filter);
    hub.subscribe(sink, `s${i}`, [filter]);
  }
  const events = Array.from({ length: 20_000 }, (_, i) => syntheticEvent(i, 5000 + (i % 1000)));
  let t = performance.now();
  let indexedHits = 0;
  for (const e of events) indexedHits += hub.publish(e);
  const indexed = (performance.now() - t) * 1000 / events.length;
  t = performance.now();
  let linearHits = 0;
  for (const e of events) for (const f of filters) if (matchFilter(e, f)) linearHits++;
  const linear = (performance.now() - t) * 1000 / events.length;
  console.log(
    `hub matching, 2000 subscriptions: kind-indexed ${indexed.toFixed(2)} us/event ` +
      `(${indexedHits} deliveries) vs every filter ${linear.toFixed(2)} us/event (${linearHits})`,
  );
}

// The subscribers: 100 WebSockets in a Worker, reporting how many EVENTs they have received.
const WORKER_SOURCE = `
let total = 0;
const sockets = [];
self.onmessage = async ({ data }) => {
  if (data.type === "open") {
    let eose = 0;
    await Promise.all(Array.from({ length: data.clients }, (_, i) => new Promise((resolve) => {
      const ws = new WebSocket(data.url);
      sockets.push(ws);
      ws.onerror = () => resolve(); // refused: "ready" reports fewer EOSEs than clients
      ws.onopen = () => ws.send(JSON.stringify(["REQ", "s" + i, { kinds: [1] }]));
      ws.onmessage = (m) => {
        if (m.data.startsWith('["EVENT"')) total++;
        else if (m.data.startsWith('["EOSE"')) { eose++; resolve(); }
      };
    })));
    self.postMessage({ type: "ready", eose });
    setInterval(() => self.postMessage({ type: "count", total }), 10);
  } else if (data.type === "close") {
    for (const ws of sockets) ws.close();
    self.postMessage({ type: "closed" });
  }
};
`;

async function fanout(format: "json" | "toon"): Promise<void> {
  const clients = 100;
  const burst = 10_000;
  const store = openEventStore({ path: ":memory:" });
  const town = createTownHttpHandler({
    store,
    purgeIntervalMs: 0,
    // All subscribers share 127.0.0.1: the per-address cap must admit them.
    limits: { maxBufferedBytes: 64 * 1024 * 1024, maxConnectionsPerAddress: 256 },
  });
  const server = town.listen({ hostname: "127.0.0.1", port: 0 });
  const url = `ws://127.0.0.1:${server.port}/${format === "toon" ? "?format=toon" : ""}`;
  const worker = new Worker(
    URL.createObjectURL(new Blob([WORKER_SOURCE], { type: "application/javascript" })),
    { type: "module" },
  );
  let delivered = 0;
  const ready = Promise.withResolvers<void>();
  const closed = Promise.withResolvers<void>();
  worker.onmessage = ({ data }) => {
    if (data.type === "ready") {
      if (data.eose === clients) ready.resolve();
      else ready.reject(new Error(`${clients - data.eose} of ${clients} subscribers were refused`));
    } else if (data.type === "count") delivered = data.total;
    else if (data.type === "closed") closed.resolve();
  };
  worker.postMessage({ type: "open", url, clients });
  await ready.promise;
  const events = Array.from({ length: burst }, (_, i) => syntheticEvent(i));
  const raws = events.map(encodeEventToon);
  let peakRss = Deno.memoryUsage().rss;
  const sampler = setInterval(() => peakRss = Math.max(peakRss, Deno.memoryUsage().rss), 20);
  const started = performance.now();
  // Flow control: at most 500 events per client in flight, so the figure is a sustained rate
  // rather than how fast the kernel and the socket buffers can swallow a burst.
  for (let i = 0; i < burst; i += 100) {
    for (let j = i; j < i + 100; j++) town.hub.publish(events[j], raws[j]);
    while ((i + 100) * clients - delivered > 500 * clients) {
      await new Promise((r) => setTimeout(r, 2));
    }
  }
  while (delivered < burst * clients) await new Promise((r) => setTimeout(r, 2));
  const seconds = (performance.now() - started) / 1000;
  clearInterval(sampler);
  console.log(
    `fan-out ${format.toUpperCase()}: ${clients} subscribers x ${fmt(burst)} events = ` +
      `${fmt(delivered)} deliveries in ${seconds.toFixed(2)} s = ${fmt(delivered / seconds)}/s; ` +
      `peak RSS ${(peakRss / 1048576).toFixed(0)} MiB`,
  );
  worker.postMessage({ type: "close" });
  await closed.promise;
  worker.terminate();
  town.close();
  await server.close();
  store.close();
}

if (import.meta.main) {
  console.log(`rss at start ${(Deno.memoryUsage().rss / 1048576).toFixed(0)} MiB`);
  await storeInserts();
  hubMatching();
  await fanout("json");
  await fanout("toon");
}
