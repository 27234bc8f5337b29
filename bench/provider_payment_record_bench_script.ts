/**
 * What a provider pays, in wall time before its FULFILL, to record a payment: the job's `paid`
 * record (`state/jobs/provider_job_store.ts`) and the income line (`state/payments/payment_log.ts`)
 * written one after the other, record first (what `roles/provider/payments/payment_desk.ts` does:
 * docs/PROTOCOL.md "A crash between a payment's two records"), against both at once (what it did
 * before). The two variants alternate in rounds of `--batch` payments, `--rounds` times; p50 and
 * p90 ms per payment of each.
 *
 * Run: deno run -A bench/provider_payment_record_bench_script.ts [--rounds 10] [--batch 20]
 *
 * @module
 */
import { openProviderJobStore } from "../state/jobs/provider_job_store.ts";
import type { ProviderJobRecord } from "../state/jobs/provider_job_record.ts";
import { openPaymentLog } from "../state/payments/payment_log.ts";

const arg = (name: string, fallback: number) =>
  Deno.args.includes(name) ? Number(Deno.args[Deno.args.indexOf(name) + 1]) : fallback;
const rounds = arg("--rounds", 10);
const batch = arg("--batch", 20);

const dir = await Deno.makeTempDir({ prefix: "turnpike-payment-record-" });
const store = await openProviderJobStore({ stateDir: dir });
const log = await openPaymentLog({ stateDir: dir });
const now = new Date().toISOString();
let n = 0;

/** One payment recorded; its wall ms. */
async function record(serial: boolean): Promise<number> {
  const id = (n++).toString(16).padStart(64, "0");
  const paid: ProviderJobRecord = {
    id,
    kind: 5601,
    customer: "c".repeat(64),
    skill: "echo",
    price: "100",
    status: "paid",
    requestToon: "",
    encrypted: false,
    attempts: 0,
    admittedAt: now,
    updatedAt: now,
    paidAt: now,
  };
  const line = {
    ts: now,
    direction: "in" as const,
    event: "fulfilled" as const,
    jobId: id,
    invoiceId: id,
    amount: "100",
    asset: "USD",
    peer: "c".repeat(64),
    fulfillment: "ab".repeat(32),
    category: "job" as const,
  };
  const t = performance.now();
  if (serial) {
    await store.put(paid);
    await log.append(line);
  } else await Promise.all([store.put(paid), log.append(line)]);
  return performance.now() - t;
}

const times = { "record, then line": [] as number[], "both at once": [] as number[] };
for (let r = 0; r < rounds; r++) {
  for (let i = 0; i < batch; i++) times["both at once"].push(await record(false));
  for (let i = 0; i < batch; i++) times["record, then line"].push(await record(true));
}
const at = (a: number[], q: number) => a.toSorted((x, y) => x - y)[Math.floor(a.length * q)];
for (const [name, a] of Object.entries(times)) {
  console.log(
    `${name}: n=${a.length} p50 ${at(a, 0.5).toFixed(2)} ms p90 ${at(a, 0.9).toFixed(2)} ms`,
  );
}
await Deno.remove(dir, { recursive: true });
