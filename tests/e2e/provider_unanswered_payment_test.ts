/**
 * A provider SIGKILLed while it records a job's payment, before its FULFILL leaves: the town
 * answers the requester `T01` (the peer dropped) and `F02` to its retry while the provider is
 * away, so the requester's job ends in error and no money moved. Whatever was on disk, the
 * restarted provider must say so too: no income line for the job, its record awaiting the payment
 * again (its invoice open), the job not run (roles/provider/payments/unanswered_payments.ts,
 * docs/PROTOCOL.md "Paying a provider").
 *
 * - `line-before-record`: its income line on disk, its record not (a desk writing both at once
 *   could die so): the line stayed, income never received.
 * - `record-before-line`: its record `paid` on disk, its line not (the desk writes the record
 *   first): without the restart's rule the job would run unpaid.
 *
 * Deterministic: the provider runs as its own process (tests/support/provider_crash_driver.ts,
 * `TP_KILL_AT`) and SIGKILLs itself at that point; it starts again once the requester's job ended.
 */
import { assert, assertEquals } from "../../harness/assert.ts";
import { echoSpec } from "../../harness/requester_network.ts";
import {
  assertRefusedUnpaid,
  type ProviderCrashDriver,
  startProviderCrashRig,
  startProviderDriver,
} from "../support/crash_driver_kit.ts";
import { openPaymentLog } from "../../state/payments/payment_log.ts";
import { openPeerLedger } from "../../state/payments/peer_ledger.ts";
import { openProviderJobStore } from "../../state/jobs/provider_job_store.ts";

for (const killAt of ["line-before-record", "record-before-line"]) {
  Deno.test(`provider: SIGKILLed while it records a payment (${killAt}), started again: no income line, the job awaits its payment again and is not run, as the requester paid nothing`, async () => {
    const rig = await startProviderCrashRig("turnpike-unanswered-");
    const { townState, providerState, net, env } = rig;
    let provider: ProviderCrashDriver | undefined;
    try {
      const first = await startProviderDriver({ ...env, TP_KILL_AT: killAt });
      const requester = await net.startRequester();
      const job = await requester.submit(echoSpec("paid once", { timeoutMs: 120_000 }));
      const status = await first.child.status;
      await first.read;
      assertEquals(status.signal, "SIGKILL", first.lines.join("\n"));
      // Refused while the provider is away: nothing paid.
      await assertRefusedUnpaid(requester, job.id);

      provider = await startProviderDriver(env);
      const income = (await openPaymentLog({ stateDir: providerState })).entries().filter((e) =>
        e.direction === "in" && e.jobId === job.id
      );
      assertEquals(income, [], "no income line");
      const store = await openProviderJobStore({ stateDir: providerState });
      const record = store.get(job.id);
      assertEquals(
        [record?.status, record?.paidAt, record?.attempts],
        ["invoiced", undefined, 0],
        "awaiting its payment again, not run",
      );
      const owed = (await openPeerLedger({ stateDir: townState })).balance("provider");
      assertEquals([owed.owed, owed.packets], [0n, 0], "the town's books of the provider");
      assert(provider.lines.some((l) => l.includes("invoiced")), provider.lines.join("\n"));
    } finally {
      await rig.stop(provider);
    }
  });
}
