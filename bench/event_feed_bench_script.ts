/**
 * The receiving pipeline's cost (`roles/event_feed.ts`), against the independent reference relay:
 * publish -> arrival latency of one event at a time (200 per run), and the time to open a feed,
 * for the feed inline (no workers), the feed in its workers (batches handed on at the next turn
 * of the event loop), and the same pipeline with the pipeline's default 1 ms batching timer.
 * Two rounds, alternating, in one process.
 *
 * Run: deno run -A bench/event_feed_bench_script.ts
 *
 * @module
 */
import { finalizeEvent, generateSecretKey } from "nostr-tools";
import { startReferenceRelay } from "../harness/reference_relay.ts";
import { openEventFeed } from "../roles/event_feed.ts";
import { createPipeline } from "../pipeline/pipeline.ts";
import type { Chunk } from "../stages/chunks.ts";

const EVENTS = 200;
const KIND = 5100;

type Arrivals = (onToon: (toon: string) => void) => Promise<{ close(): Promise<void> }>;

function variants(relay: string): Record<string, Arrivals> {
  const filters = () => [{ kinds: [KIND], since: Math.floor(Date.now() / 1000) }];
  const feed = (mode: "inline" | "workers"): Arrivals => (onToon) =>
    openEventFeed({ relay, filters: filters(), mode, onEvent: (s) => onToon(s.toon) });
  return {
    "feed inline": feed("inline"),
    "feed in workers": feed("workers"),
    "workers, 1 ms batch timer": async (onToon) => {
      const pipeline = await createPipeline({
        stages: [
          { name: "relay-source", options: { relay, filters: filters() } },
          { name: "kind-extractor" },
        ],
      });
      const reader = pipeline.output.getReader();
      void (async () => {
        for (;;) {
          const { value, done } = await reader.read().catch(() => ({ value: [], done: true }));
          if (done) return;
          for (const c of value as Chunk[]) if (c.type === "summary") onToon(c.toon);
        }
      })();
      return { close: async () => (await reader.cancel().catch(() => {}), pipeline.close()) };
    },
  };
}

const p = (sorted: number[], q: number) =>
  sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * q))];

const relay = await startReferenceRelay();
const sk = generateSecretKey();
const publisher = new WebSocket(relay.url);
await new Promise((resolve) => publisher.onopen = resolve);
const results = new Map<string, { latency: number[]; open: number[] }>();
try {
  for (let round = 0; round < 2; round++) {
    for (const [name, open] of Object.entries(variants(relay.url))) {
      let waiting: { id: string; arrived: () => void } | undefined;
      const t0 = performance.now();
      const feed = await open((toon) => {
        if (waiting !== undefined && toon.includes(waiting.id)) waiting.arrived();
      });
      const r = results.get(name) ?? { latency: [], open: [] };
      results.set(name, r);
      r.open.push(performance.now() - t0);
      await new Promise((resolve) => setTimeout(resolve, 300)); // subscribed, EOSE seen
      for (let i = 0; i < EVENTS; i++) {
        const event = finalizeEvent({
          kind: KIND,
          created_at: Math.floor(Date.now() / 1000),
          tags: [],
          content: `${name} ${round} ${i}`,
        }, sk);
        const arrived = new Promise<void>((resolve) =>
          waiting = { id: event.id, arrived: resolve }
        );
        const sent = performance.now();
        publisher.send(JSON.stringify(["EVENT", event]));
        await arrived;
        r.latency.push(performance.now() - sent);
      }
      await feed.close();
    }
  }
} finally {
  publisher.close();
  await relay.stop();
}
for (const [name, r] of results) {
  const l = r.latency.sort((a, b) => a - b);
  const o = r.open.sort((a, b) => a - b);
  console.log(
    `${name.padEnd(26)} publish -> arrival p50 ${p(l, 0.5).toFixed(2)} ms p95 ${
      p(l, 0.95).toFixed(2)
    } ms (${l.length} events); open ${o.map((x) => x.toFixed(0)).join(", ")} ms`,
  );
}
