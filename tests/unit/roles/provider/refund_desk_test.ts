/**
 * A deposit's refund, both sides (roles/provider/payments/refund_desk.ts,
 * roles/requester/job_refunds.ts): the provider's desk and the requester's receiver with their
 * real payment logs and job files; the town between them is stood in by a direct call (the e2e
 * test, tests/e2e/agent_task_refund_test.ts, routes it through a real town).
 */
import { assertEquals } from "../../../../harness/assert.ts";
import { generateSecretKey, getPublicKey } from "nostr-tools";
import { localNodeSigner } from "../../../../identity/local_node_signer.ts";
import { formatIlpInvoice } from "../../../../protocol/ilp_invoice.ts";
import type { IlpPrepare, IlpReply } from "../../../../protocol/ilp_packet.ts";
import { refundInvoiceId, refundLock } from "../../../../protocol/job_refund.ts";
import { RESTARTED_WHILE_RUNNING } from "../../../../roles/provider/jobs/job_recovery.ts";
import { providerSideCause, RefundDesk } from "../../../../roles/provider/payments/refund_desk.ts";
import { JobRefunds } from "../../../../roles/requester/job_refunds.ts";
import type { ProviderJobRecord } from "../../../../state/jobs/provider_job_record.ts";
import { openJobRepository } from "../../../../state/jobs/job_repository.ts";
import { openPaymentLog, type PaymentEntry } from "../../../../state/payments/payment_log.ts";
import { readProviderIncome } from "../../../../state/jobs/provider_job_index.ts";
import {
  openProviderJobStore,
  type ProviderJobStore,
} from "../../../../state/jobs/provider_job_store.ts";

const providerKey = generateSecretKey();
const requesterKey = generateSecretKey();
const provider = localNodeSigner(providerKey);
const requester = localNodeSigner(requesterKey);
const DEPOSIT = 111_129n;

/** A job that ended in error with its deposit paid. */
function failed(id: string, error: string, errorCode?: string): ProviderJobRecord {
  const now = new Date().toISOString();
  return {
    id,
    kind: 5603,
    customer: getPublicKey(requesterKey),
    skill: "agent-task",
    status: "error",
    price: String(DEPOSIT),
    requestToon: "id: x",
    encrypted: true,
    admittedAt: now,
    updatedAt: now,
    attempts: 1,
    invoice: formatIlpInvoice({
      destination: "test.town.beta",
      amount: DEPOSIT,
      assetCode: "USD",
      assetScale: 6,
      condition: "00".repeat(32),
      expiresAt: new Date(Date.now() + 60_000),
      jobId: id,
    }),
    paidAt: now,
    error,
    ...(errorCode ? { errorCode } : {}),
  };
}

/** Both sides' state dirs, the requester's job on record as having paid the deposit. */
async function sides(id: string) {
  const dir = await Deno.makeTempDir();
  const [providerDir, requesterDir] = [`${dir}/beta`, `${dir}/alice`];
  const repo = await openJobRepository({ stateDir: requesterDir });
  await repo.create({
    id,
    kind: 5603,
    skill: "none",
    status: "processing",
    createdAtMs: Date.now(),
    updatedAtMs: Date.now(),
    provider: provider.pubkey,
    payments: [{
      invoiceId: "00".repeat(32),
      amount: DEPOSIT,
      asset: "USD",
      status: "paid",
      startedAtMs: Date.now(),
    }],
  });
  const requesterLog = await openPaymentLog({ stateDir: requesterDir });
  const receiver = new JobRefunds({
    node: { repo, payments: requesterLog },
    signer: requester,
    links: () => undefined,
  });
  const sent: IlpPrepare[] = [];
  let store: ProviderJobStore | undefined;
  /** A desk over the provider's state as a (re)started provider opens it, holding `records`. */
  const desk = async (records: ProviderJobRecord[]) => {
    store?.close();
    store = await openProviderJobStore({ stateDir: providerDir });
    for (const id of store.all().map((r) => r.id)) await store.remove(id);
    for (const record of records) await store.put(record);
    const payments = await openPaymentLog({ stateDir: providerDir });
    return {
      payments,
      store,
      desk: new RefundDesk({
        address: () => "test.town.beta",
        store,
        payments,
        signer: provider,
        // The town, stood in: the PREPARE goes straight to the requester's receiver.
        send: (prepare): Promise<IlpReply> => {
          sent.push(prepare);
          return receiver.onPrepare(prepare);
        },
        log: () => {},
      }),
    };
  };
  const close = () => store?.close();
  return { dir, repo, requesterLog, receiver, sent, desk, providerDir, close };
}

/** The provider's entry of a job's refund (its deposit back to the requester). */
function refundEntry(id: string, event: "intent" | "fulfilled", ts: string): PaymentEntry {
  return {
    ts,
    direction: "out",
    event,
    jobId: id,
    invoiceId: refundInvoiceId(id),
    amount: String(DEPOSIT),
    asset: "USD",
    peer: getPublicKey(requesterKey),
    category: "job",
  };
}

/** Runs `fn` over both sides of a job, then closes and removes them. */
async function withSides(id: string, fn: (s: Awaited<ReturnType<typeof sides>>) => Promise<void>) {
  const s = await sides(id);
  try {
    await fn(s);
  } finally {
    s.close();
    await Deno.remove(s.dir, { recursive: true });
  }
}

Deno.test("refund desk: a provider's own failure refunds the deposit once; asked again after a restart, nothing more is sent", async () => {
  const id = "ab".repeat(32);
  await withSides(id, async (s) => {
    const records = [failed(id, RESTARTED_WHILE_RUNNING)];
    const first = await (await s.desk(records)).desk.ask(id, "test.town.alice");
    assertEquals(first.type === "reject" && first.message, `refunded ${DEPOSIT}`);
    assertEquals((await s.repo.read(id))?.refund?.amount, DEPOSIT);
    // The provider restarted: its payment log and income rows are all it knows.
    const restarted = await s.desk(records);
    const again = await restarted.desk.ask(id, "test.town.alice");
    assertEquals(again.type === "reject" && again.message, "already-refunded");
    // The refund paid is an income row (kept as long as the income), its intent a log line.
    const rows = readProviderIncome(s.providerDir, "2000-01-01").entries;
    assertEquals(rows.map((e) => [e.invoiceId, e.event]), [[refundInvoiceId(id), "fulfilled"]]);
    assertEquals(restarted.store.income.earnings(), -DEPOSIT); // the deposit's own row is not here
    const mine = restarted.payments.entries().filter((e) => e.invoiceId === refundInvoiceId(id));
    assertEquals(mine.map((e) => [e.direction, e.event]), [["out", "intent"], [
      "out",
      "fulfilled",
    ]]);
    assertEquals(s.sent.length, 1);
    const taken = s.requesterLog.entries().filter((e) => e.invoiceId === refundInvoiceId(id));
    assertEquals(taken.map((e) => [e.direction, e.event, e.amount]), [
      ["in", "fulfilled", String(DEPOSIT)],
    ]);
  });
});

Deno.test("refund desk: a crash between the refund's record and its PREPARE leaves it in doubt, never sent again", async () => {
  const id = "cd".repeat(32);
  await withSides(id, async (s) => {
    const { payments } = await s.desk([]);
    // What a provider killed right after recording the refund leaves on disk.
    await payments.append(refundEntry(id, "intent", new Date().toISOString()));
    const { desk } = await s.desk([failed(id, RESTARTED_WHILE_RUNNING)]);
    const reply = await desk.ask(id, "test.town.alice");
    assertEquals(reply.type === "reject" && reply.message.startsWith("refund-in-doubt"), true);
    assertEquals(s.sent.length, 0);
  });
});

Deno.test("refund desk: no refund for the requester's or its agent's failures, nor without a deposit paid", async () => {
  const id = "ef".repeat(32);
  await withSides(id, async (s) => {
    const theirs = [
      failed(
        id,
        "failed: no-commits: the agent committed nothing on turnpike/work",
        "agent-failed",
      ),
      failed(id, "failed: budget: the model calls cost 1000 of the budget 1000", "agent-failed"),
      failed(id, "timeout: the skill ran past its timeout", "agent-timeout"),
      { ...failed(id, RESTARTED_WHILE_RUNNING), status: "declined" as const },
      { ...failed(id, RESTARTED_WHILE_RUNNING), paidAt: undefined },
    ];
    for (const record of theirs) {
      const reply = await (await s.desk([record])).desk.ask(id, "test.town.alice");
      assertEquals(reply.type === "reject" && reply.message.startsWith("no-refund"), true);
    }
    assertEquals(s.sent.length, 0);
    const ours = [
      failed(id, RESTARTED_WHILE_RUNNING),
      failed(id, "failed: preset-cannot-run: the preset's command exited 127", "agent-failed"),
      failed(id, "sandbox-error: cannot set up the sandbox", "agent-sandbox-error"),
    ];
    assertEquals(ours.map(providerSideCause), [
      "restarted",
      "preset-cannot-run",
      "agent-sandbox-error",
    ]);
  });
});

Deno.test("job refunds: the requester takes only its own job's refund, never more than the job paid, once", async () => {
  const id = "12".repeat(32);
  await withSides(id, async (s) => {
    const { fulfillment, condition } = refundLock(
      await provider.conversationKey(getPublicKey(requesterKey)),
      id,
    );
    const refund = (amount: bigint, lock = condition): IlpPrepare => ({
      amount: String(amount),
      destination: "test.town.alice",
      executionCondition: lock,
      expiresAt: new Date(Date.now() + 20_000),
      data: new TextEncoder().encode(`refund:${id}`),
    });
    const message = (r: IlpReply) => r.type === "reject" ? r.message : "fulfilled";
    assertEquals(
      message(await s.receiver.onPrepare(refund(DEPOSIT + 1n))),
      `over what the job paid (${DEPOSIT})`,
    );
    assertEquals(
      message(await s.receiver.onPrepare(refund(DEPOSIT, new Uint8Array(32)))),
      "not this job's refund",
    );
    const taken = await s.receiver.onPrepare(refund(DEPOSIT));
    assertEquals(taken.type === "fulfill" && taken.fulfillment, fulfillment);
    assertEquals(message(await s.receiver.onPrepare(refund(DEPOSIT))), "already-refunded");
    assertEquals(s.requesterLog.entries().filter((e) => e.direction === "in").length, 1);
  });
});

Deno.test("refund desk: a refund paid before the payment log's 30 days is still paid; one asked over a week after the job's admission is refused", async () => {
  const id = "34".repeat(32);
  await withSides(id, async (s) => {
    const longAgo = new Date(Date.now() - 40 * 86_400_000).toISOString();
    const old = { ...failed(id, RESTARTED_WHILE_RUNNING), admittedAt: longAgo, paidAt: longAgo };
    const { store } = await s.desk([old]);
    // Refunded 40 days ago: its intent line is gone with its day, its row stays.
    store.income.refund({ ...refundEntry(id, "fulfilled", longAgo), fulfillment: "ef".repeat(32) });
    const again = await (await s.desk([old])).desk.ask(id, "test.town.alice");
    assertEquals(again.type === "reject" && again.message, "already-refunded");
    // Another job, never refunded, asked eight days after its admission: too late to ask.
    const late = "56".repeat(32);
    const eightDays = new Date(Date.now() - 8 * 86_400_000).toISOString();
    const record = { ...failed(late, RESTARTED_WHILE_RUNNING), admittedAt: eightDays };
    const reply = await (await s.desk([record])).desk.ask(late, "test.town.alice");
    assertEquals(
      reply.type === "reject" && reply.message,
      "no-refund: asked more than 7 days after the job was admitted",
    );
    assertEquals(s.sent.length, 0);
  });
});
