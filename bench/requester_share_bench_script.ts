/**
 * What reading a requester's unpaid share costs on an aged provider (docs/PROTOCOL.md "Unpaid
 * share from trust", docs/SCALE.md "A job on an aged profile"): the provider's node reads it each
 * time a requester with parked requests pays or ends a job, and each time one past a stranger's
 * share asks for another job. A provider state dir with N published jobs (their income rows in
 * the payment log) of one requester, then per mode the median and best microseconds a read
 * takes, as roles/provider/jobs/job_lifecycle.ts makes it:
 *
 * - `all` (the obvious alternative, what the node did before): every record the provider ever
 *   took and every kept payment log entry copied at each read, whether the share could grow or
 *   not (the default, no `max_unpaid_per_trusted_requester`: it cannot);
 * - `default`: the same read with no ceiling above the floor: nothing is copied;
 * - `trusted`: a ceiling above the floor, the requester's own records
 *   (`ProviderJobStore.ofCustomer`) and the log's entries read;
 * - `trusted-stranger`: the same for a requester with no job here.
 *
 * Run: deno run -A bench/requester_share_bench_script.ts [--jobs 100000] [--rounds 20]
 *
 * @module
 */
import { parseBenchFlags } from "./bench_flags.ts";
import { seedProviderHistory } from "./aged_profile.ts";
import { openProviderJobStore } from "../state/jobs/provider_job_store.ts";
import { openPaymentLog } from "../state/payments/payment_log.ts";
import { requesterShare } from "../roles/provider/payments/requester_share.ts";

const { values } = parseBenchFlags(Deno.args, {
  values: ["jobs", "rounds"],
  switches: [],
  usage: "Usage: deno run -A bench/requester_share_bench_script.ts [--jobs 100000] [--rounds 20]",
});
const jobs = Number(values.jobs ?? 100_000);
const rounds = Number(values.rounds ?? 20);
const customer = "cd".repeat(32);
const stranger = "ef".repeat(32);

const stateDir = await Deno.makeTempDir({ prefix: "turnpike-share-bench-" });
try {
  const seeding = performance.now();
  await seedProviderHistory({ stateDir, jobs, customer });
  console.log(`${jobs} published jobs seeded in ${(performance.now() - seeding).toFixed(0)} ms`);
  const store = await openProviderJobStore({ stateDir });
  const payments = await openPaymentLog({ stateDir });
  const floor = 2;
  const modes: Record<string, () => number> = {
    all: () => {
      // As the node called it before: both copied before the share looked at its ceiling.
      const [records, entries] = [store.all(), payments.entries()];
      return requesterShare(customer, {
        floor,
        ceiling: 0,
        records: () => records,
        payments: () => entries,
        nowMs: Date.now(),
      });
    },
    default: () =>
      requesterShare(customer, {
        floor,
        ceiling: 0,
        records: () => store.ofCustomer(customer),
        payments: () => payments.entries(),
        nowMs: Date.now(),
      }),
    trusted: () =>
      requesterShare(customer, {
        floor,
        ceiling: 8,
        records: () => store.ofCustomer(customer),
        payments: () => payments.entries(),
        nowMs: Date.now(),
      }),
    "trusted-stranger": () =>
      requesterShare(stranger, {
        floor,
        ceiling: 8,
        records: () => store.ofCustomer(stranger),
        payments: () => payments.entries(),
        nowMs: Date.now(),
      }),
  };
  for (const [mode, read] of Object.entries(modes)) {
    read(); // warm
    const times: number[] = [];
    let share = 0;
    for (let i = 0; i < rounds; i++) {
      const t = performance.now();
      share = read();
      times.push((performance.now() - t) * 1000);
    }
    times.sort((a, b) => a - b);
    const median = times[Math.floor(times.length / 2)];
    console.log(
      `${mode}: median ${median.toFixed(1)} µs, best ${times[0].toFixed(1)} µs (share ${share})`,
    );
  }
  store.close();
} finally {
  await Deno.remove(stateDir, { recursive: true });
}
