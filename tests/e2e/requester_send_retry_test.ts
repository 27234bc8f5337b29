/**
 * A request whose paid write gets no answer is sent again, not failed (docs/ARCHITECTURE.md,
 * "The roles"): the town process is SIGSTOPped (overloaded past answering) for longer than
 * a BTP request waits (the PREPARE's 30 s expiry and 1 s), then SIGCONTed. The requester sends
 * the same signed event again with the shared backoff; the job is done once, paid once, and the
 * town holds the request once (a second copy of the same id is a duplicate to it).
 */
import { assert, assertEquals } from "../../harness/assert.ts";
import {
  btpOf,
  paymentLog,
  relayOf,
  requesterOnTown,
  townPubkeyOf,
  within,
} from "../support/town_network_kit.ts";
import { startSharedTownProcess } from "../../harness/shared_town_process.ts";
import { echoSpec } from "../../harness/requester_network.ts";
import { generateSecretKey, getPublicKey } from "nostr-tools";
import { startProviderNode } from "../../roles/provider/provider_node.ts";
import { queryRelay } from "../../transport/relay_query.ts";

Deno.test("requester: a request unanswered by a stopped town is sent again and the job is done once", async () => {
  const root = await Deno.makeTempDir({ prefix: "turnpike-send-retry-" });
  await using town = await startSharedTownProcess({ secretKey: generateSecretKey() });
  const providerKey = generateSecretKey();
  await using _provider = {
    node: await startProviderNode({
      stateDir: `${root}/provider`,
      secretKey: providerKey,
      btpUrl: btpOf(town, "provider"),
      btpToken: "t",
      relayUrl: relayOf(town),
      townPubkey: await townPubkeyOf(town),
      skillsDir: new URL("../../skills", import.meta.url).pathname,
      heartbeatMs: 3_600_000,
    }),
    [Symbol.asyncDispose]() {
      return this.node.stop();
    },
  };
  await using requester = {
    node: await requesterOnTown(root, "requester", town),
    [Symbol.asyncDispose]() {
      return this.node.close();
    },
  };
  const req = requester.node;
  const spec = echoSpec("through a stopped town", {
    providers: [getPublicKey(providerKey)],
    timeoutMs: 150_000,
  });
  // A first job: the SPSP grant is cached and every connection up before the town stops.
  const first = await req.submit(spec);
  assertEquals((await within("first job", req.waitFor(first.id))).status, "done");

  Deno.kill(town.pid, "SIGSTOP");
  let continued = false;
  const resume = () => {
    if (continued) return;
    continued = true;
    Deno.kill(town.pid, "SIGCONT");
  };
  try {
    const submitted = req.submit(spec);
    submitted.catch(() => {});
    // The write goes unanswered; once the requester has sent it again, the town comes back.
    // Raced against the submit: without the retry it fails the job and rejects here.
    await within(
      "a retry of the request",
      Promise.race([
        submitted.then((r) => {
          throw new Error(`submit ended while the town was stopped: ${r.status}`);
        }),
        (async () => {
          while (req.sendRetries === 0) await new Promise((r) => setTimeout(r, 200));
        })(),
      ]),
      120_000,
    );
    resume();
    const record = await within("the submit after SIGCONT", submitted, 120_000);
    const done = await within("the job after SIGCONT", req.waitFor(record.id), 150_000);
    assertEquals(done.status, "done", done.error);
    assertEquals(done.payments.map((p) => p.status), ["paid"]);
    // The town holds the request once; the provider was paid for it once.
    const { events } = await within(
      "the town's copy",
      queryRelay(relayOf(town), [{ ids: [record.id] }]),
    );
    assertEquals(events.map((e) => e.id), [record.id]);
    const paid = (await paymentLog(`${root}/requester`)).filter((e) =>
      e.jobId === record.id && e.category === "job" && e.event === "fulfilled"
    );
    assertEquals(paid.length, 1);
    assert(req.sendRetries >= 1);
  } finally {
    resume();
  }
});
