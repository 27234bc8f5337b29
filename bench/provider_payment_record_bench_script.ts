/**
 * What a provider pays, in wall time before its FULFILL, to record a payment: the job's `paid`
 * record and its income row, one transaction of the job store (`state/jobs/provider_job_store.ts`,
 * what `roles/provider/payments/payment_desk.ts` does: docs/PROTOCOL.md "A crash between a
 * payment's two records"), taken in by the payment log. `--rounds` rounds of `--batch` payments
 * (kept from when two ways of writing alternated: a tree with the records as files prints them);
 * p50 and p90 ms per payment.
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
async function record(): Promise<number> {
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
  const income = {
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
  await store.put(paid, { income });
  log.noteIncome(income);
  return performance.now() - t;
}

const times = { "record and income, one transaction": [] as number[] };
for (let r = 0; r < rounds * 2; r++) {
  for (let i = 0; i < batch; i++) times["record and income, one transaction"].push(await record());
}
const at = (a: number[], q: number) => a.toSorted((x, y) => x - y)[Math.floor(a.length * q)];
for (const [name, a] of Object.entries(times)) {
  console.log(
    `${name}: n=${a.length} p50 ${at(a, 0.5).toFixed(2)} ms p90 ${at(a, 0.9).toFixed(2)} ms`,
  );
}
store.close();
await Deno.remove(dir, { recursive: true });
