/**
 * Graceful overload against real processes (docs/PROTOCOL.md "Feedback sequence", `busy`): a town
 * process, a provider in a process of its own with room for one paid job at a time
 * (`maxInFlight` 1, a skill that takes seconds), and a requester here. A second job sent while the
 * first runs is refused at once with `busy` feedback, before any invoice: it ends while the first
 * still runs, nothing paid for it; sent again once the first is done, it is served and paid once.
 */
import { assert, assertEquals } from "../../harness/assert.ts";
import { startProviderHostNetwork } from "../support/provider_host_network.ts";
import { scaleJobSpec } from "../../bench/scale_requester_host.ts";
import { isBusyReason } from "../../protocol/busy_feedback.ts";
import { categoryOf } from "../../state/payments/payment_log.ts";

Deno.test("provider over its bound answers busy before any invoice; the requester pays nothing for it and is served when it sends again", async () => {
  await using net = await startProviderHostNetwork({
    prefix: "provider_busy_",
    skills: [{ name: "slow", kind: 5601, sleep: 4, timeout: 30 }],
    maxInFlight: 1,
  });
  const { requester } = net;
  const spec = scaleJobSpec(net.providerPubkey, 60_000);
  const first = await requester.submit(spec);
  // Paid (its one slot taken) before the second is sent.
  for (;;) {
    const r = await requester.repo.read(first.id);
    if (r!.payments.some((p) => p.status === "paid")) break;
    assert(!["error", "timed-out", "done"].includes(r!.status), `first job: ${r!.status}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  const second = await requester.submit({ ...spec, inputs: [{ data: "pong", type: "text" }] });
  const ends: string[] = [];
  const [firstEnd, secondEnd] = await Promise.all([
    requester.waitFor(first.id).then((r) => (ends.push("first"), r)),
    requester.waitFor(second.id).then((r) => (ends.push("second"), r)),
  ]);
  assertEquals(secondEnd.status, "error");
  assert(isBusyReason(secondEnd.error), `a busy refusal: ${secondEnd.error}`);
  assertEquals(ends, ["second", "first"], "refused while the first still ran, not queued");
  assertEquals(secondEnd.payments, [], "no invoice, nothing paid");
  assertEquals(firstEnd.status, "done", firstEnd.error);
  // Sent again, as a busy refusal says, later (the provider may still be publishing the first
  // job's result when the requester has it): served, paid once.
  let again = secondEnd;
  for (let attempt = 0; attempt < 20 && isBusyReason(again.error); attempt++) {
    await new Promise((resolve) => setTimeout(resolve, 250));
    again = await requester.waitFor(
      (await requester.submit({ ...spec, inputs: [{ data: "pong", type: "text" }] })).id,
    );
  }
  assertEquals(again.status, "done", again.error);
  for (const job of [firstEnd, again]) {
    assertEquals(job.payments.filter((p) => p.status === "paid").length, 1);
  }
  // The payment log: job payments only for the two jobs served, one each (the paid writes to
  // the town are there too, category `write`).
  const jobPayments = requester.payments.entries().filter((e) =>
    e.direction === "out" && e.event === "fulfilled" && categoryOf(e) === "job"
  );
  assertEquals(jobPayments.map((e) => e.jobId).sort(), [firstEnd.id, again.id].sort());
});
