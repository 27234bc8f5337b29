/**
 * A requester's unpaid share at a provider grows with its paid history there
 * (roles/provider/payments/requester_share.ts, docs/PROTOCOL.md "Unpaid share from trust"): a
 * real town, a provider node, a requester over real sockets. A stranger may have one invoice
 * open (the floor); once it paid a job here, two (its rank from that receipt, toward the ceiling
 * of four); a third waits. Before, the share was the floor whatever it paid.
 */
import { assertEquals } from "../../harness/assert.ts";
import { buildJobRequest } from "../../protocol/nip90_job.ts";
import { feedbackOf, resultOf, waitUntil, withProvider } from "../../harness/provider_test_kit.ts";

const priced = {
  name: "priced",
  kinds: [5050],
  price: 1_000,
  run: "#!/bin/sh\ncat >/dev/null\nprintf done\n",
};
const job = (text: string) =>
  buildJobRequest({ kind: 5050, inputs: [{ data: text, type: "text" }] });

Deno.test("a requester that paid a job here may hold more unpaid invoices than a stranger, up to its trust's share", async () => {
  await withProvider([], [priced], async ({ provider, alice }) => {
    const invoiced = (id: string) => alice.waitFor(feedbackOf(id, "payment-required"));
    // A stranger: one invoice open, the next request waits.
    const first = await alice.post(job("first"));
    const invoice = await invoiced(first.id);
    const second = await alice.post(job("second"));
    await waitUntil(() => provider.parked === 1, 30_000, "the second request parked");
    // It pays: the first is served, and the second takes the freed slot.
    assertEquals((await alice.payInvoice(invoice)).reply.type, "fulfill");
    await alice.waitFor(resultOf(first.id));
    await invoiced(second.id);
    // With a paid job on record, a second invoice may be open beside it...
    const third = await alice.post(job("third"));
    await invoiced(third.id);
    // ...and a third waits.
    await alice.post(job("fourth"));
    await waitUntil(() => provider.parked === 1, 30_000, "the fourth request parked");
    assertEquals(provider.counters.paid, 1);
  }, { maxUnpaid: 8, maxUnpaidPerRequester: 1, maxUnpaidPerTrustedRequester: 4 });
});
