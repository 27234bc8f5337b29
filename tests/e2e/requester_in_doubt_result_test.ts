/**
 * A requester killed between its PREPARE and the FULFILL's line in its payment log: its payment
 * is in doubt when it starts again (state/payments/payment_log.ts). The provider was paid, so
 * its result comes; a town replays stored events newest first, so the result is handled before
 * the `payment-required` feedback whose replay would ask the receipt. The result must not end
 * the job `done` with the payment unlogged: the receipt is asked then, and its FULFILL logged
 * (docs/PROTOCOL.md "Paying a provider").
 *
 * Deterministic: the requester's process is SIGSTOPped when the provider logs the payment (its
 * `paid` line, written before the FULFILL leaves it), kept stopped until the result is out (the
 * FULFILL waits unread on the requester's socket), then SIGKILLed. The provider's skill
 * sleeps 1.5 s, so the result is stored a second later than the feedback at least.
 */
import { assert, assertEquals } from "../../harness/assert.ts";
import { startRequesterNetwork } from "../../harness/requester_network.ts";
import { requesterCrashDriver, writeShellEcho } from "../support/crash_driver_kit.ts";
import { openJobRepository } from "../../state/jobs/job_repository.ts";
import { openPaymentLog, type PaymentEntry } from "../../state/payments/payment_log.ts";

const ANSWER = "answered after a while";

/** The payment log's lines of a file, parsed (a partial last line skipped). */
async function logLines(path: string): Promise<PaymentEntry[]> {
  const text = await Deno.readTextFile(path).catch(() => "");
  return text.split("\n").flatMap((l) => {
    try {
      return [JSON.parse(l) as PaymentEntry];
    } catch {
      return [];
    }
  });
}

Deno.test("requester: SIGKILLed between its PREPARE and the FULFILL's log line; the provider's result comes first after the restart: the job is done and the payment logged fulfilled once", async () => {
  const root = await Deno.makeTempDir({ prefix: "turnpike-in-doubt-result-" });
  let killed: Deno.ChildProcess | undefined;
  let paidJob: string | undefined;
  const net = await startRequesterNetwork({
    // Answers after 1.5 s: its result a second newer than its invoice.
    providerSkillsDir: await writeShellEcho(
      root,
      `cat >/dev/null\nsleep 1.5\nprintf '${ANSWER}'\n`,
    ),
    providerOptions: {
      // Called before the FULFILL is returned: the requester stops before it can read it.
      log: (line) => {
        if (!line.startsWith("paid ") || paidJob !== undefined) return;
        killed?.kill("SIGSTOP");
        paidJob = line.slice(5, 69);
      },
    },
  });
  try {
    const killable = await requesterCrashDriver(net);
    const { stateDir } = killable;
    const driver = () => killable.command().spawn();

    const logPath = `${stateDir}/payment_log.jsonl`;
    const first = killed = driver();
    // The provider paid (its record and its line on disk before its FULFILL) and its result out.
    const provider = net.provider!;
    for (
      let i = 0;
      paidJob === undefined || provider.store.get(paidJob)?.status !== "published";
      i++
    ) {
      const now = paidJob === undefined ? undefined : provider.store.get(paidJob);
      assert(i < 600, `the provider never published: ${JSON.stringify(now)}`);
      await new Promise((r) => setTimeout(r, 100));
    }
    const jobId = paidJob;
    const intent = (await logLines(logPath)).find((e) =>
      e.jobId === jobId && e.category === "job"
    )!;
    const before = await logLines(logPath);
    assertEquals(
      before.filter((e) => e.invoiceId === intent.invoiceId).map((e) => e.event),
      ["intent"],
      "the FULFILL is not logged before the kill",
    );
    first.kill("SIGKILL");
    await first.status;
    await Promise.all([first.stdout.cancel(), first.stderr.cancel()]);

    const again = driver();
    const out = await again.output();
    assert(new TextDecoder().decode(out.stdout).includes("all-terminal"));

    const repo = await openJobRepository({ stateDir });
    const job = await repo.read(jobId);
    repo.close();
    assertEquals([job?.status, job?.error], ["done", undefined]);
    assertEquals(job?.payments.map((p) => p.status), ["paid"], "the record says paid too");
    const log = await openPaymentLog({ stateDir });
    const outcomes = log.entries().filter((e) =>
      e.invoiceId === intent.invoiceId && e.event !== "intent"
    );
    assertEquals(outcomes.map((e) => e.event), ["fulfilled"], "the payment's outcome logged once");
    assertEquals(log.invoiceState(intent.invoiceId), "paid");
  } finally {
    await net.stop();
    await Deno.remove(root, { recursive: true });
  }
});
