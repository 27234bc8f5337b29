/**
 * Paid on delivery at the provider's payment desk (docs/PROTOCOL.md "Paid on delivery"), on a
 * real job store and payment log: the deposit paid up front, the delivery invoice opened with
 * the result and paid once, its FULFILL the preimage that opens the result's sealed key, the
 * receipt question answered for either invoice, a restart re-opening the delivery invoice, and
 * a delivery never paid ending the job `declined` with its key never released.
 */
import { assert, assertEquals } from "../../../harness/assert.ts";
import { bytesToHex, hexToBytes } from "@noble/hashes/utils.js";
import { sha256 } from "@noble/hashes/sha2.js";
import { encodeReceiptQuestion } from "../../../protocol/payment_receipt.ts";
import { INVOICE_WITHDRAWN_CODE } from "../../../roles/provider/payments/invoice_desk.ts";
import { parseIlpInvoice } from "../../../protocol/ilp_invoice.ts";
import { openProviderJobStore } from "../../../state/jobs/provider_job_store.ts";
import { openPaymentLog } from "../../../state/payments/payment_log.ts";
import { openTestDesk, prepareForInvoice, replyCode } from "../../support/payment_desk_harness.ts";
import type { ProviderJobRecord } from "../../../state/jobs/provider_job_record.ts";
import { openDeliveryKey, sealResultContent } from "../../../protocol/delivery_key.ts";

const JOB = "ab".repeat(32);

function admitted(): ProviderJobRecord {
  const now = new Date().toISOString();
  return {
    id: JOB,
    kind: 5603,
    customer: "c1".repeat(32),
    skill: "agent-task",
    status: "admitted",
    price: "200",
    deliveryPrice: "800",
    requestToon: "id: x",
    encrypted: true,
    admittedAt: now,
    updatedAt: now,
    attempts: 0,
  };
}

const prepareFor = prepareForInvoice;
const openDesk = openTestDesk;
const codeOf = replyCode;

/** Admitted, deposit paid, result computed and its delivery invoice out: the node's steps. */
async function deliver(d: Awaited<ReturnType<typeof openDesk>>) {
  d.desk.reserve(admitted());
  const billed = await d.desk.bill(admitted());
  await d.store.put(billed);
  assertEquals(codeOf(await d.desk.onPrepare(prepareFor(billed.invoice!))), "fulfill");
  const computed = { ...d.store.get(JOB)!, status: "result-computed" as const, result: "{}" };
  const withInvoice = await d.desk.billDelivery(computed);
  await d.store.put(withInvoice);
  const out = { ...withInvoice, status: "delivered" as const, resultEventId: "ee".repeat(32) };
  await d.store.put(out);
  d.desk.armDelivery(out);
  return out;
}

Deno.test("paid on delivery: the delivery invoice is paid once, its FULFILL opens the key", async () => {
  const stateDir = await Deno.makeTempDir();
  const d = await openDesk(stateDir);
  const out = await deliver(d);
  const invoice = parseIlpInvoice(out.deliveryInvoice!);
  assertEquals(invoice.amount, 800n);
  assertEquals(invoice.jobId, JOB);
  // The deposit's invoice is another one: its condition differs.
  assert(parseIlpInvoice(out.invoice!).condition !== invoice.condition);
  assertEquals(codeOf(await d.desk.onPrepare(prepareFor(out.deliveryInvoice!, "799"))), "F04");
  assertEquals(codeOf(await d.desk.onPrepare(prepareFor(out.deliveryInvoice!, "801"))), "F03");
  const sealed = JSON.parse(
    await sealResultContent(
      JSON.stringify({ verdict: "pass", key: "5a".repeat(32) }),
      hexToBytes(out.deliveryFulfillment!),
    ),
  ) as { sealedKey: string; key?: string };
  assertEquals(sealed.key, undefined);
  const [first, second] = await Promise.all([
    d.desk.onPrepare(prepareFor(out.deliveryInvoice!)),
    d.desk.onPrepare(prepareFor(out.deliveryInvoice!)),
  ]);
  assertEquals([codeOf(first), codeOf(second)].sort(), ["F02", "fulfill"]);
  const fulfill = [first, second].find((r) => r.type === "fulfill")!;
  assert(fulfill.type === "fulfill");
  assertEquals(bytesToHex(sha256(fulfill.fulfillment)), invoice.condition);
  assertEquals(await openDeliveryKey(sealed.sealedKey, fulfill.fulfillment), "5a".repeat(32));
  assertEquals(d.delivered, [JOB]);
  // On disk before the FULFILL: the job published, both payments logged.
  const store = await openProviderJobStore({ stateDir });
  assertEquals(store.get(JOB)?.status, "published");
  assert(store.get(JOB)?.deliveryPaidAt !== undefined);
  const log = await openPaymentLog({ stateDir });
  assertEquals(
    log.entries().filter((e) => e.jobId === JOB).map((e) => [e.direction, e.amount]),
    [["in", "200"], ["in", "800"]],
  );
  // The receipt question: answered for each invoice with its own preimage.
  for (const text of [out.invoice!, out.deliveryInvoice!]) {
    const receipt = await d.desk.onPrepare({
      ...prepareFor(text, "0"),
      data: encodeReceiptQuestion(JOB),
    });
    assert(receipt.type === "fulfill");
    assertEquals(bytesToHex(sha256(receipt.fulfillment)), parseIlpInvoice(text).condition);
  }
  d.desk.close();
  await Deno.remove(stateDir, { recursive: true });
});

Deno.test("paid on delivery: a payment that lands before `delivered` is recorded leaves the job published", async () => {
  const stateDir = await Deno.makeTempDir();
  const d = await openDesk(stateDir);
  d.desk.reserve(admitted());
  const billed = await d.desk.bill(admitted());
  await d.store.put(billed);
  await d.desk.onPrepare(prepareFor(billed.invoice!));
  const computed = { ...d.store.get(JOB)!, status: "result-computed" as const, result: "{}" };
  const withInvoice = await d.desk.billDelivery(computed);
  await d.store.put(withInvoice);
  // The requester pays as soon as it reads the result, before the node records `delivered`.
  assertEquals(codeOf(await d.desk.onPrepare(prepareFor(withInvoice.deliveryInvoice!))), "fulfill");
  assertEquals(d.store.get(JOB)?.status, "result-computed");
  assert(d.store.get(JOB)?.deliveryPaidAt !== undefined);
  d.desk.close();
  await Deno.remove(stateDir, { recursive: true });
});

Deno.test("paid on delivery: a restart re-opens the same delivery invoice; billing again changes nothing", async () => {
  const stateDir = await Deno.makeTempDir();
  const d = await openDesk(stateDir);
  const out = await deliver(d);
  d.desk.close();
  const again = await openDesk(stateDir);
  const record = again.store.get(JOB)!;
  assertEquals(record.status, "delivered");
  // A restart at result-computed bills again: the same invoice, not a new one.
  const rebilled = await again.desk.billDelivery({ ...record, status: "result-computed" });
  assertEquals(rebilled.deliveryInvoice, out.deliveryInvoice);
  again.desk.armDelivery(record);
  assertEquals(codeOf(await again.desk.onPrepare(prepareFor(out.deliveryInvoice!))), "fulfill");
  assertEquals(again.store.get(JOB)?.status, "published");
  again.desk.close();
  await Deno.remove(stateDir, { recursive: true });
});

Deno.test("paid on delivery: a delivery never paid is declined, and a late payment gets F99", async () => {
  const stateDir = await Deno.makeTempDir();
  const d = await openDesk(stateDir, { deliveryLifetimeMs: 30 });
  const out = await deliver(d);
  while (d.declined.length === 0) await new Promise((r) => setTimeout(r, 10));
  assertEquals(d.declined, [JOB]);
  const store = await openProviderJobStore({ stateDir });
  assertEquals(store.get(JOB)?.status, "declined");
  assertEquals(store.get(JOB)?.deliveryPaidAt, undefined);
  const late = await d.desk.onPrepare(prepareFor(out.deliveryInvoice!));
  assertEquals(codeOf(late), INVOICE_WITHDRAWN_CODE);
  assertEquals(d.delivered, []);
  // Only the deposit was ever taken.
  const log = await openPaymentLog({ stateDir });
  assertEquals(log.entries().filter((e) => e.jobId === JOB).map((e) => e.amount), ["200"]);
  d.desk.close();
  await Deno.remove(stateDir, { recursive: true });
});
