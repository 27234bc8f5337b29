/**
 * The provider's payment desk on a real job store and payment log (a temp dir, no network):
 * billing, the exact PREPARE paying once and on disk first, withdrawal by expiry and by a
 * newer request, late payments, cancellation, restart re-opening an invoice, and the receipt
 * question of a requester whose payment is in doubt.
 */
import { assert, assertEquals } from "../../../harness/assert.ts";
import { bytesToHex } from "@noble/hashes/utils.js";
import { sha256 } from "@noble/hashes/sha2.js";
import { encodeReceiptQuestion } from "../../../protocol/payment_receipt.ts";
import { INVOICE_WITHDRAWN_CODE } from "../../../roles/provider/payments/invoice_desk.ts";
import { parseIlpInvoice } from "../../../protocol/ilp_invoice.ts";
import type { IlpPrepare } from "../../../protocol/ilp_packet.ts";
import { openProviderJobStore } from "../../../state/jobs/provider_job_store.ts";
import { openPaymentLog } from "../../../state/payments/payment_log.ts";
import { openTestDesk, prepareForInvoice, replyCode } from "../../support/payment_desk_harness.ts";
import type { ProviderJobRecord } from "../../../state/jobs/provider_job_record.ts";

// Invoices are addressed by a job id's first 18 hex digits: these differ there.
const jobId = (n: number) => n.toString(16).padStart(2, "0").repeat(32);

function admitted(n: number, customer = "c1".repeat(32), price = "500"): ProviderJobRecord {
  const now = new Date().toISOString();
  return {
    id: jobId(n),
    kind: 5100,
    customer,
    skill: "echo",
    status: "admitted",
    price,
    requestToon: "id: x",
    encrypted: false,
    admittedAt: now,
    updatedAt: now,
    attempts: 0,
  };
}

/** The PREPARE a requester builds from a record's invoice. */
const prepareFor = (record: ProviderJobRecord, amount?: string): IlpPrepare =>
  prepareForInvoice(record.invoice!, amount);
const openDesk = openTestDesk;
const codeOf = replyCode;

Deno.test("payment desk: the exact PREPARE is recorded on disk, then fulfilled, once", async () => {
  const stateDir = await Deno.makeTempDir();
  const d = await openDesk(stateDir);
  const billed = await d.admit(admitted(1));
  assertEquals(billed.status, "invoiced");
  assertEquals(d.desk.openInvoices, 1);
  assertEquals(codeOf(await d.desk.onPrepare(prepareFor(billed, "499"))), "F04");
  const prepares = [prepareFor(billed), prepareFor(billed)];
  prepares[1].expiresAt = new Date(prepares[0].expiresAt.getTime() + 1);
  const [first, second] = await Promise.all(prepares.map((p) => d.desk.onPrepare(p)));
  assertEquals([codeOf(first), codeOf(second)].sort(), ["F02", "fulfill"]);
  const paidBy = prepares[codeOf(first) === "fulfill" ? 0 : 1];
  assertEquals(d.paid, [billed.id]);
  assertEquals(d.desk.openInvoices, 0);
  // What a restart would find: the record paid and the payment logged.
  const store = await openProviderJobStore({ stateDir });
  assertEquals(store.get(billed.id)?.status, "paid");
  const log = await openPaymentLog({ stateDir });
  const lines = log.entries().filter((e) => e.jobId === billed.id);
  assertEquals(lines.map((e) => [e.direction, e.amount, e.category]), [["in", "500", "job"]]);
  // With the expiry of the PREPARE it fulfilled: which packet paid, for a town that lost its answer.
  assertEquals(lines[0].expiresAt, paidBy.expiresAt.toISOString());
  d.desk.close();
  await Deno.remove(stateDir, { recursive: true });
});

Deno.test("payment desk: a free job is paid when billed, with no invoice", async () => {
  const stateDir = await Deno.makeTempDir();
  const d = await openDesk(stateDir);
  const billed = await d.desk.bill(admitted(2, undefined, "0"));
  assertEquals(billed.status, "paid");
  assertEquals(billed.invoice, undefined);
  assertEquals(d.desk.openInvoices, 0);
  d.desk.close();
  await Deno.remove(stateDir, { recursive: true });
});

Deno.test("payment desk: an invoice not paid in time is withdrawn; its late payment gets F99", async () => {
  const stateDir = await Deno.makeTempDir();
  const d = await openDesk(stateDir, { invoiceLifetimeMs: 1 });
  const billed = await d.admit(admitted(3));
  while (d.withdrawn.length === 0) await new Promise((r) => setTimeout(r, 20));
  assertEquals(d.withdrawn, [[billed.id, "unpaid-grace"]]);
  const reply = await d.desk.onPrepare(prepareFor(billed));
  assertEquals(codeOf(reply), INVOICE_WITHDRAWN_CODE);
  assertEquals(d.late.length, 1);
  assertEquals(d.paid, []);
  d.desk.close();
  await Deno.remove(stateDir, { recursive: true });
});

Deno.test("payment desk: a full pool withdraws the oldest unpaid job; paying it then gets F99", async () => {
  const stateDir = await Deno.makeTempDir();
  const d = await openDesk(stateDir);
  const oldest = await d.admit(admitted(4, "a1".repeat(32)));
  await d.admit(admitted(5, "a2".repeat(32)));
  await d.admit(admitted(6, "a3".repeat(32)));
  assertEquals(d.withdrawn, [[oldest.id, "unpaid-displaced"]]);
  assertEquals(d.desk.openInvoices, 2);
  const reply = await d.desk.onPrepare(prepareFor(oldest));
  assertEquals(codeOf(reply), INVOICE_WITHDRAWN_CODE);
  assertEquals(d.late.length, 1);
  assertEquals(d.paid, []);
  d.desk.close();
  await Deno.remove(stateDir, { recursive: true });
});

Deno.test("payment desk: a requester over its share of the pool is refused a slot", async () => {
  const stateDir = await Deno.makeTempDir();
  const d = await openDesk(stateDir, { unpaid: { max: 8, maxPerRequester: 1 } });
  await d.admit(admitted(7));
  const slot = d.desk.reserve(admitted(8));
  assertEquals(slot.ok ? "ok" : slot.reason, "over-requester-unpaid");
  d.desk.close();
  await Deno.remove(stateDir, { recursive: true });
});

Deno.test("payment desk: a released (cancelled) invoice can no longer be paid", async () => {
  const stateDir = await Deno.makeTempDir();
  const d = await openDesk(stateDir);
  const billed = await d.admit(admitted(9));
  d.desk.release(billed.id);
  assertEquals(codeOf(await d.desk.onPrepare(prepareFor(billed))), "F02");
  assertEquals(d.paid, []);
  d.desk.close();
  await Deno.remove(stateDir, { recursive: true });
});

Deno.test("payment desk: after a restart the invoice is re-opened from the record and can be paid", async () => {
  const stateDir = await Deno.makeTempDir();
  const before = await openDesk(stateDir);
  const billed = await before.admit(admitted(10));
  before.desk.close();
  const after = await openDesk(stateDir);
  const record = after.store.get(billed.id)!;
  assertEquals(codeOf(await after.desk.onPrepare(prepareFor(record))), "F02");
  after.desk.reopen(record);
  assertEquals(codeOf(await after.desk.onPrepare(prepareFor(record))), "fulfill");
  assertEquals(after.paid, [billed.id]);
  after.desk.close();
  await Deno.remove(stateDir, { recursive: true });
});

Deno.test("payment desk: once closed (stopping), payments are refused T00", async () => {
  const stateDir = await Deno.makeTempDir();
  const d = await openDesk(stateDir);
  const billed = await d.admit(admitted(11));
  d.desk.close();
  assertEquals(codeOf(await d.desk.onPrepare(prepareFor(billed))), "T00");
  await Deno.remove(stateDir, { recursive: true });
});

Deno.test("payment desk: a receipt question (amount 0) is answered with the fulfillment once paid, F99 before, and pays nothing", async () => {
  const stateDir = await Deno.makeTempDir();
  const d = await openDesk(stateDir);
  const billed = await d.admit(admitted(7));
  const question = (record: ProviderJobRecord, id = record.id): IlpPrepare => ({
    ...prepareFor(record, "0"),
    data: encodeReceiptQuestion(id),
  });
  // Not paid yet: F99, and the invoice is still open and payable.
  const before = await d.desk.onPrepare(question(billed));
  assertEquals(codeOf(before), "F99");
  assertEquals(d.desk.openInvoices, 1);
  assertEquals(codeOf(await d.desk.onPrepare(prepareFor(billed))), "fulfill");
  // Paid: the receipt is the fulfillment, its SHA-256 the invoice's condition.
  const after = await d.desk.onPrepare(question(billed));
  assert(after.type === "fulfill", JSON.stringify(after));
  assertEquals(bytesToHex(after.fulfillment), billed.fulfillment);
  assertEquals(
    bytesToHex(sha256(after.fulfillment)),
    parseIlpInvoice(billed.invoice!).condition,
  );
  // Another job's id, or a condition that is not the invoice's: F99.
  assertEquals(codeOf(await d.desk.onPrepare(question(billed, jobId(8)))), "F99");
  assertEquals(
    codeOf(
      await d.desk.onPrepare({ ...question(billed), executionCondition: new Uint8Array(32) }),
    ),
    "F99",
  );
  // A second PREPARE with money is still refused, and the job was paid (logged) once.
  assertEquals(codeOf(await d.desk.onPrepare(prepareFor(billed))), "F02");
  assertEquals(d.paid, [billed.id]);
  const log = await openPaymentLog({ stateDir });
  assertEquals(log.entries().filter((e) => e.jobId === billed.id).length, 1);
  d.desk.close();
  await Deno.remove(stateDir, { recursive: true });
});

Deno.test("payment desk: a PREPARE already expired is refused R00 and not recorded; the invoice stays open", async () => {
  const stateDir = await Deno.makeTempDir();
  const d = await openDesk(stateDir);
  const billed = await d.admit(admitted(9));
  const expired = { ...prepareFor(billed), expiresAt: new Date(Date.now() - 1) };
  assertEquals(codeOf(await d.desk.onPrepare(expired)), "R00");
  assertEquals(d.paid, []);
  assertEquals(d.desk.openInvoices, 1);
  assertEquals((await openPaymentLog({ stateDir })).entries().length, 0);
  // The payer sends it again in time: paid.
  assertEquals(codeOf(await d.desk.onPrepare(prepareFor(billed))), "fulfill");
  assertEquals(d.paid, [billed.id]);
  d.desk.close();
  await Deno.remove(stateDir, { recursive: true });
});
