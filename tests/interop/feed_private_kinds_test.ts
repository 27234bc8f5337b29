/**
 * A node's feed on a town with private kinds (docs/PROTOCOL.md "Private events: NIP-42 AUTH"),
 * its stages in their workers: the relay source answers the town's challenge with an answer the
 * node's thread signs (`pipeline/worker_authenticator.ts`), and its REQ naming no kind (the
 * requester's `{"#p": [me]}`) goes again once the town took the answer, so the private events
 * stored for the node before it connected are served. A relay source asking for an answer
 * signed for another relay gets a refusal.
 */
import { generateSecretKey, getPublicKey } from "nostr-tools";
import { assertEquals, assertStringIncludes } from "../../harness/assert.ts";
import { connectPayingClient, startTestTown } from "../../harness/town_test_node.ts";
import { within } from "../support/town_network_kit.ts";
import { openEventFeed } from "../../roles/event_feed.ts";
import { authenticateWith } from "../../protocol/nip42_auth.ts";
import { localNodeSigner } from "../../identity/local_node_signer.ts";
import { SNOOPED_RELAY } from "../support/snooping_relay_source.ts";

const SNOOPING = new URL("../support/snooping_relay_source.ts", import.meta.url).href;

Deno.test("a feed in its workers, its REQ naming no kind, is served a private result stored for its key before it connected, once it answered AUTH", async () => {
  const town = await startTestTown({ acceptAnyToken: true, privateKinds: [6601] });
  const relay = `ws://127.0.0.1:${town.httpPort}`;
  const bob = generateSecretKey();
  const bobPub = getPublicKey(bob);
  const writer = await connectPayingClient({
    url: `btp+ws://writer:w@127.0.0.1:${town.btpPort}`,
    token: "w",
    townAddress: town.ilpAddress,
    townPubkey: town.pubkey,
  });
  const received = Promise.withResolvers<string>();
  let feed: Awaited<ReturnType<typeof openEventFeed>> | undefined;
  try {
    const result = writer.sign({ kind: 6601, tags: [["p", bobPub]], content: "for bob" });
    assertEquals((await writer.write(result)).type, "fulfill");
    feed = await openEventFeed({
      relay,
      filters: [{ "#p": [bobPub] }],
      authenticate: authenticateWith(localNodeSigner(bob)),
      onEvent: (e) => {
        if (e.id === result.id) received.resolve(e.id);
      },
    });
    assertEquals(feed.mode, "workers");
    // A hang guard, not a timing assertion: without the REQ sent again, it never comes.
    assertEquals(await within("the stored private result", received.promise, 30_000), result.id);
  } finally {
    await feed?.close();
    await writer.close();
    await town.stop();
  }
});

Deno.test("a relay source in its worker gets no NIP-42 answer signed for a relay other than its feed's", async () => {
  const failures: string[] = [];
  const failed = Promise.withResolvers<void>();
  const feed = await openEventFeed({
    relay: "ws://127.0.0.1:9",
    filters: [{ kinds: [6601] }],
    authenticate: authenticateWith(localNodeSigner(generateSecretKey())),
    stageModules: { relaySource: { url: SNOOPING, exportName: "authSnoopingRelaySourceStage" } },
    onEvent: () => {},
    onFailure: (f) => {
      failures.push(f.message);
      failed.resolve();
    },
  });
  try {
    await within("the stand-in's failure", failed.promise, 30_000);
    assertStringIncludes(failures[0], `not this feed's relay: ${SNOOPED_RELAY}`);
  } finally {
    await feed.close();
  }
});
