/**
 * The provider's questions about the income lines of its last moments (roles/provider/payments/
 * owed_questions.ts), answered by a town's books (roles/town/btp/owed_answers.ts over a real peer
 * ledger; the BTP session between them is tests/e2e/provider_unfulfilled_income_test.ts's).
 */
import { assertEquals, assertRejects } from "../../../../harness/assert.ts";
import { OwedQuestions } from "../../../../roles/provider/payments/owed_questions.ts";
import { createOwedAnswers } from "../../../../roles/town/btp/owed_answers.ts";
import { decodeOwedAnswer, encodeOwedQuestion } from "../../../../protocol/payment_owed.ts";
import { openPeerLedger, type PeerLedger } from "../../../../state/payments/peer_ledger.ts";
import { openPaymentLog, type PaymentEntry } from "../../../../state/payments/payment_log.ts";
import { reversalOf, withoutReversed } from "../../../../state/payments/income_reversals.ts";
import { readProviderIncome } from "../../../../state/jobs/provider_job_index.ts";
import { openProviderJobStore } from "../../../../state/jobs/provider_job_store.ts";
import type { ProviderJobRecord } from "../../../../state/jobs/provider_job_record.ts";

const COND = ["a1", "b2", "c3", "d4"].map((h) => h.repeat(32));

function invoiceText(job: string, condition: string): string {
  return `ilp:g.town.provider.e?amount=100&asset=USD&scale=6&condition=${condition}` +
    `&expires=2030-01-01T00:00:00.000Z&job=${job}`;
}

function paidRecord(job: string, condition: string, status: ProviderJobRecord["status"]) {
  const now = new Date().toISOString();
  return {
    id: job,
    kind: 5601,
    customer: "c".repeat(64),
    skill: "echo",
    price: "100",
    status,
    requestToon: "",
    encrypted: false,
    attempts: 0,
    admittedAt: now,
    updatedAt: now,
    invoice: invoiceText(job, condition),
    fulfillment: "ff".repeat(32),
    paidAt: now,
  } satisfies ProviderJobRecord;
}

function income(job: string, condition: string, ts: string): PaymentEntry {
  return {
    ts,
    direction: "in",
    event: "fulfilled",
    jobId: job,
    invoiceId: condition,
    amount: "100",
    asset: "USD",
    peer: "c".repeat(64),
    category: "job",
  };
}

async function setUp() {
  const dir = await Deno.makeTempDir();
  await Deno.mkdir(`${dir}/town`);
  const ledger = await openPeerLedger({ stateDir: `${dir}/town` });
  const payments = await openPaymentLog({ stateDir: dir });
  const store = await openProviderJobStore({ stateDir: dir });
  const answers = createOwedAnswers({ ledger, shared: false });
  const lines: string[] = [];
  const questions = (ledgerOf: PeerLedger = ledger, shared = false) =>
    new OwedQuestions({
      ask: (conditions, paidExpiresAt) =>
        createOwedAnswers({ ledger: ledgerOf, shared })(
          "provider",
          encodeOwedQuestion(conditions, { paidExpiresAt }),
        ).then(decodeOwedAnswer),
      payments,
      store,
      log: (l) => lines.push(l),
      intervalMs: 20,
    });
  return { dir, ledger, payments, store, answers, lines, questions };
}

const job = (n: number) => String(n).repeat(64);

Deno.test("owed questions at start: a payment the town rejected is reversed and its job awaits it again; one it owes stands; one counted twice keeps one line; lines before the window are not asked", async () => {
  const t = await setUp();
  try {
    const newest = Date.parse("2026-11-27T10:00:00.000Z");
    const at = (msBefore: number) => new Date(newest - msBefore).toISOString();
    // Refused: the provider dropped before its FULFILL left (T01).
    await t.ledger.forward("provider", COND[0], 100n);
    await t.ledger.rejected("provider", COND[0], "T01");
    await t.store.put(paidRecord(job(1), COND[0], "paid"));
    await t.payments.append(income(job(1), COND[0], at(1_000)));
    // Owed, and written twice (once is owed).
    await t.ledger.forward("provider", COND[1], 100n);
    await t.ledger.fulfilled("provider", COND[1], "ee".repeat(32));
    await t.store.put(paidRecord(job(2), COND[1], "published"));
    await t.payments.append(income(job(2), COND[1], at(500)));
    await t.payments.append(income(job(2), COND[1], at(400)));
    // Long before the last moments: not asked (the town never forwarded it here, but it stands).
    await t.store.put(paidRecord(job(3), COND[2], "published"));
    await t.payments.append(income(job(3), COND[2], at(120_000)));
    await t.payments.append(income(job(4), COND[3], at(0)));
    // The town never heard of job 4's payment either: not owed; its record was gone already.

    const q = t.questions();
    await q.atStart();
    q.close();
    const standing = withoutReversed(t.payments.entries());
    assertEquals(standing.map((e) => e.jobId), [job(2), job(3)], t.lines.join("\n"));
    const reversed = t.payments.entries().filter((e) => e.event === "reversed");
    assertEquals(reversed.map((e) => e.jobId).sort(), [job(1), job(2), job(4)]);
    assertEquals(t.store.get(job(1))?.status, "invoiced");
    assertEquals(t.store.get(job(1))?.paidAt, undefined);
    assertEquals(t.store.get(job(2))?.status, "published");
    assertEquals(q.inDoubt, 0);

    // Asked again (a restart): nothing more is reversed.
    const again = t.questions();
    await again.atStart();
    again.close();
    assertEquals(t.payments.entries().filter((e) => e.event === "reversed").length, 3);
  } finally {
    await t.payments.flush();
    t.store.close();
    await Deno.remove(t.dir, { recursive: true });
  }
});

Deno.test("owed questions: a payment in flight on the town is asked again until answered; after a reconnect the lines of the drop's last moments are asked, the books corrected, a job already run left as it is", async () => {
  const t = await setUp();
  try {
    await t.ledger.forward("provider", COND[0], 100n); // still in flight on the town
    await t.store.put(paidRecord(job(1), COND[0], "paid"));
    await t.payments.append(income(job(1), COND[0], new Date().toISOString()));
    const q = t.questions();
    await q.atStart();
    assertEquals(q.inDoubt, 1, t.lines.join("\n"));
    await t.ledger.rejected("provider", COND[0], "R00"); // given up at its expiry
    while (q.inDoubt > 0) await new Promise((r) => setTimeout(r, 10));
    assertEquals(withoutReversed(t.payments.entries()), []);
    // Answered after the start: the job may have run; only the books are corrected.
    assertEquals(t.store.get(job(1))?.status, "paid");

    // Running now: the connection drops just after a line whose FULFILL never left.
    await t.ledger.forward("provider", COND[1], 100n);
    await t.ledger.rejected("provider", COND[1], "T01");
    await t.store.put(paidRecord(job(2), COND[1], "running"));
    await t.payments.append(income(job(2), COND[1], new Date().toISOString()));
    q.connection("lost");
    q.connection("open");
    while (withoutReversed(t.payments.entries()).length > 0) {
      await new Promise((r) => setTimeout(r, 10));
    }
    assertEquals(t.store.get(job(2))?.status, "running");
    q.close();
  } finally {
    await t.payments.flush();
    t.store.close();
    await Deno.remove(t.dir, { recursive: true });
  }
});

Deno.test("owed questions: an income row the town does not owe is taken back by a reversed row, in the transaction of its record going back to invoiced; the invoice paid again counts once", async () => {
  const t = await setUp();
  try {
    await t.ledger.forward("provider", COND[0], 100n);
    await t.ledger.rejected("provider", COND[0], "T01");
    const paid = income(job(1), COND[0], new Date().toISOString());
    await t.store.put(paidRecord(job(1), COND[0], "paid"), { income: paid });
    t.payments.noteIncome(paid);
    const q = t.questions();
    await q.atStart();
    q.close();
    const rows = () => readProviderIncome(t.dir, "2000-01-01").entries.map((e) => e.event);
    assertEquals(rows(), ["fulfilled", "reversed"], t.lines.join("\n"));
    assertEquals(
      await Deno.stat(`${t.dir}/payment_log.jsonl`).then(() => true, () => false),
      false,
    );
    assertEquals(t.store.get(job(1))?.status, "invoiced");
    assertEquals(withoutReversed(t.payments.entries()), []);
    const reopened = await openPaymentLog({ stateDir: t.dir });
    assertEquals(withoutReversed(reopened.entries()), [], "read back from the rows");

    // Its invoice open again, paid again: one payment stands; a second one is refused.
    const again = income(job(1), COND[0], new Date().toISOString());
    await t.store.put(paidRecord(job(1), COND[0], "paid"), { income: again });
    assertEquals(rows(), ["fulfilled", "reversed", "fulfilled"]);
    await assertRejects(
      () => t.store.put(paidRecord(job(1), COND[0], "paid"), { income: again }),
      Error,
      "UNIQUE",
    );
    const books = await openPaymentLog({ stateDir: t.dir });
    assertEquals(withoutReversed(books.entries()).map((e) => e.invoiceId), [COND[0]]);
    assertEquals(await t.store.reverseIncome(reversalOf(again, new Date().toISOString())), true);
    assertEquals(withoutReversed((await openPaymentLog({ stateDir: t.dir })).entries()), []);
  } finally {
    await t.payments.flush();
    t.store.close();
    await Deno.remove(t.dir, { recursive: true });
  }
});

Deno.test("owed questions at start: a provider stopped longer than its payment log keeps its days asks about its last income rows; one the town refused is taken back and its job awaits it again", async () => {
  const t = await setUp();
  try {
    // Killed after the paid record and its income row, before its FULFILL left (T01), 31 days ago.
    await t.ledger.forward("provider", COND[0], 100n);
    await t.ledger.rejected("provider", COND[0], "T01");
    const then = new Date(Date.now() - 31 * 86_400_000).toISOString();
    await t.store.put(paidRecord(job(1), COND[0], "paid"), {
      income: income(job(1), COND[0], then),
    });
    const log = await openPaymentLog({ stateDir: t.dir });
    assertEquals(log.entries(), [], "the log's days no longer hold it");
    const q = new OwedQuestions({
      ask: (conditions) =>
        t.answers("provider", encodeOwedQuestion(conditions)).then(decodeOwedAnswer),
      payments: log,
      store: t.store,
      log: (l) => t.lines.push(l),
      intervalMs: 20,
    });
    await q.atStart();
    q.close();
    assertEquals(t.store.get(job(1))?.status, "invoiced", t.lines.join("\n"));
    assertEquals(t.store.income.earnings(), 0n);
    assertEquals(t.store.income.standingEntries(COND[0]), []);
  } finally {
    await t.payments.flush();
    t.store.close();
    await Deno.remove(t.dir, { recursive: true });
  }
});

Deno.test("owed questions at start: a reversal a start wrote after the last payments does not hide the payments still in doubt", async () => {
  const t = await setUp();
  try {
    // Two payments in the last moments of a run 31 days ago; a later start took one back, left
    // the other in doubt, and stopped.
    await t.ledger.forward("provider", COND[1], 100n);
    await t.ledger.rejected("provider", COND[1], "T01");
    const then = Date.now() - 31 * 86_400_000;
    const paid = income(job(1), COND[0], new Date(then).toISOString());
    await t.store.put(paidRecord(job(1), COND[0], "published"), { income: paid });
    await t.store.put(paidRecord(job(2), COND[1], "paid"), {
      income: income(job(2), COND[1], new Date(then + 500).toISOString()),
    });
    await t.store.reverseIncome(reversalOf(paid, new Date(then + 3_600_000).toISOString()));
    const q = new OwedQuestions({
      ask: (conditions) =>
        t.answers("provider", encodeOwedQuestion(conditions)).then(decodeOwedAnswer),
      payments: await openPaymentLog({ stateDir: t.dir }),
      store: t.store,
      log: (l) => t.lines.push(l),
      intervalMs: 20,
    });
    await q.atStart();
    q.close();
    assertEquals(t.store.get(job(2))?.status, "invoiced", t.lines.join("\n"));
    assertEquals(t.store.income.standingEntries(COND[1]), []);
  } finally {
    await t.payments.flush();
    t.store.close();
    await Deno.remove(t.dir, { recursive: true });
  }
});

Deno.test("owed questions on a town of several processes: a payment whose PREPARE this process refused is reversed; one paid by another packet of the condition (another expiry) stands, asked again", async () => {
  const t = await setUp();
  try {
    const newest = Date.parse("2026-11-27T10:00:00.000Z");
    const expiry = (ms: number) => new Date(newest + ms);
    // Both packets refused here (T01) with expiry +30 s; the provider fulfilled COND[0]'s packet
    // of that expiry, and COND[1]'s of +29 s: another process's PREPARE.
    for (const c of [COND[0], COND[1]]) {
      await t.ledger.forward("provider", c, 100n, expiry(30_000));
      await t.ledger.rejected("provider", c, "T01");
    }
    await t.store.put(paidRecord(job(1), COND[0], "paid"));
    await t.store.put(paidRecord(job(2), COND[1], "paid"));
    const line = (n: number, c: string, ms: number): PaymentEntry => ({
      ...income(job(n), c, new Date(newest).toISOString()),
      expiresAt: expiry(ms).toISOString(),
    });
    await t.payments.append(line(1, COND[0], 30_000));
    await t.payments.append(line(2, COND[1], 29_000));
    const q = t.questions(t.ledger, true);
    await q.atStart();
    q.close();
    const standing = withoutReversed(t.payments.entries()).map((e) => e.invoiceId);
    assertEquals(standing, [COND[1]]);
    assertEquals(q.inDoubt, 1);
    assertEquals(t.store.get(job(1))?.status, "invoiced");
    assertEquals(t.store.get(job(2))?.status, "paid");
  } finally {
    await Deno.remove(t.dir, { recursive: true });
  }
});
