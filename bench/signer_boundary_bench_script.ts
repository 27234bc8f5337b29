/**
 * What moving the key into the signer stage's worker would cost a node, per signature: one event
 * template at a time (a node signs on demand: a request, a feedback, a result), signed in the
 * node's thread (`identity/event_signer.ts`, libsecp256k1 through nostr-wasm) vs sent through the
 * `signer` stage in its own worker and back (batches handed on at the next turn of the event
 * loop, as the nodes' feeds do). 2000 signatures each, after 200 warm-up ones, two rounds.
 *
 * Run: deno run -A bench/signer_boundary_bench_script.ts
 *
 * @module
 */
import { bytesToHex } from "@noble/hashes/utils.js";
import { generateSecretKey } from "nostr-tools";
import { signEventTemplate } from "../identity/event_signer.ts";
import { createPipeline } from "../pipeline/pipeline.ts";
import type { Chunk, TemplateChunk } from "../stages/chunks.ts";
import type { EventTemplate } from "../protocol/nostr_event.ts";

const N = 2000;
const WARM = 200;
const key = generateSecretKey();

const template = (i: number): EventTemplate => ({
  kind: 7000,
  created_at: Math.floor(Date.now() / 1000),
  tags: [["e", "ab".repeat(32)], ["p", "cd".repeat(32)], ["status", "processing"]],
  content: `feedback ${i}`,
});

const pct = (sorted: number[], q: number) => sorted[Math.floor(sorted.length * q)].toFixed(3);

function inline(): number[] {
  const times: number[] = [];
  for (let i = 0; i < WARM + N; i++) {
    const t0 = performance.now();
    signEventTemplate(template(i), key);
    if (i >= WARM) times.push(performance.now() - t0);
  }
  return times;
}

async function inWorker(): Promise<number[]> {
  let push!: (chunk: TemplateChunk) => void;
  const input = new ReadableStream<Chunk>({
    start(controller) {
      push = (chunk) => controller.enqueue(chunk);
    },
  });
  const pipeline = await createPipeline({
    input,
    maxBatchDelayMs: 0,
    stages: [{ name: "signer", options: { secretKey: bytesToHex(key) } }],
  });
  const reader = pipeline.output.getReader();
  const times: number[] = [];
  for (let i = 0; i < WARM + N; i++) {
    const t0 = performance.now();
    push({ type: "template", template: template(i), ref: String(i) });
    const { value } = await reader.read();
    if (value?.[0]?.type !== "event") throw new Error(`signer: ${JSON.stringify(value)}`);
    if (i >= WARM) times.push(performance.now() - t0);
  }
  await reader.cancel();
  await pipeline.close();
  return times;
}

const all = { inline: [] as number[], worker: [] as number[] };
for (let round = 0; round < 2; round++) {
  all.inline.push(...inline());
  all.worker.push(...await inWorker());
}
for (const [name, times] of Object.entries(all)) {
  times.sort((a, b) => a - b);
  console.log(
    `sign one template, ${name.padEnd(6)}: p50 ${pct(times, 0.5)} ms p99 ${
      pct(times, 0.99)
    } ms (${times.length})`,
  );
}
