import { assert, assertEquals, assertMatch } from "../../harness/assert.ts";
import { decodeEventToon } from "../../protocol/toon_codec.ts";
import {
  callbackLogPath,
  echoSpec,
  startRequesterNetwork,
} from "../../harness/requester_network.ts";

Deno.test("requester: a paid echo job end to end (town + real provider)", async (t) => {
  const net = await startRequesterNetwork();
  const req = await net.startRequester();
  try {
    await t.step(
      "submit -> stored -> provider runs -> payment -> result -> callback once",
      async () => {
        const progress: string[] = [];
        const submitted = await req.submit(echoSpec("hello turnpike"));
        // Posted; how far it got by the time submit returns depends on the provider's speed.
        assert(!["pending-send", "error"].includes(submitted.status), submitted.status);
        const final = await req.waitFor(submitted.id);
        assertEquals(final.status, "done", final.error);
        assertEquals(final.provider, net.providerPubkey);
        assertEquals(final.payments.length, 1);
        assertEquals(final.payments[0].status, "paid");
        assertMatch(final.payments[0].fulfillment ?? "", /^[0-9a-f]{64}$/);
        const log = (await Deno.readTextFile(callbackLogPath(req.stateDir))).trim().split("\n");
        assertEquals(log.length, 1);
        assert(log[0].startsWith(`${submitted.id} done `));
        const toon = await Deno.readTextFile(`${req.stateDir}/cb-${submitted.id}.toon`);
        const result = decodeEventToon(toon);
        assertEquals(result.kind, 6601);
        assertEquals(result.content.trim(), "hello turnpike");
        // The write of the request to the town, then the provider's invoice (intent, outcome).
        const paid = req.payments.entries().filter((e) => e.jobId === submitted.id);
        assertEquals(paid.map((e) => `${e.category} ${e.event}`), [
          "town-write fulfilled",
          "job intent",
          "job fulfilled",
        ]);
        void progress;
      },
    );
  } finally {
    await req.close();
    await net.stop();
  }
});
