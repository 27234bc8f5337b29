/**
 * A town process refuses a kind 10032 whose ILP address is under its prefix but not the
 * writer's own (roles/town/write/peer_info_address.ts): a provider cannot announce another
 * peer's address (payers would pay that peer, protocol/invoice_destination.ts) nor the town's;
 * its own address, and an address at another town, are stored.
 */
import { generateSecretKey } from "nostr-tools";
import { assertEquals, assertStringIncludes } from "../../harness/assert.ts";
import { startSharedTownProcess } from "../../harness/shared_town_process.ts";
import { btpOf, townPubkeyOf } from "../support/town_network_kit.ts";
import { connectPayingClient, type PayingClient } from "../../harness/town_test_node.ts";
import { buildPeerInfo } from "../../protocol/peer_info.ts";

function peerInfo(client: PayingClient, ilpAddress: string, createdAt: number) {
  return client.sign(buildPeerInfo({
    ilpAddress,
    btpEndpoint: "btp+ws://127.0.0.1:1",
    assetCode: "USD",
    assetScale: 6,
    supportedChains: [],
    settlementAddresses: {},
    tokenNetworks: {},
    preferredTokens: {},
  }, { createdAt }));
}

Deno.test("town: a peer's kind 10032 naming another peer's or the town's ILP address is refused blocked, its own and a foreign town's are stored", async () => {
  await using town = await startSharedTownProcess({ secretKey: generateSecretKey() });
  const townPubkey = await townPubkeyOf(town);
  const connect = (account: string) =>
    connectPayingClient({
      url: btpOf(town, account),
      token: "t",
      townAddress: town.ilpAddress,
      townPubkey,
    });
  const bob = await connect("bob");
  const mallory = await connect("mallory");
  try {
    const now = Math.floor(Date.now() / 1000);
    const bobOwn = await bob.write(peerInfo(bob, `${town.ilpAddress}.bob`, now));
    assertEquals(bobOwn.type, "fulfill", JSON.stringify(bobOwn));

    const outcome = async (address: string, at: number) => {
      const reply = await mallory.write(peerInfo(mallory, address, at));
      return reply.type === "reject" ? `${reply.code} ${reply.message}` : reply.type;
    };
    const stolen = await outcome(`${town.ilpAddress}.bob`, now);
    assertStringIncludes(
      stolen,
      `F06 blocked: kind 10032 announces ILP address ${town.ilpAddress}.bob`,
    );
    assertStringIncludes(stolen, `the writer's own is ${town.ilpAddress}.mallory`);
    // Under another peer's address, and the town's own (it routes back into the town).
    assertStringIncludes(await outcome(`${town.ilpAddress}.bob.0a1b`, now + 1), "F06 blocked:");
    assertStringIncludes(await outcome(town.ilpAddress, now + 2), "F06 blocked:");
    // An account whose name starts with the writer's is another account.
    assertStringIncludes(await outcome(`${town.ilpAddress}.malloryx`, now + 3), "F06 blocked:");
    assertEquals(await outcome(`${town.ilpAddress}.mallory`, now + 4), "fulfill");
    assertEquals(await outcome(`${town.ilpAddress}.mallory.sub`, now + 5), "fulfill");
    assertEquals(await outcome("g.another-town.mallory", now + 6), "fulfill");
  } finally {
    await bob.close();
    await mallory.close();
  }
});
