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
 * requester's BTP link is stalled, so that the invoice comes only then. Then the same with the
 * requester closed while the payment is in doubt and started again: its replayed invoice finds
 * the intent alone on the payment log (as after a SIGKILL between the intent and the PREPARE)
 * and asks the town as well. And a job cancelled while in doubt: its cancel cuts the wait short,
 * nothing is paid again.
 */
import { assert, assertEquals, assertStringIncludes } from "../../harness/assert.ts";
import type { JobProgress } from "../../roles/requester/job_follower.ts";
import type { Requester } from "../../roles/requester/requester_node.ts";
import { generateSecretKey, getPublicKey } from "nostr-tools";
import { startProviderNode } from "../../roles/provider/provider_node.ts";
import { echoSpec, startRequesterNetwork } from "../../harness/requester_network.ts";
import { waitUntil } from "../../harness/provider_test_kit.ts";
import { startTcpProxy } from "../support/tcp_proxy.ts";

Deno.test("requester: a payment in doubt the town never forwarded is paid again after its PREPARE expires, once; also after a restart", async (t) => {
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
  const requester = {
    stateDir: `${net.root}/requester`,
    secretKey: generateSecretKey(),
    btpUrl: `btp+ws://requester1:r@127.0.0.1:${townBtp.port}`,
    onProgress: (p: JobProgress) => progress.push(`${p.status}: ${p.detail ?? ""}`),
  };
  let req = await net.startRequester(requester);

  /** A job whose payment's PREPARE is lost with the requester's link: its id once in doubt. */
  const inDoubt = async (text: string): Promise<string> => {
    // The provider does not see the request until the requester's PREPARE is bound to be lost.
    providerRelay.hold();
    const job = await req.submit(echoSpec(text, {
      providers: [getPublicKey(key)],
      timeoutMs: 120_000, // longer than the PREPARE's 30 s, as a job's default
    }));
    townBtp.stall();
    providerRelay.release();
    // The PREPARE is on the socket (what the stall dropped), then the socket goes: in doubt.
    const before = townBtp.dropped();
    await waitUntil(
      async () => (await req.repo.read(job.id))?.status === "paying" && townBtp.dropped() > before,
      60_000,
      "the payment on its way",
    );
    townBtp.hold();
    await waitUntil(
      () => progress.some((l) => l.includes("in doubt: not paid again unless its town")),
      60_000,
      "the doubt",
    ).catch((err) => {
      throw new Error(`${err.message}: ${progress.join("\n")}`);
    });
    return job.id;
  };

  /** The job ended `done`, its first payment refused by the town's word, the second paid. */
  const paidAgain = async (node: Requester, id: string) => {
    const final = await node.waitFor(id);
    assertEquals(final.status, "done", `${final.error}\n${progress.join("\n")}`);
    assert(
      progress.some((l) => l.includes(`never forwarded by town ${net.town.ilpAddress}`)),
      progress.join("\n"),
    );
    const lines = node.payments.entries().filter((e) => e.jobId === id && e.category === "job");
    assertEquals(lines.map((e) => e.event), ["intent", "rejected", "intent", "fulfilled"]);
    assertStringIncludes(lines[1].reason ?? "", "never forwarded");
    assertEquals(final.payments.map((p) => p.status), ["paid"]);
    // The town's books: the provider paid this payment, once.
    assertEquals(net.town.ledger.packetState("provider", final.payments[0].invoiceId), "fulfilled");
    return final.payments[0].amount;
  };

  try {
    let owed = 0n;
    await t.step("the link lost under the PREPARE", async () => {
      const id = await inDoubt("paid after the doubt");
      townBtp.release();
      owed += await paidAgain(req, id);
      assertEquals(net.town.ledger.balance("provider").owed, owed, "the provider paid once");
    });

    await t.step("the requester closed while in doubt, then started again", async () => {
      progress.length = 0;
      const id = await inDoubt("paid after a restart");
      await req.close();
      townBtp.release();
      req = await net.startRequester(requester);
      owed += await paidAgain(req, id);
      assertEquals(net.town.ledger.balance("provider").owed, owed, "each paid once");
    });

    await t.step(
      "a job cancelled while in doubt is not paid again, its cancel not held",
      async () => {
        progress.length = 0;
        const id = await inDoubt("cancelled in doubt");
        townBtp.release();
        const ended = await req.cancel(id);
        // Cancelled, or ended by the provider's answer to the cancel if that came first.
        const said = `${ended.status} ${ended.error}\n${progress.join("\n")}`;
        assert(
          ended.status === "cancelled" || ended.error?.includes("cancelled by the requester"),
          said,
        );
        // The cancel cut the wait short: the town was never asked, nothing sent again.
        assert(!progress.some((l) => l.includes("never forwarded")), said);
        const lines = req.payments.entries().filter((e) => e.jobId === id && e.category === "job");
        assertEquals(lines.map((e) => e.event), ["intent"], "in doubt, never sent again");
        assertEquals(net.town.ledger.packetState("provider", lines[0].invoiceId), undefined);
        assertEquals(net.town.ledger.balance("provider").owed, owed, "nothing more paid");
      },
    );
  } finally {
    await req.close();
    await provider.stop();
    await net.stop();
  }
});
