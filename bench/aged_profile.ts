/**
 * Profiles with a month behind them, for the benches that ask what a job costs on aged profiles
 * rather than fresh ones (bench/requester_jobs_bench_script.ts `--history N`). A requester's:
 * `n` ended jobs over the last 29 days, each a row of the job index (its deposit paid) and four
 * lines of the payment log (the deposit's intent and fulfilment, one paid write's), the past days'
 * lines in their rotated files (state/payments/payment_log_files.ts), as a node would have left
 * them. A provider's: `n` published jobs, each a row of its index with its income row.
 *
 * @module
 */
import { openJobRepository } from "../state/jobs/job_repository.ts";
import type { RequesterJobRecord } from "../state/jobs/job_record.ts";
import { PAYMENT_LOG_DIR } from "../state/payments/payment_log_files.ts";
import { openProviderJobStore } from "../state/jobs/provider_job_store.ts";

/** The fulfillment every seeded payment shows (a bench's history, not a real preimage). */
const FULFILLMENT = "f".repeat(64);

/** What {@linkcode paidJobRecord} makes a record of. */
export interface PaidJob {
  id: string;
  kind: number;
  provider: string;
  invoiceId: string;
  amount: bigint;
  /** When it was made, paid and ended (unix ms). */
  at: number;
  /** Default `done`. */
  status?: "done" | "error";
}

/**
 * A requester's record of an ended job whose one invoice was paid, as the benches seed them.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { paidJobRecord } from "./aged_profile.ts";
 *
 * const r = paidJobRecord({ id: "a1", kind: 5000, provider: "cd", invoiceId: "e1", amount: 5n, at: 1 });
 * assert.deepEqual([r.status, r.payments[0].status], ["done", "paid"]);
 * ```
 */
export function paidJobRecord(job: PaidJob): RequesterJobRecord {
  const { id, kind, provider, invoiceId, amount, at } = job;
  return {
    id,
    kind,
    skill: "none",
    status: job.status ?? "done",
    createdAtMs: at,
    updatedAtMs: at,
    provider,
    payments: [{
      invoiceId,
      amount,
      asset: "M2M",
      scale: 6,
      status: "paid",
      fulfillment: FULFILLMENT,
      startedAtMs: at,
      finishedAtMs: at,
    }],
  };
}

/** Options for {@linkcode seedRequesterHistory}. */
export interface AgedProfileOptions {
  /** The requester's state dir (made if missing), before its node starts. */
  stateDir: string;
  /** Ended jobs to leave behind. */
  jobs: number;
  /** The provider they were paid to (hex pubkey). */
  provider: string;
}

/**
 * Writes the history; see the module doc.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { seedRequesterHistory } from "./aged_profile.ts";
 * import { openPaymentLog } from "../state/payments/payment_log.ts";
 *
 * const stateDir = await Deno.makeTempDir();
 * await seedRequesterHistory({ stateDir, jobs: 10, provider: "cd".repeat(32) });
 * assert.equal((await openPaymentLog({ stateDir })).entries().length, 40);
 * await Deno.remove(stateDir, { recursive: true });
 * ```
 */
export async function seedRequesterHistory(options: AgedProfileOptions): Promise<void> {
  const { stateDir, jobs, provider } = options;
  await Deno.mkdir(`${stateDir}/${PAYMENT_LOG_DIR}`, { recursive: true, mode: 0o700 });
  const repo = await openJobRepository({ stateDir, durable: false });
  const byDay = new Map<string, string[]>();
  const now = Date.now();
  // The oldest at 29 days ago, the newest yesterday: today's file is the node's own.
  const dayStart = now - (now % 86_400_000);
  const span = 28 * 86_400_000;
  try {
    for (let i = 0; i < jobs; i++) {
      const at = dayStart - 86_400_000 + 1 - Math.round(((jobs - i) / jobs) * span);
      const hex = (prefix: string) => prefix + (i + 1).toString(16).padStart(63, "0");
      const [id, invoiceId] = [hex("d"), hex("e")];
      await repo.create(paidJobRecord({ id, kind: 5000, provider, invoiceId, amount: 1000n, at }));
      const ts = new Date(at).toISOString();
      const deposit = { ts, direction: "out", jobId: id, invoiceId, amount: "1000", asset: "M2M" };
      const write = { ...deposit, invoiceId: hex("b"), amount: "7" };
      const lines = byDay.get(ts.slice(0, 10)) ?? [];
      byDay.set(ts.slice(0, 10), lines);
      const job = { peer: provider, category: "job", scale: 6 };
      const town = { peer: "g.town", category: "town-write", scale: 6 };
      lines.push(JSON.stringify({ ...deposit, event: "intent", ...job }));
      const fulfillment = FULFILLMENT;
      lines.push(JSON.stringify({ ...deposit, event: "fulfilled", ...job, fulfillment }));
      lines.push(JSON.stringify({ ...write, event: "intent", ...town }));
      lines.push(JSON.stringify({ ...write, event: "fulfilled", ...town, fulfillment }));
    }
  } finally {
    repo.close();
  }
  for (const [day, lines] of byDay) {
    await Deno.writeTextFile(
      `${stateDir}/${PAYMENT_LOG_DIR}/${day}.jsonl`,
      lines.join("\n") + "\n",
    );
  }
}

/** Options for {@linkcode seedProviderHistory}. */
export interface AgedProviderOptions {
  /** The provider's state dir (made if missing), before its node starts. */
  stateDir: string;
  /** Published jobs to leave behind. */
  jobs: number;
  /** The requester they were for (hex pubkey). */
  customer: string;
}

/**
 * Writes a provider's history; see the module doc.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { seedProviderHistory } from "./aged_profile.ts";
 * import { openProviderJobStore } from "../state/jobs/provider_job_store.ts";
 *
 * const stateDir = await Deno.makeTempDir();
 * await seedProviderHistory({ stateDir, jobs: 10, customer: "cd".repeat(32) });
 * const store = await openProviderJobStore({ stateDir });
 * assert.deepEqual([store.all().length, store.unfinished().length], [10, 0]);
 * store.close();
 * await Deno.remove(stateDir, { recursive: true });
 * ```
 */
export async function seedProviderHistory(options: AgedProviderOptions): Promise<void> {
  await Deno.mkdir(options.stateDir, { recursive: true, mode: 0o700 });
  const store = await openProviderJobStore({ stateDir: options.stateDir, durable: false });
  const now = Date.now();
  try {
    for (let i = 0; i < options.jobs; i++) {
      const hex = (prefix: string) => prefix + (i + 1).toString(16).padStart(63, "0");
      const at = new Date(
        now - 86_400_000 - Math.round(((options.jobs - i) / options.jobs) * 28 * 86_400_000),
      )
        .toISOString();
      const id = hex("a");
      await store.put({
        id,
        kind: 5000,
        customer: options.customer,
        skill: "echo",
        status: "published",
        price: "1000",
        requestToon: "",
        encrypted: false,
        admittedAt: at,
        updatedAt: at,
        attempts: 1,
      }, {
        income: {
          ts: at,
          direction: "in",
          event: "fulfilled",
          jobId: id,
          invoiceId: hex("c"),
          amount: "1000",
          asset: "M2M",
          peer: options.customer,
          category: "job",
          scale: 6,
          fulfillment: FULFILLMENT,
        },
      });
    }
  } finally {
    store.close();
  }
}
