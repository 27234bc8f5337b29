import { assertEquals } from "../../../../harness/assert.ts";
import { relayUrlKey } from "../../../../protocol/relay_url_key.ts";
import { townRelayUrls } from "../../../../roles/town/relay/relay_urls.ts";

Deno.test("relay URLs: a wildcard host stands for every address of the machine and localhost, wss:// with TLS", () => {
  const interfaces = () => ["127.0.0.1", "192.0.2.10", "fe80::1"];
  assertEquals(townRelayUrls({ host: "0.0.0.0", port: 7443, tls: true, interfaces }), [
    "wss://127.0.0.1:7443",
    "wss://192.0.2.10:7443",
    "wss://[fe80::1]:7443",
    "wss://localhost:7443",
  ]);
  assertEquals(townRelayUrls({ host: "192.0.2.10", port: 80, tls: false }), ["ws://192.0.2.10"]);
});

Deno.test("relay URLs: scheme, host, port and path name the relay; default ports, trailing slashes and the query do not", () => {
  assertEquals(relayUrlKey("ws://Town.Example:80/"), "ws://town.example");
  assertEquals(relayUrlKey("wss://town.example:443?format=toon"), "wss://town.example");
  assertEquals(relayUrlKey("wss://town.example:7443//"), "wss://town.example:7443");
  assertEquals(relayUrlKey("ws://[::1]:7100"), "ws://[::1]:7100");
  assertEquals(relayUrlKey("wss://town.example"), relayUrlKey("wss://town.example/"));
  for (const other of ["ws://town.example", "wss://town.example:8443", "wss://town.example/a"]) {
    assertEquals(relayUrlKey(other) === relayUrlKey("wss://town.example"), false, other);
  }
  assertEquals(relayUrlKey("https://town.example"), undefined);
  assertEquals(relayUrlKey("wss://user:pw@town.example"), undefined);
  assertEquals(relayUrlKey("not a url"), undefined);
});
