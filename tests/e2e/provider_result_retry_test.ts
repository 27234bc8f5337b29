/**
 * A paid job's result that cannot go out while its provider's link to the town is down, past
 * the write's retries, is published again while the provider runs, once the link is back: the
 * requester gets its result without waiting for the provider's next start (before: the job
 * stayed `result-computed` until a restart, and its requester, paid up, timed out). On a real
 * town and provider in process, the provider's BTP link through a proxy the test holds down.
 */
import { assertEquals } from "../../harness/assert.ts";
import { buildJobRequest } from "../../protocol/nip90_job.ts";
import { generateSecretKey } from "nostr-tools";
import { startProviderNode } from "../../roles/provider/provider_node.ts";
import {
  connectTestRequester,
  feedbackOf,
  makeSkillsDir,
  PROVIDER_TOKEN,
  resultOf,
  startProviderTestTown,
  waitUntil,
} from "../../harness/provider_test_kit.ts";
import { startTcpProxy } from "../support/tcp_proxy.ts";

Deno.test("provider: a paid result its town could not take is published again once the link is back, once", async () => {
  const root = await Deno.makeTempDir({ prefix: "provider_result_retry_" });
  const town = await startProviderTestTown();
  await using proxy = startTcpProxy(town.btpPort);
  const nap = { name: "nap", kinds: [5010], price: 100, run: "#!/bin/sh\nsleep 1\necho rested\n" };
  const lines: string[] = [];
  const provider = await startProviderNode({
    stateDir: `${root}/state`,
    secretKey: generateSecretKey(),
    btpUrl: `btp+ws://127.0.0.1:${proxy.port}`,
    btpToken: PROVIDER_TOKEN,
    relayUrl: `ws://127.0.0.1:${town.httpPort}`,
    townPubkey: town.pubkey,
    skillsDir: await makeSkillsDir(root, [], [nap]),
    // Its writes give up quickly, so the link is down for longer than they are retried.
    writeRetryMs: 300,
    log: (line) => {
      lines.push(line);
      if (Deno.env.get("PROVIDER_TEST_LOG")) console.error(new Date().toISOString(), line);
    },
  });
  const alice = await connectTestRequester({ town });
  try {
    const job = await alice.post(buildJobRequest({
      kind: 5010,
      inputs: [{ data: "a nap", type: "text" }],
      bid: 1_000_000n,
      providers: [provider.pubkey],
    }));
    const invoice = await alice.waitFor(feedbackOf(job.id, "payment-required"));
    assertEquals((await alice.payInvoice(invoice)).reply.type, "fulfill");
    await waitUntil(() => provider.store.get(job.id)?.status === "running", 30_000, "the run");
    proxy.hold();
    await waitUntil(
      () => lines.some((l) => l.startsWith(`result of ${job.id} not published`)),
      60_000,
      "the result given up while the link is down",
    );
    assertEquals(provider.store.get(job.id)?.status, "result-computed");
    proxy.release();
    const result = await alice.waitFor(resultOf(job.id), 120_000);
    assertEquals(result.content, "rested\n");
    await waitUntil(() => provider.store.get(job.id)?.status === "published", 30_000);
    // Published once: the town holds one result of the job.
    const onTown = await town.store.query([{ kinds: [6010], "#e": [job.id] }]);
    assertEquals(onTown.length, 1, JSON.stringify(onTown.map((e) => e.id)));
  } finally {
    await alice.close();
    await provider.stop();
    await town.stop();
    await Deno.remove(root, { recursive: true }).catch(() => {});
  }
});
