/**
 * The provider end to end against a real town and an independent requester: paid echo and
 * ci-run jobs, encrypted jobs, denial of key/state/network access, cancellation mid-run.
 */
import { assert, assertEquals, assertStringIncludes } from "../../harness/assert.ts";
import { buildJobRequest, encryptJobParams, parseJobFeedback } from "../../protocol/nip90_job.ts";
import { nip44 } from "nostr-tools";
import { readProviderStatus } from "../../roles/provider/provider_status.ts";
import { localNodeSigner } from "../../identity/local_node_signer.ts";
import { blobOutputsOf } from "../../protocol/job_blobs.ts";
import { openPaymentLog } from "../../state/payments/payment_log.ts";
import { feedbackOf, resultOf, waitUntil, withProvider } from "../../harness/provider_test_kit.ts";

async function tarBase64(project: string): Promise<string> {
  const { stdout } = await new Deno.Command("sh", {
    args: ["-c", 'tar -czf - -C "$1" . | base64 -w0', "sh", project],
    stdout: "piped",
  }).output();
  return new TextDecoder().decode(stdout);
}

Deno.test("provider e2e: paid echo job, exact invoice, receipt, earnings logged", async () => {
  await withProvider(["echo"], [], async ({ provider, alice, root }) => {
    const job = await alice.post(buildJobRequest({
      kind: 5601,
      inputs: [{ data: "hello turnpike", type: "text" }],
      bid: 1_000_000n,
      providers: [provider.pubkey],
    }));
    const invoiceFb = await alice.waitFor(feedbackOf(job.id, "payment-required"));
    const fb = parseJobFeedback(invoiceFb);
    // The quote: echo's price (100) plus the provider's own writes for the job.
    const quote = BigInt(fb.amount!.amount);
    assert(quote > 100n, `quote ${quote}`);
    assertStringIncludes(fb.amount!.paymentRequest!, `ilp:${provider.ilpAddress}.`);
    // Not the exact invoice: underpaid and overpaid are rejected, nothing recorded.
    assertEquals((await alice.payInvoice(invoiceFb, quote - 1n)).reply.type, "reject");
    assertEquals((await alice.payInvoice(invoiceFb, quote + 1n)).reply.type, "reject");
    const paid = await alice.payInvoice(invoiceFb);
    assertEquals(paid.reply.type, "fulfill");
    assert(paid.receiptOk, "the fulfillment hashes to the invoice's condition");
    // Paying twice is refused: the invoice is closed.
    assertEquals((await alice.payInvoice(invoiceFb)).reply.type, "reject");
    await alice.waitFor(feedbackOf(job.id, "processing"));
    const result = await alice.waitFor(resultOf(job.id));
    assertEquals(result.kind, 6601);
    assertEquals(result.content, "hello turnpike");
    assertEquals(result.tags.find((t) => t[0] === "p")?.[1], alice.pubkey);
    assertEquals(result.tags.find((t) => t[0] === "e")?.[1], job.id);
    // Neither the request nor its input is repeated (the provider would pay for their bytes).
    assert(!result.tags.some((t) => t[0] === "request" || t[0] === "i"), "no quoted request");
    assertEquals(result.tags.find((t) => t[0] === "amount")?.[1], String(quote));
    await waitUntil(() => provider.store.get(job.id)?.status === "published");
    // No success feedback: the result is the success, and each write costs the provider.
    assertEquals(alice.seen().filter(feedbackOf(job.id, "success")).length, 0);
    const log = await openPaymentLog({ stateDir: `${root}/state` });
    const entries = log.entries().filter((e) => e.jobId === job.id);
    const earned = entries.filter((e) => e.category === "job");
    assertEquals(earned.map((e) => [e.direction, e.event, e.amount]), [[
      "in",
      "fulfilled",
      String(quote),
    ]]);
    // Its writes for the job are on record, and cost less than the quote's margin over the price.
    const fees = entries.filter((e) => e.category === "town-write");
    assertEquals(fees.length, 3, "payment-required, processing, result");
    const spent = fees.reduce((s, e) => s + BigInt(e.amount), 0n);
    assert(quote - spent > 100n, `quote ${quote}, writes ${spent}: the provider keeps its price`);
    const status = await readProviderStatus(`${root}/state`);
    assertEquals(status.state, "serving");
    assertEquals(status.ilpAddress, provider.ilpAddress);
  }, { processingFeedbackMs: 0 }); // this test follows every feedback, `processing` included
});

Deno.test("provider e2e: announcements 10032, 31990 and the heartbeat are on the town", async () => {
  await withProvider(["echo"], [], async ({ town, provider }) => {
    await provider.idle();
    const events = await town.store.query([{ authors: [provider.pubkey] }]);
    const kinds = new Set(events.map((e) => e.kind));
    assert(kinds.has(10032) && kinds.has(31990) && kinds.has(30315), [...kinds].join(","));
    const handler = JSON.parse(events.find((e) => e.kind === 31990)!.json);
    assert(handler.tags.some((t: string[]) => t[0] === "k" && t[1] === "5601"));
    const meta = JSON.parse(handler.content);
    assertEquals(meta.paymentMethods, ["ilp"]);
    // Each skill at what a job costs: echo's 100 plus the provider's own writes for the job.
    const [echo] = meta.skills;
    assertEquals([echo.name, echo.kinds], ["echo", [5601]]);
    assert(BigInt(echo.price) > 100n, `quoted ${echo.price}`);
    assertEquals(meta.price.amount, echo.price, "the cheapest skill's");
  });
});

Deno.test("provider e2e: ci-run says which project passes and which fails", async () => {
  await withProvider(["ci-run"], [], async ({ provider, alice }) => {
    const jobs = [];
    for (const project of ["passing", "failing"]) {
      jobs.push(
        await alice.post(buildJobRequest({
          kind: 5600,
          inputs: [{ data: await tarBase64(`fixtures/projects/${project}`), type: "text" }],
          params: [{ name: "cmd", values: ["sh test.sh"] }],
          providers: [provider.pubkey],
        })),
      );
    }
    const statuses = [];
    for (const job of jobs) {
      const paid = await alice.payInvoice(
        await alice.waitFor(feedbackOf(job.id, "payment-required")),
      );
      assertEquals(paid.reply.type, "fulfill");
      const result = await alice.waitFor(resultOf(job.id), 60_000);
      assertEquals(result.kind, 6600);
      // A report over ci-run's result_bytes comes as the `result` blob, the content empty.
      const blob = blobOutputsOf(result.tags).find((b) => b.name === "result");
      const report = result.content !== "" ? result.content : await (await fetch(blob!.url)).text();
      statuses.push(JSON.parse(report).status);
    }
    assertEquals(statuses, ["passed", "failed"]);
  });
});

Deno.test("provider e2e: an encrypted request gets an encrypted result", async () => {
  await withProvider(["echo"], [], async ({ provider, alice }) => {
    const job = await alice.post(buildJobRequest({
      kind: 5601,
      providers: [provider.pubkey],
      encryptedContent: await encryptJobParams(
        { inputs: [{ data: "secret words", type: "text" }] },
        localNodeSigner(alice.secretKey),
        provider.pubkey,
      ),
    }));
    await alice.payInvoice(await alice.waitFor(feedbackOf(job.id, "payment-required")));
    const result = await alice.waitFor(resultOf(job.id));
    assert(result.tags.some((t) => t[0] === "encrypted"));
    assert(!result.content.includes("secret words"));
    const plain = nip44.v2.decrypt(
      result.content,
      nip44.v2.utils.getConversationKey(alice.secretKey, provider.pubkey),
    );
    assertEquals(plain, "secret words");
  });
});

Deno.test("provider e2e: a skill reading the state dir or key, or reaching the network, ends in error", async () => {
  await withProvider([], [
    { name: "snoop", kinds: [5010], run: "#!/bin/sh\nexit 0\n" },
    {
      name: "netcat",
      kinds: [5011],
      run:
        "#!/bin/sh\nexec deno eval --quiet \"await Deno.connect({hostname:'1.1.1.1',port:80})\"\n",
    },
  ], async ({ provider, alice, root }) => {
    // The skill knows where the state dir is and tries to read it (and the wallet key in it).
    await Deno.writeTextFile(
      `${root}/skills/snoop/run`,
      `#!/bin/sh\ncat ${root}/state/provider-status.json\n`,
    );
    const snoop = await alice.post(buildJobRequest({ kind: 5010, providers: [provider.pubkey] }));
    const denied = parseJobFeedback(await alice.waitFor(feedbackOf(snoop.id, "error")));
    assertStringIncludes(denied.extraInfo ?? "", "denied");
    assertStringIncludes(denied.extraInfo ?? "", "read denied");
    const net = await alice.post(buildJobRequest({ kind: 5011, providers: [provider.pubkey] }));
    const netDenied = parseJobFeedback(await alice.waitFor(feedbackOf(net.id, "error"), 60_000));
    assertStringIncludes(netDenied.extraInfo ?? "", "network denied");
    await waitUntil(() => provider.store.get(snoop.id)?.status === "error");
    assertEquals(alice.seen().filter(resultOf(snoop.id)).length, 0);
  });
});

Deno.test("provider e2e: kind 5 cancellation mid-run kills the skill", async () => {
  await withProvider([], [{
    name: "ticker",
    kinds: [5012],
    meta: "  timeout: 60\n",
    run: "#!/bin/sh\n(while :; do date +%s%N >> /tmp/job/tick; sleep 0.05; done) &\nsleep 1000\n",
  }], async ({ provider, alice, root }) => {
    const job = await alice.post(buildJobRequest({ kind: 5012, providers: [provider.pubkey] }));
    await alice.waitFor(feedbackOf(job.id, "processing"));
    const tick = `${root}/state/work/${job.id}/tick`;
    for (let i = 0; i < 200 && (await Deno.stat(tick).catch(() => null)) === null; i++) {
      await new Promise((r) => setTimeout(r, 25));
    }
    await alice.post({
      kind: 5,
      created_at: Math.floor(Date.now() / 1000),
      tags: [["e", job.id]],
      content: "",
    });
    const fb = parseJobFeedback(await alice.waitFor(feedbackOf(job.id, "error")));
    assertStringIncludes(fb.extraInfo ?? "", "cancelled");
    await waitUntil(() => provider.store.get(job.id)?.status === "cancelled");
    await provider.idle();
    // The process tree is gone: no sandboxed process of this job is left (the sandbox prepared
    // ahead for the skill's next job names the skill's run too, and its own work dir).
    const ps = await new Deno.Command("ps", { args: ["-eo", "args"], stdout: "piped" }).output();
    const waiting = provider.sandbox.preparedNow?.().map((p) => p.workDir) ?? [];
    const left = new TextDecoder().decode(ps.stdout).split("\n").filter((line) =>
      line.includes("/skills/ticker/run") && !waiting.some((dir) => line.includes(dir))
    );
    assertEquals(left, []);
  });
});

Deno.test("provider e2e: no `processing` feedback for a run shorter than processingFeedbackMs", async () => {
  await withProvider(["echo"], [], async ({ provider, alice }) => {
    const job = await alice.post(buildJobRequest({
      kind: 5601,
      inputs: [{ data: "quick", type: "text" }],
      providers: [provider.pubkey],
    }));
    await alice.payInvoice(await alice.waitFor(feedbackOf(job.id, "payment-required")));
    assertEquals((await alice.waitFor(resultOf(job.id))).content, "quick");
    await waitUntil(() => provider.store.get(job.id)?.status === "published");
    // Had `processing` been sent, it would have come before the result.
    assertEquals(alice.seen().filter(feedbackOf(job.id, "processing")).length, 0);
  }, { processingFeedbackMs: 60_000 });
});
