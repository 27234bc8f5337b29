/**
 * A provider SIGKILLed after it recorded a job's payment and its income row, before its
 * FULFILL left: the town answers the requester `T01` (the peer dropped) and `F02` to its retry
 * while the provider is away, so the requester's job ends in error and no money moved; the town's
 * books record the packet rejected. Started again, the provider asks its town about the income
 * lines of its last moments (`payment-owed`, roles/provider/payments/owed_questions.ts) and takes
 * back the one the town does not owe: a `reversed` row after its income row (never rewritten), in
 * the transaction of the job's record going back to awaiting its payment (its invoice open), the
 * job not run; its `stats`, its
 * town-debt check and the town's books then agree, at nothing earned (docs/PROTOCOL.md "A crash
 * between a payment's two records").
 *
 * Deterministic: the provider runs as its own process (tests/support/provider_crash_driver.ts,
 * `TP_KILL_AT=line-before-fulfill`) and SIGKILLs itself once the record and its income row are
 * committed.
 */
import { assert, assertEquals } from "../../harness/assert.ts";
import { echoSpec } from "../../harness/requester_network.ts";
import { runCli } from "../../harness/run_cli.ts";
import {
  assertRefusedUnpaid,
  type ProviderCrashDriver,
  startProviderCrashRig,
  startProviderDriver,
} from "../support/crash_driver_kit.ts";
import { listChannels } from "../../state/channels/channel_file.ts";
import { openPaymentLog } from "../../state/payments/payment_log.ts";
import { openPeerLedger } from "../../state/payments/peer_ledger.ts";
import { openProviderJobStore } from "../../state/jobs/provider_job_store.ts";
import { readProviderIncome } from "../../state/jobs/provider_job_index.ts";
import { townDebtOf } from "../../roles/provider/payments/town_debt.ts";

Deno.test("provider: SIGKILLed after its income row, before its FULFILL left, started again: the town says it does not owe that payment, a reversed row follows it with the record back to invoiced, the job awaits its payment again, and stats, the town-debt check and the town's books agree at nothing earned", async () => {
  const rig = await startProviderCrashRig("turnpike-unfulfilled-");
  const { townState, providerState, net, env } = rig;
  let provider: ProviderCrashDriver | undefined;
  try {
    const first = await startProviderDriver({ ...env, TP_KILL_AT: "line-before-fulfill" });
    const requester = await net.startRequester();
    const job = await requester.submit(echoSpec("paid once", { timeoutMs: 120_000 }));
    const status = await first.child.status;
    await first.read;
    assertEquals(status.signal, "SIGKILL", first.lines.join("\n"));
    const killed = (await openPaymentLog({ stateDir: providerState })).entries().filter((e) =>
      e.direction === "in" && e.jobId === job.id
    );
    assertEquals(killed.map((e) => e.event), ["fulfilled"], "killed with its income line");
    // Refused while the provider is away: nothing paid.
    await assertRefusedUnpaid(requester, job.id);

    provider = await startProviderDriver(env);
    const reopened = await openPaymentLog({ stateDir: providerState });
    const entries = reopened.entries();
    const income = entries.filter((e) => e.direction === "in" && e.jobId === job.id);
    assertEquals(
      income.map((e) => [e.event, e.invoiceId, e.amount]),
      [
        ["fulfilled", killed[0].invoiceId, killed[0].amount],
        ["reversed", killed[0].invoiceId, killed[0].amount],
      ],
      "the income row stays, a reversal follows it",
    );
    // Both are rows of the job index, the reversal committed with the record (no log line).
    assertEquals(
      readProviderIncome(providerState, "2000-01-01").entries.filter((e) => e.jobId === job.id)
        .map((e) => e.event),
      ["fulfilled", "reversed"],
    );
    const log = await Deno.readTextFile(`${providerState}/payment_log.jsonl`).catch(() => "");
    assert(!log.includes(killed[0].invoiceId), "no payment log line of it");
    const store = await openProviderJobStore({ stateDir: providerState });
    const record = store.get(job.id);
    store.close();
    assertEquals(
      [record?.status, record?.paidAt, record?.attempts],
      ["invoiced", undefined, 0],
      "awaiting its payment again, not run",
    );
    // The town's books: the packet forwarded, then rejected; nothing owed, nothing claimed.
    const books = (await openPeerLedger({ stateDir: townState })).balance("provider");
    assertEquals([books.owed, books.packets, books.claimed], [0n, 0, 0n], "the town's books");
    // The town-debt check and `stats` read the same log: nothing earned, as the town says.
    const rows = await openProviderJobStore({ stateDir: providerState });
    const debt = townDebtOf(
      rows.income.earnings() + reopened.earnedInLines(),
      await listChannels(providerState),
    );
    rows.close();
    assertEquals([debt.earned, debt.claimed, debt.debt], [books.owed, books.claimed, 0n]);
    const stats = await runCli(["--state-dir", providerState, "--output", "json", "stats"]);
    assertEquals(stats.code, 0, stats.stderr);
    const earned = (JSON.parse(stats.stdout).books as { earned: { total: string } }[])
      .reduce((sum, b) => sum + BigInt(b.earned.total), 0n);
    assertEquals(earned, books.owed, "stats: earned what the town owes");
    assert(
      provider.lines.some((l) => l.includes("not owed by the town")),
      provider.lines.join("\n"),
    );
  } finally {
    await rig.stop(provider);
  }
});
