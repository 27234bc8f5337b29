/**
 * A provider's per-town uplinks (docs/OPERATIONS.md, "Several towns"): two towns, each its own
 * process, children of the Interledger reference connector; a provider whose home town is B and
 * that also has its own BTP uplink to A (`btp_url` in its `[towns.a]`), and a requester whose
 * one town is A. Once the requester has paid the provider (A -> connector -> B), B is SIGKILLed
 * while the skill runs: the provider's result for the job, due on A (the request named A), is
 * still paid and stored, through the provider's uplink to A (roles/town_client/town_client.ts).
 * With one uplink (the home town's) that write had no way out.
 */
import { assert, assertEquals } from "../../harness/assert.ts";
import { startReferenceConnector } from "../../harness/reference_connector.ts";
import {
  btpOf,
  paymentLog,
  type PaymentLogEntry,
  relayOf,
  requesterOnTown,
  townPubkeyOf,
  within,
} from "../support/town_network_kit.ts";
import {
  type SharedTownProcess,
  startSharedTownProcess,
} from "../../harness/shared_town_process.ts";
import { echoSpec } from "../../harness/requester_network.ts";
import { makeSkillsDir } from "../../harness/provider_test_kit.ts";
import { generateSecretKey, getPublicKey } from "nostr-tools";
import { startProviderNode } from "../../roles/provider/provider_node.ts";
import { sleep } from "../../protocol/backoff.ts";

Deno.test("provider town uplinks: its home town SIGKILLed mid-job, the result is paid through another town's uplink", async () => {
  await using connector = await startReferenceConnector({
    ilpAddress: "test.conn",
    accounts: { a: {}, b: {} },
  });
  const root = await Deno.makeTempDir({ prefix: "turnpike-uplinks-" });
  const stops: (() => Promise<unknown>)[] = [];
  try {
    const towns: Record<string, SharedTownProcess> = {};
    for (const name of ["a", "b"]) {
      towns[name] = await startSharedTownProcess({
        secretKey: generateSecretKey(),
        databasePath: `${root}/town-${name}.sqlite`,
        parent: { url: connector.accounts[name].url, token: connector.accounts[name].secret },
      });
      const town = towns[name];
      stops.push(() => town.stop());
    }
    // The skill naps long enough for the test to kill B once the job is paid.
    const skillsDir = await makeSkillsDir(root, [], [{
      name: "nap-echo",
      kinds: [5601],
      price: 100,
      run: "#!/bin/sh\nsleep 4\nprintf napped\n",
    }]);
    const providerKey = generateSecretKey();
    const providerDir = `${root}/provider`;
    const provider = await startProviderNode({
      stateDir: providerDir,
      secretKey: providerKey,
      btpUrl: btpOf(towns.b, "provider"),
      btpToken: "t",
      relayUrl: relayOf(towns.b),
      townPubkey: await townPubkeyOf(towns.b),
      moreTowns: [{
        relayUrl: relayOf(towns.a),
        btpUrl: btpOf(towns.a, "provider"),
        btpToken: "t",
      }],
      skillsDir,
      heartbeatMs: 3_600_000,
    });
    stops.unshift(() => provider.stop());
    assertEquals(provider.ilpAddress, "test.conn.b.provider");
    const reqDir = `${root}/requester`;
    const requester = await requesterOnTown(root, "requester", towns.a);
    stops.unshift(() => requester.close());
    const job = await requester.submit(echoSpec("nap", { timeoutMs: 30_000 }));
    // Paid (the requester has the provider's fulfillment; the provider has it on its books): B
    // dies while the skill naps. Polled with a hang guard (not a timing assertion).
    const paid = async () => {
      for (const until = Date.now() + 90_000; Date.now() < until;) {
        const log = await paymentLog(providerDir);
        const fulfilled = (e: PaymentLogEntry) => e.jobId === job.id && e.event === "fulfilled";
        if (
          log.some((e) => fulfilled(e) && e.direction === "in") &&
          (await paymentLog(reqDir)).some((e) => fulfilled(e) && e.category === "job")
        ) return log;
        await sleep(50);
      }
      throw new Error(`the provider did not record the payment for ${job.id} in 90 s`);
    };
    const logAtKill = await paid();
    await towns.b.kill();
    const writesBefore = logAtKill.filter((e) =>
      e.jobId === job.id && e.category === "town-write" && e.event === "fulfilled"
    ).length;

    const done = await within(
      "the job after the provider's home town died",
      requester.waitFor(job.id),
    );
    assertEquals(done.status, "done", done.error);
    assertEquals(done.provider, getPublicKey(providerKey));
    const statuses = done.payments.map((p) =>
      p.status
    );
    assertEquals(statuses, ["paid"]);
    // The result was written after B died (the skill was still napping), paid to A.
    const writes = (await paymentLog(providerDir)).filter((e) =>
      e.jobId === job.id && e.category === "town-write" && e.event === "fulfilled"
    );
    assert(writes.length > writesBefore, `no write after the kill: ${JSON.stringify(writes)}`);
    assert(writes.every((e) => e.peer === "test.conn.a"), JSON.stringify(writes));
  } finally {
    for (const stop of stops) await stop().catch(() => {});
    await Deno.remove(root, { recursive: true }).catch(() => {});
  }
});
