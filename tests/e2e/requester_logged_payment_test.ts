/**
 * A requester SIGKILLed between a job payment's `fulfilled` line in its payment log and the job
 * record's write of it: the log is right, the record's payment `paying`. Started again, the
 * record is brought to the log (roles/requester/payments_from_log.ts): the payment `paid` with
 * the log's amount and fulfillment, nothing paid again, the provider not asked for a receipt,
 * and the job done when its result comes. The provider was paid once: its income log and the
 * town's books of it hold the one payment the requester's log holds.
 *
 * Deterministic: the driver (tests/support/requester_crash_driver.ts, `TP_KILL_AFTER_FULFILLED`)
 * SIGKILLs its own process once the `fulfilled` line is on disk, before the record write.
 */
import { assert, assertEquals } from "../../harness/assert.ts";
import { callbackLogPath, startRequesterNetwork } from "../../harness/requester_network.ts";
import { requesterCrashDriver, writeShellEcho } from "../support/crash_driver_kit.ts";
import { openJobRepository } from "../../state/jobs/job_repository.ts";
import { openPaymentLog } from "../../state/payments/payment_log.ts";
import { openPeerLedger } from "../../state/payments/peer_ledger.ts";

Deno.test("requester: SIGKILLed between a payment's fulfilled line and the job record's write; started again, the record says paid as the log does, nothing is paid again, the job ends done and the provider was paid once", async () => {
  const root = await Deno.makeTempDir({ prefix: "turnpike-logged-payment-" });
  const townState = `${root}/town`;
  await Deno.mkdir(townState);
  const net = await startRequesterNetwork({
    town: { stateDir: townState },
    providerSkillsDir: await writeShellEcho(`${root}/skills`),
  });
  try {
    const killable = await requesterCrashDriver(net);
    const { stateDir } = killable;
    const driver = (kill: boolean) =>
      killable.command({ TP_PROGRESS: "1", ...(kill ? { TP_KILL_AFTER_FULFILLED: "1" } : {}) })
        .output();

    const first = await driver(true);
    assertEquals(first.signal, "SIGKILL", new TextDecoder().decode(first.stderr));
    const repo = await openJobRepository({ stateDir });
    const [summary] = repo.list({});
    const killed = await repo.read(summary.id);
    repo.close();
    assertEquals(
      [killed?.status, killed?.payments.map((p) => p.status)],
      ["paying", ["paying"]],
      "killed with the record behind the log",
    );
    const jobId = summary.id;
    const invoiceId = killed!.payments[0].invoiceId;
    const logged = await openPaymentLog({ stateDir });
    assertEquals(
      logged.entries().filter((e) => e.invoiceId === invoiceId).map((e) => e.event),
      ["intent", "fulfilled"],
    );

    const again = await driver(false);
    const said = new TextDecoder().decode(again.stdout);
    assert(said.includes("all-terminal"), said + new TextDecoder().decode(again.stderr));

    const after = await openJobRepository({ stateDir });
    const job = await after.read(jobId);
    after.close();
    const log = await openPaymentLog({ stateDir });
    const lines = log.entries().filter((e) => e.invoiceId === invoiceId);
    assertEquals(lines.map((e) => e.event), ["intent", "fulfilled"], "nothing paid again");
    const fulfilled = lines[1];
    assertEquals([job?.status, job?.error], ["done", undefined]);
    assertEquals(
      job?.payments.map((p) => [p.status, p.amount, p.fulfillment]),
      [["paid", BigInt(fulfilled.amount), fulfilled.fulfillment]],
      "the record says what the log says",
    );
    assert(said.includes("payment brought to the payment log"), said);
    assert(!said.includes("asked after a doubt"), `the provider was asked: ${said}`);
    const callbacks = (await Deno.readTextFile(callbackLogPath(stateDir))).trim().split("\n");
    assertEquals(callbacks.map((l) => l.split(" ").slice(0, 2)), [[jobId, "done"]]);

    // The provider was paid once, what the requester's log says it paid.
    const spent = log.entries()
      .filter((e) => e.direction === "out" && e.category === "job" && e.event === "fulfilled")
      .reduce((sum, e) => sum + BigInt(e.amount), 0n);
    const income = (await openPaymentLog({ stateDir: `${net.root}/provider` })).entries()
      .filter((e) => e.direction === "in" && e.event === "fulfilled" && e.jobId === jobId);
    assertEquals(income.map((e) => [e.invoiceId, BigInt(e.amount)]), [[invoiceId, spent]]);
    const owed = (await openPeerLedger({ stateDir: townState })).balance("provider");
    assertEquals([owed.owed, owed.packets], [spent, 1], "the town's books of the provider");
  } finally {
    await net.stop();
    await Deno.remove(root, { recursive: true });
  }
});
