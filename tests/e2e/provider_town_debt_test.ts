/**
 * A provider's own limit on what the town owes it (`maxTownDebt`, roles/provider/payments/town_debt.ts):
 * a real town that pays its providers nothing on chain and a real provider that tolerates no
 * unclaimed debt (limit 0): the first job is served and paid through the town; the second
 * request is refused `town-debt` (an error feedback naming it, a `town-debt` alert with the
 * debt), and nothing is invoiced for it.
 */
import { assert, assertEquals, assertStringIncludes } from "../../harness/assert.ts";
import { buildJobRequest, parseJobFeedback } from "../../protocol/nip90_job.ts";
import { feedbackOf, resultOf, waitUntil, withProvider } from "../../harness/provider_test_kit.ts";
import { townDebtOf, townDebtRefusal } from "../../roles/provider/payments/town_debt.ts";
import { PAYOUT_CHANNEL_LABEL } from "../../roles/channels/payout_receiver.ts";

Deno.test("a provider refuses jobs paid through a town that owes it more than its limit", async () => {
  const alerts: string[] = [];
  await withProvider(["echo"], [], async ({ provider, alice }) => {
    const request = (text: string) =>
      alice.post(buildJobRequest({
        kind: 5601,
        inputs: [{ data: text, type: "text" }],
        bid: 1_000_000n,
        providers: [provider.pubkey],
      }));
    const first = await request("first");
    const invoice = await alice.waitFor(feedbackOf(first.id, "payment-required"));
    const price = BigInt(parseJobFeedback(invoice).amount!.amount);
    assertEquals((await alice.payInvoice(invoice)).reply.type, "fulfill");
    await alice.waitFor(resultOf(first.id));
    // The town now owes the provider `price` unclaimed, more than its limit (0): refused.
    const second = await request("second");
    const refused = await alice.waitFor(feedbackOf(second.id, "error"));
    assertStringIncludes(
      refused.tags.find((t) => t[0] === "status")?.[2] ?? refused.content,
      "town-debt",
    );
    await waitUntil(() => (provider.counters.dropped["town-debt"] ?? 0) === 1);
    assert(!alice.seen().some((e) => feedbackOf(second.id, "payment-required")(e)), "no invoice");
    assert(alerts.some((a) => a.includes("town-debt")), alerts.join("\n"));
    assertStringIncludes(alerts.join("\n"), `owes this provider ${price} unclaimed`);
  }, {
    maxTownDebt: 0n,
    log: (line) => alerts.push(line),
  });
});

Deno.test("the town's debt: earned through the town less its payout claims", () => {
  const debt = townDebtOf(
    500n,
    [{ peerLabel: PAYOUT_CHANNEL_LABEL, received: 120n }, { peerLabel: undefined, received: 5n }],
  );
  assertEquals(debt, { earned: 500n, claimed: 120n, debt: 380n });
  assertEquals(townDebtRefusal(debt, 380n), undefined);
  assertStringIncludes(townDebtRefusal(debt, 379n)!, "owes this provider 380 unclaimed");
  assertEquals(townDebtRefusal(debt, undefined), undefined);
  assertEquals(townDebtOf(100n, [{ peerLabel: PAYOUT_CHANNEL_LABEL, received: 150n }]).debt, 0n);
});
