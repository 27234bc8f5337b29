/**
 * A job payment in doubt whose PREPARE never reached the town is paid again once the town says
 * it never forwarded it (docs/PROTOCOL.md "The town's word on a payment in doubt"): the
 * requester's BTP link to the town drops with the PREPARE on it (a proxy the test stalls, then
 * holds), the provider has no receipt to give, and after the PREPARE's expiry the town's books
 * say no money moved. The job ends `done`, the provider paid once. Before, the payment stayed in
 * doubt, never paid again, and the job ended in error when the provider's invoice expired
 * (`payment not received before expiry`) — the failure a requester killed between its payment's
 * intent and its PREPARE met (tests/e2e/profile_node_test.ts). A real town, provider (echo) and
 * requester in process; the provider's relay link also through a proxy, held until the
 * requester's BTP link is stalled, so that the invoice comes only then.
 */
import { assert, assertEquals, assertStringIncludes } from "../../harness/assert.ts";
import { generateSecretKey, getPublicKey } from "nostr-tools";
import { startProviderNode } from "../../roles/provider/provider_node.ts";
import { echoSpec, startRequesterNetwork } from "../../harness/requester_network.ts";
import { waitUntil } from "../../harness/provider_test_kit.ts";
import { startTcpProxy } from "../support/tcp_proxy.ts";

Deno.test("requester: a payment in doubt the town never forwarded is paid again after its PREPARE expires, once", async () => {
  const net = await startRequesterNetwork({ provider: false });
  await using townBtp = startTcpProxy(net.town.btpPort);
  await using providerRelay = startTcpProxy(net.town.httpPort);
  const key = generateSecretKey();
  const provider = await startProviderNode({
    stateDir: `${net.root}/provider`,
    secretKey: key,
    btpUrl: `btp+ws://provider:p@127.0.0.1:${net.town.btpPort}`,
    btpToken: "p",
    relayUrl: `ws://127.0.0.1:${providerRelay.port}`,
    townPubkey: net.town.pubkey,
    townAddress: net.town.ilpAddress,
    skillsDir: new URL("../../skills", import.meta.url).pathname,
    heartbeatMs: 3_600_000,
  });
  const progress: string[] = [];
  const req = await net.startRequester({
    btpUrl: `btp+ws://requester1:r@127.0.0.1:${townBtp.port}`,
    onProgress: (p) => progress.push(`${p.status}: ${p.detail ?? ""}`),
  });
  try {
    // The provider does not see the request until the requester's PREPARE is bound to be lost.
    providerRelay.hold();
    const job = await req.submit(echoSpec("paid after the doubt", {
      providers: [getPublicKey(key)],
      timeoutMs: 120_000, // longer than the PREPARE's 30 s, as a job's default
    }));
    townBtp.stall();
    providerRelay.release();
    await waitUntil(
      async () => (await req.repo.read(job.id))?.status === "paying",
      60_000,
      "the payment on its way",
    );
    townBtp.hold(); // the PREPARE dropped with the connection: in doubt
    await waitUntil(
      () => progress.some((l) => l.includes("in doubt: not paid again unless its town")),
      60_000,
      "the doubt",
    );
    townBtp.release();
    const final = await req.waitFor(job.id);
    assertEquals(final.status, "done", `${final.error}\n${progress.join("\n")}`);
    assert(
      progress.some((l) => l.includes(`never forwarded by town ${net.town.ilpAddress}`)),
      progress.join("\n"),
    );
    const lines = req.payments.entries().filter((e) => e.jobId === job.id && e.category === "job");
    assertEquals(lines.map((e) => e.event), ["intent", "rejected", "intent", "fulfilled"]);
    assertStringIncludes(lines[1].reason ?? "", "never forwarded");
    assertEquals(final.payments.map((p) => p.status), ["paid"]);
    // The town's books: the provider paid this one payment, once.
    const [paid] = final.payments;
    assertEquals(net.town.ledger.packetState("provider", paid.invoiceId), "fulfilled");
    assertEquals(net.town.ledger.balance("provider").owed, paid.amount, "the provider paid once");
  } finally {
    await req.close();
    await provider.stop();
    await net.stop();
  }
});
