/**
 * Admission against a real town: each drop reason is logged with its code and nothing is
 * published for a dropped job; the unpaid pool's limits hold under a burst of 200 jobs from 2
 * requesters.
 */
import { assert, assertEquals } from "../../harness/assert.ts";
import { buildJobRequest } from "../../protocol/nip90_job.ts";
import {
  connectTestRequester,
  feedbackOf,
  waitUntil,
  withProvider,
} from "../../harness/provider_test_kit.ts";

const nowSec = () => Math.floor(Date.now() / 1000);

Deno.test("provider admission e2e: expired, duplicate, other provider, low bid are dropped and counted; cancel withdraws the invoice", async () => {
  const lines: string[] = [];
  await withProvider(["echo"], [], async ({ provider, alice, root }) => {
    const dropped = (reason: string) => provider.counters.dropped[reason as "expired"] ?? 0;
    const base = { kind: 5601, inputs: [{ data: "x", type: "text" as const }] };
    // May reach the town before or after its expiration (then the town refuses it: F06, NIP-40);
    // the aged one below is certain.
    await alice.post(buildJobRequest({
      ...base,
      extraTags: [["expiration", String(nowSec() + 1)]],
    })).catch((err) => {
      if (!/expired \(NIP-40\)/.test(String(err))) throw err;
    });
    const aged = await alice.post(buildJobRequest({ ...base, createdAt: nowSec() - 45 }));
    const other = await alice.post(buildJobRequest({ ...base, providers: ["ab".repeat(32)] }));
    const lowBid = await alice.post(buildJobRequest({ ...base, bid: 99n }));
    // The cancellation reaches the provider before the request (published first).
    const good = await alice.post(buildJobRequest(base));
    await alice.waitFor(feedbackOf(good.id, "payment-required"));
    await waitUntil(
      () =>
        dropped("expired") >= 1 && dropped("other-provider") === 1 &&
        dropped("bid-below-price") === 1,
      10_000,
      "drops",
    );
    for (const id of [aged.id, other.id, lowBid.id]) {
      assertEquals(provider.store.has(id), false);
      assertEquals(alice.seen().filter((e) => e.tags.some((t) => t[1] === id)).length, 0);
    }
    for (const id of [aged.id, lowBid.id]) {
      assert(lines.some((l) => l.startsWith(`drop ${id}`)), `drop of ${id} logged`);
    }
    // A request for another provider is every other job on a busy town: counted, not logged
    // (dropped before its full decode, so its cost does not grow with the providers there).
    assert(!lines.some((l) => l.includes(other.id)), lines.join("\n"));
    assert(lines.some((l) => l.includes(`drop ${aged.id}`) && l.includes("expired")));
    // The price a bid is held against is the quote: echo's 100 plus the provider's writes.
    assert(lines.some((l) => l.includes(`drop ${lowBid.id}`) && /bid 99 < price \d{4,}/.test(l)));
    // Duplicate: a skill folder dropped in makes the provider re-subscribe (new kinds), the
    // town replays the stored requests, and the admitted one is dropped as a duplicate: counted,
    // not logged (a replay after every re-subscription would log one line per past job).
    const duplicatesBefore = dropped("duplicate");
    await Deno.mkdir(`${root}/skills/late`, { mode: 0o755 });
    await Deno.writeTextFile(
      `${root}/skills/late/SKILL.md`,
      "---\nname: late\ndescription: t\nmetadata:\n  kinds: [5020]\n---\n",
    );
    await Deno.writeTextFile(`${root}/skills/late/run`, "#!/bin/sh\necho late\n", { mode: 0o755 });
    await waitUntil(
      () => dropped("duplicate") > duplicatesBefore,
      15_000,
      "duplicate drop after re-subscription",
    );
    assert(!lines.some((l) => l.includes("duplicate")), lines.join("\n"));
    assertEquals(provider.store.get(good.id)?.status, "invoiced");
    // Cancelled while awaiting payment: the invoice is withdrawn, paying it is refused.
    // (A cancellation that arrives before its request is dropped as `cancelled`: unit-tested;
    // this town honours NIP-09 and refuses to store a request deleted beforehand.)
    const invoiceFb = await alice.waitFor(feedbackOf(good.id, "payment-required"));
    await alice.post({ kind: 5, created_at: nowSec(), tags: [["e", good.id]], content: "" });
    await alice.waitFor(feedbackOf(good.id, "error"));
    assertEquals(provider.store.get(good.id)?.status, "cancelled");
    const late = await alice.payInvoice(invoiceFb);
    assertEquals(late.reply.type === "reject" && late.reply.code, "F02");
  }, { maxAgeSec: 30, log: (line) => lines.push(line) });
});

Deno.test("provider admission e2e: addressedOnly: the town sends only requests naming this provider", async () => {
  await withProvider(["echo"], [], async ({ provider, alice }) => {
    const base = { kind: 5601, inputs: [{ data: "x", type: "text" as const }] };
    const open = await alice.post(buildJobRequest(base));
    const other = await alice.post(buildJobRequest({ ...base, providers: ["ab".repeat(32)] }));
    const mine = await alice.post(buildJobRequest({ ...base, providers: [provider.pubkey] }));
    // The town pushes in order on one subscription: once the third is invoiced, the first two
    // would have reached the provider (and been admitted, or counted as dropped) if sent.
    await alice.waitFor(feedbackOf(mine.id, "payment-required"));
    assertEquals(provider.store.has(open.id), false);
    assertEquals(provider.store.has(other.id), false);
    assertEquals(provider.counters.dropped["other-provider"] ?? 0, 0);
    assertEquals(alice.seen().filter((e) => e.tags.some((t) => t[1] === open.id)).length, 0);
  }, { addressedOnly: true });
});

Deno.test("provider admission e2e: capacity holds under a burst of 200 jobs", async () => {
  await withProvider(["echo"], [], async ({ town, provider, alice }) => {
    const bob = await connectTestRequester({ town, token: "bob-token" });
    try {
      const posted = [];
      for (let i = 0; i < 100; i++) {
        for (const who of [alice, bob]) {
          posted.push(who.post(buildJobRequest({
            kind: 5601,
            inputs: [{ data: `job ${i}`, type: "text" }],
          })));
        }
      }
      const jobs = await Promise.all(posted);
      assertEquals(jobs.length, 200);
      const c = provider.counters;
      const drops = () => c.dropped["over-requester-unpaid"] ?? 0;
      // Each requester's requests beyond its unpaid share are parked (64 each) until it pays,
      // the rest dropped; these requesters never pay, so the parked ones stay parked.
      await waitUntil(
        () => c.admitted + drops() + provider.parked === 200,
        60_000,
        "all 200 decided",
      );
      assert(provider.parked <= 128, `parked ${provider.parked}`);
      // Unpaid jobs live in their own pool: each requester holds at most its share, and the
      // pool's size holds by withdrawing the oldest invoices (a withdrawn job's requester may
      // ask again, so how many were admitted depends on the arrival order).
      const displaced = () => c.dropped["unpaid-displaced"] ?? 0;
      await waitUntil(() => displaced() === c.admitted - 10, 30_000, "oldest withdrawn");
      await waitUntil(() => provider.inFlight() === 10, 30_000, "withdrawn jobs ended");
      const open = provider.store.all().filter((r) => r.status === "invoiced");
      assertEquals(open.length, 10);
      assert(open.filter((r) => r.customer === alice.pubkey).length <= 6);
      assert(open.filter((r) => r.customer === bob.pubkey).length <= 6);
    } finally {
      await bob.close();
    }
  }, { maxUnpaid: 10, maxUnpaidPerRequester: 6 });
});
