import { assertEquals, assertRejects } from "../../../harness/assert.ts";
import { startTestTown } from "../../../harness/town_test_node.ts";
import {
  fetchRelayInfo,
  fetchTownPubkey,
  relayHttpUrl,
  RelayInfoError,
} from "../../../transport/relay_info.ts";

Deno.test("a town publishes its own pubkey as NIP-11 self, and a client can learn it", async () => {
  const town = await startTestTown();
  try {
    const info = await fetchRelayInfo(`ws://127.0.0.1:${town.httpPort}`);
    assertEquals(info.self, town.pubkey);
    assertEquals(await fetchTownPubkey(`ws://127.0.0.1:${town.httpPort}`), town.pubkey);
  } finally {
    await town.stop();
  }
});

Deno.test("relay info: unreachable relays and non-relay URLs are clear errors", async () => {
  assertEquals(relayHttpUrl("wss://relay.example/x"), "https://relay.example/x");
  await assertRejects(() => fetchRelayInfo("ftp://x"), RelayInfoError, "not a relay URL");
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (listener.addr as Deno.NetAddr).port;
  listener.close();
  await assertRejects(
    () => fetchTownPubkey(`ws://127.0.0.1:${port}`),
    RelayInfoError,
    "cannot reach",
  );
});
