/**
 * A provider says why it will not run a job, before anyone pays, and why a job it ran failed:
 * a missing required param, a bid below its price (for a request addressed to it), and a
 * failing skill's stderr tail in the error feedback.
 */
import { buildJobRequest, parseJobFeedback } from "../../protocol/nip90_job.ts";
import { assert, assertEquals, assertMatch, assertStringIncludes } from "../../harness/assert.ts";
import { feedbackOf, withProvider } from "../../harness/provider_test_kit.ts";

Deno.test("provider fail fast: ci-run without cmd is refused before an invoice", async () => {
  await withProvider(["ci-run"], [], async ({ provider, alice }) => {
    const job = await alice.post(buildJobRequest({
      kind: 5600,
      inputs: [{ data: "x", type: "text" }],
      providers: [provider.pubkey],
      bid: 100_000n,
    }));
    const err = parseJobFeedback(await alice.waitFor(feedbackOf(job.id, "error")));
    assertEquals(err.extraInfo, "refused: missing param cmd (the ci-run skill needs it)");
    assert(!alice.seen().some(feedbackOf(job.id, "payment-required")), "no invoice was sent");
  });
});

Deno.test("provider fail fast: a bid below the price gets an error feedback when addressed to it", async () => {
  await withProvider(["echo"], [], async ({ provider, alice }) => {
    const job = await alice.post(buildJobRequest({
      kind: 5601,
      inputs: [{ data: "cheap", type: "text" }],
      providers: [provider.pubkey],
      bid: 1n,
    }));
    const err = parseJobFeedback(await alice.waitFor(feedbackOf(job.id, "error")));
    assertMatch(
      err.extraInfo ?? "",
      /^refused: bid-below-price: bid 1 < price \d+ \(raise the bid\)$/,
    );
    // A broadcast request with a low bid is left to other providers: no answer from this one
    // (checked once a later, addressed one was answered: events are handled in order).
    const broadcast = await alice.post(buildJobRequest({
      kind: 5601,
      inputs: [{ data: "to anyone", type: "text" }],
      bid: 1n,
    }));
    const later = await alice.post(buildJobRequest({
      kind: 5601,
      inputs: [{ data: "marker", type: "text" }],
      providers: [provider.pubkey],
      bid: 1n,
    }));
    await alice.waitFor(feedbackOf(later.id, "error"));
    assertEquals(alice.seen().filter(feedbackOf(broadcast.id, "error")).length, 0);
  });
});

Deno.test("provider fail fast: a failing skill's stderr tail reaches the requester", async () => {
  const run =
    "#!/bin/sh\necho 'step 1 ok' >&2\nprintf '\\033[31mfatal: no Makefile\\033[0m\\n' >&2\nexit 3\n";
  await withProvider([], [{ name: "breaks", kinds: [5090], run }], async ({ provider, alice }) => {
    const job = await alice.post(buildJobRequest({
      kind: 5090,
      inputs: [{ data: "x", type: "text" }],
      providers: [provider.pubkey],
      bid: 100_000n,
    }));
    // A free skill (no price, a town that charges nothing here): it runs without an invoice.
    const err = parseJobFeedback(await alice.waitFor(feedbackOf(job.id, "error")));
    assertStringIncludes(err.extraInfo ?? "", "; stderr: step 1 ok | fatal: no Makefile");
    assert(!(err.extraInfo ?? "").includes("\u001b"), "escapes stripped");
  });
});
