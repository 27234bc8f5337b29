/**
 * What a signature costs in the key's worker (identity/worker_node_signer.ts, the signer every
 * CLI node runs), as a node meets it:
 * - a worker started and closed without signing (what the rows below include);
 * - a worker started with a throwaway key (`--generate-key`) and its first signature: an idle
 *   town's case, signed by @noble/curves in the worker;
 * - a worker's first 8 signatures, all by @noble/curves (`NOBLE_SIGNATURES` in
 *   identity/event_signer.ts);
 * - one signature by a worker already signing with nostr-wasm (a busy node).
 * docs/SCALE.md "An idle town's memory" has the figures, before and after the worker dropped
 * @noble/curves' precomputed table.
 *
 * Run: `deno bench -A bench/worker_signature_bench.ts`.
 *
 * @module
 */
import { openWorkerNodeSigner } from "../identity/worker_node_signer.ts";
import type { EventTemplate } from "../protocol/nostr_event.ts";

const template = (i: number): EventTemplate => ({
  kind: 7000,
  created_at: 1_700_000_000 + i,
  tags: [["e", "ab".repeat(32)], ["p", "cd".repeat(32)], ["status", "processing"]],
  content: `feedback ${i}`,
});

const RUNS = { n: 20, warmup: 2 };

Deno.bench("worker started and closed, no signature", { group: "first", ...RUNS }, async () => {
  const signer = await openWorkerNodeSigner({ generate: true });
  signer.close();
});

Deno.bench(
  "worker started, its key named, one signature (@noble/curves)",
  { group: "first", baseline: true, ...RUNS },
  async () => {
    const signer = await openWorkerNodeSigner({ generate: true });
    await signer.signEvent(template(0));
    signer.close();
  },
);

Deno.bench(
  "worker started, 8 signatures (@noble/curves)",
  { group: "first", ...RUNS },
  async () => {
    const signer = await openWorkerNodeSigner({ generate: true });
    for (let i = 0; i < 8; i++) await signer.signEvent(template(i));
    signer.close();
  },
);

// A worker past its @noble/curves signatures: the 9th loads nostr-wasm, used once loaded.
const busy = await openWorkerNodeSigner({ generate: true });
for (let i = 0; i < 40; i++) await busy.signEvent(template(i));

Deno.bench("one signature by a worker signing with nostr-wasm", { group: "busy" }, async () => {
  await busy.signEvent(template(1));
});

globalThis.addEventListener("unload", () => busy.close());
