/**
 * The unpaid pool against a real town: requests nobody pays for, from fresh pubkeys, cannot
 * keep a paying requester out; withdrawn invoices free their slots and their late payments get
 * the withdrawal's reject; every drop and withdrawal is counted in the provider's status.
 */
import { finalizeEvent, generateSecretKey } from "nostr-tools";
import { assert, assertEquals } from "../../harness/assert.ts";
import { buildJobRequest } from "../../protocol/nip90_job.ts";
import type { NostrEvent } from "../../protocol/nostr_event.ts";
import { parseIlpInvoice } from "../../protocol/ilp_invoice.ts";
import type { IlpReply } from "../../protocol/ilp_packet.ts";
import {
  INVOICE_WITHDRAWN_CODE,
  INVOICE_WITHDRAWN_MESSAGES,
} from "../../roles/provider/payments/invoice_desk.ts";
import { readProviderStatus } from "../../roles/provider/provider_status.ts";
import {
  feedbackOf,
  resultOf,
  type TestRequester,
  waitUntil,
  withProvider,
} from "../../harness/provider_test_kit.ts";

const echo = (text: string) =>
  buildJobRequest({ kind: 5601, inputs: [{ data: text, type: "text" }] });

/** Pays an invoice the provider issued (read from its job record) through `payer`'s BTP link. */
async function payRecordedInvoice(payer: TestRequester, invoiceText: string): Promise<IlpReply> {
  const invoice = parseIlpInvoice(invoiceText);
  return await payer.paying.client.sendPrepare({
    amount: String(invoice.amount),
    destination: invoice.destination,
    executionCondition: Uint8Array.from(invoice.condition.match(/../g)!, (h) => parseInt(h, 16)),
    expiresAt: new Date(Date.now() + 30_000),
    data: new Uint8Array(),
  });
}

Deno.test("unpaid pool e2e: 40 unpaid requests from 5 fresh pubkeys do not keep a paying requester out", async () => {
  await withProvider(["echo"], [], async ({ provider, alice, root }) => {
    const c = provider.counters;
    const flood: NostrEvent[] = [];
    for (let k = 0; k < 5; k++) {
      const key = generateSecretKey();
      for (let i = 0; i < 8; i++) flood.push(finalizeEvent(echo(`flood ${k} ${i}`), key));
    }
    // The flood's writes are paid for like any other (through alice's account).
    const replies = await Promise.all(flood.map((e) => alice.paying.write(e)));
    assert(replies.every((r) => r.type === "fulfill"), "the town stored the flood");
    const overShare = () => c.dropped["over-requester-unpaid"] ?? 0;
    // Past its unpaid share a requester's requests are parked (until it pays, which these never
    // do) or, past the parking's bounds, dropped.
    const notAdmitted = () => overShare() + provider.parked;
    await waitUntil(() => c.admitted + notAdmitted() === 40, 60_000, "all 40 decided");
    // Never more than the pool holds, nor more than a requester's share; a withdrawn job's
    // requester may ask again, so how many were admitted depends on the arrival order.
    const invoiced = () => provider.store.all().filter((r) => r.status === "invoiced");
    const floodAdmitted = c.admitted;
    assert(
      floodAdmitted >= 10 && notAdmitted() === 40 - floodAdmitted,
      `${floodAdmitted} admitted`,
    );
    await waitUntil(() => invoiced().length === 8, 30_000, "8 invoices open");
    const perKey = Map.groupBy(invoiced(), (r) => r.customer);
    assert([...perKey.values()].every((jobs) => jobs.length <= 2), "shares hold");
    assertEquals(c.dropped["unpaid-displaced"], floodAdmitted - 8);

    // The paying requester: invoiced (displacing the oldest unpaid one), pays, is served.
    const job = await alice.post(echo("paying"));
    const invoice = await alice.waitFor(feedbackOf(job.id, "payment-required"));
    const paid = await alice.payInvoice(invoice);
    assertEquals(paid.reply.type, "fulfill");
    const result = await alice.waitFor(resultOf(job.id));
    assert(result.content.includes("paying"), "echo's result");
    assertEquals(c.dropped["unpaid-displaced"], floodAdmitted - 7);
    assertEquals(c.dropped["over-capacity"], undefined);

    // A displaced invoice paid late: refused with the typed reject, nothing recorded.
    const displaced = provider.store.all().filter((r) =>
      r.status === "error" && r.error?.includes("withdrawn") && r.invoice !== undefined
    );
    assertEquals(displaced.length, floodAdmitted - 7);
    const late = await payRecordedInvoice(alice, displaced[0].invoice!);
    assertEquals(late.type === "reject" && late.code, INVOICE_WITHDRAWN_CODE);
    assertEquals(late.type === "reject" && late.message, INVOICE_WITHDRAWN_MESSAGES.displaced);
    assertEquals(provider.store.get(displaced[0].id)?.status, "error");
    assertEquals(c.paid, 1);

    // The counts are what `node status` prints.
    await waitUntil(
      async () => {
        const status = await readProviderStatus(`${root}/state`);
        return status.counters.dropped["late-payment"] === 1;
      },
      10_000,
      "status file",
    );
    const status = await readProviderStatus(`${root}/state`);
    assertEquals(status.counters.dropped["over-requester-unpaid"], overShare() || undefined);
    assertEquals(status.counters.dropped["unpaid-displaced"], floodAdmitted - 7);
  }, { maxUnpaid: 8, maxUnpaidPerRequester: 2, unpaidGraceMs: 600_000 });
});

Deno.test("unpaid pool e2e: an invoice past its grace is withdrawn, its slot freed, its late payment rejected", async () => {
  await withProvider(["echo"], [], async ({ provider, alice }) => {
    const c = provider.counters;
    const first = await alice.post(echo("never paid in time"));
    const invoice = await alice.waitFor(feedbackOf(first.id, "payment-required"));
    await alice.waitFor(feedbackOf(first.id, "error"));
    assertEquals(c.dropped["unpaid-grace"], 1);
    const late = await alice.payInvoice(invoice);
    assertEquals(late.reply.type === "reject" && late.reply.code, INVOICE_WITHDRAWN_CODE);
    assertEquals(
      late.reply.type === "reject" && late.reply.message,
      INVOICE_WITHDRAWN_MESSAGES.grace,
    );
    assertEquals(c.dropped["late-payment"], 1);
    assertEquals(c.paid, 0);
    // The slot is free again: the requester's next job is invoiced (its share is 1).
    const second = await alice.post(echo("next"));
    await alice.waitFor(feedbackOf(second.id, "payment-required"));
    assertEquals(c.dropped["over-requester-unpaid"], undefined);
  }, { maxUnpaid: 1, maxUnpaidPerRequester: 1, unpaidGraceMs: 1_000 });
});
