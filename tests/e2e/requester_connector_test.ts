/**
 * The requester behind the Interledger reference connector (`ilp-connector`, run with Node): the
 * town is a BTP child of the connector, the provider a BTP child of the town, the requester a
 * child of the CONNECTOR. The paid write and the provider payment both cross the connector.
 */
import { assertEquals } from "../../harness/assert.ts";
import { startReferenceConnector } from "../../harness/reference_connector.ts";
import { echoSpec, startRequesterNetwork } from "../../harness/requester_network.ts";

Deno.test("requester: a paid job through the reference ILP connector", async () => {
  await using connector = await startReferenceConnector({
    ilpAddress: "test.conn",
    accounts: { town: {}, req: {} },
  });
  const net = await startRequesterNetwork({
    town: { parent: { url: connector.accounts.town.url, token: connector.accounts.town.secret } },
  });
  try {
    assertEquals(net.town.ilpAddress, "test.conn.town");
    const req = await net.startRequester({
      btpUrl: connector.accounts.req.url,
      btpToken: connector.accounts.req.secret,
    });
    try {
      assertEquals(req.town.btp.ilpAddress, "test.conn.req");
      const job = await req.submit(echoSpec("through the connector"));
      const final = await req.waitFor(job.id);
      assertEquals(final.status, "done", final.error);
      assertEquals(final.payments.map((p) => p.status), ["paid"]);
    } finally {
      await req.close();
    }
  } finally {
    await net.stop();
  }
});
