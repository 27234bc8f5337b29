/**
 * What keeping the key in a worker costs a node, per operation, one at a time (a node signs on
 * demand: a request, a feedback, a result, a claim per payment):
 * - an event signed in the node's thread (`identity/event_signer.ts`, libsecp256k1 through
 *   nostr-wasm), through the `signer` stage in its own worker (a pipeline), through a
 *   `localNodeSigner` and through the worker `NodeSigner` the CLI runs
 *   (`identity/worker_node_signer.ts`);
 * - a payment-channel claim (EIP-712 balance proof) signed by the local and the worker signer's
 *   viem account;
 * - a NIP-44 conversation key from the local and the worker signer.
 * 2000 operations each (500 for claims), after 200 warm-up ones, two rounds.
 *
 * Run: deno run -A bench/signer_boundary_bench_script.ts
 *
 * @module
 */
import { bytesToHex } from "@noble/hashes/utils.js";
import { generateSecretKey, getPublicKey } from "nostr-tools";
import { localNodeSigner } from "../identity/local_node_signer.ts";
import { openWorkerNodeSigner } from "../identity/worker_node_signer.ts";
import { signBalanceProof } from "../chain/balance_proof.ts";
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

async function timed(n: number, op: (i: number) => Promise<unknown>): Promise<number[]> {
  const times: number[] = [];
  for (let i = 0; i < WARM + n; i++) {
    const t0 = performance.now();
    await op(i);
    if (i >= WARM) times.push(performance.now() - t0);
  }
  return times;
}

const local = localNodeSigner(key);
using worker = await openWorkerNodeSigner({ secretKey: key });
const peer = getPublicKey(generateSecretKey());
const domain = { chainId: 31337, verifyingContract: `0x${"11".repeat(20)}` as const };
const proof = (i: number) => ({
  channelId: `0x${"ab".repeat(32)}` as const,
  nonce: BigInt(i + 1),
  transferredAmount: BigInt(i * 10),
});
const all: Record<string, number[]> = {};
const add = (name: string, times: number[]) => (all[name] ??= []).push(...times);
for (let round = 0; round < 2; round++) {
  add("event, inline", inline());
  add("event, signer stage worker", await inWorker());
  add("event, local NodeSigner", await timed(N, (i) => local.signEvent(template(i))));
  add("event, worker NodeSigner", await timed(N, (i) => worker.signEvent(template(i))));
  add(
    "claim, local NodeSigner",
    await timed(500, (i) => signBalanceProof(proof(i), { account: local.evm, domain })),
  );
  add(
    "claim, worker NodeSigner",
    await timed(500, (i) => signBalanceProof(proof(i), { account: worker.evm, domain })),
  );
  add("nip44 key, local NodeSigner", await timed(N, () => local.conversationKey(peer)));
  add("nip44 key, worker NodeSigner", await timed(N, () => worker.conversationKey(peer)));
}
for (const [name, times] of Object.entries(all)) {
  times.sort((a, b) => a - b);
  console.log(
    `${name.padEnd(30)}: p50 ${pct(times, 0.5)} ms p99 ${pct(times, 0.99)} ms (${times.length})`,
  );
}
