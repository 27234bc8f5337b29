import { assertEquals, assertThrows } from "../../../harness/assert.ts";
import { resolveTownList } from "../../../config/town_list.ts";
import { ConfigError } from "../../../config/config_error.ts";
import { parseConfigText } from "../../../config/settings.ts";
import { SeenEventIds } from "../../../protocol/seen_event_ids.ts";

Deno.test("town list: [towns.<name>] tables of config.toml become more towns", () => {
  const { sections } = parseConfigText(
    `relay_url = "ws://127.0.0.1:7100"\n` +
      `[towns.b]\nrelay_url = "ws://127.0.0.1:7200"\nbtp_url = "btp+ws://127.0.0.1:7201"\n` +
      `btp_token = "t"\n[towns.c]\nrelay_url = "wss://c.example"\nbtp_url = "btp+wss://c.example"\n`,
  );
  assertEquals(resolveTownList(sections.towns), [
    {
      name: "b",
      relayUrl: "ws://127.0.0.1:7200",
      btpUrl: "btp+ws://127.0.0.1:7201",
      btpToken: "t",
      townPubkey: undefined,
      townAddress: undefined,
    },
    {
      name: "c",
      relayUrl: "wss://c.example",
      btpUrl: "btp+wss://c.example",
      btpToken: "",
      townPubkey: undefined,
      townAddress: undefined,
    },
  ]);
  assertEquals(resolveTownList(undefined), []);
});

Deno.test("town list: [[towns]] entries are read as the [towns.<name>] tables they stand for", () => {
  const text = (towns: string) => `relay_url = "ws://127.0.0.1:7100"\n${towns}`;
  const arrays = parseConfigText(text(
    `[[towns]]\nname = "b"\nrelay_url = "ws://127.0.0.1:7200"\nbtp_url = "btp+ws://127.0.0.1:7201"\n` +
      `[[towns]]\nrelay_url = "wss://c.example"\n`,
  ));
  const tables = parseConfigText(text(
    `[towns.b]\nrelay_url = "ws://127.0.0.1:7200"\nbtp_url = "btp+ws://127.0.0.1:7201"\n` +
      `[towns.town-2]\nrelay_url = "wss://c.example"\n`,
  ));
  assertEquals(arrays.sections.towns, tables.sections.towns);
  const read = resolveTownList(arrays.sections.towns, { requireBtp: false });
  assertEquals(read.map((t) => `${t.name} ${t.relayUrl}`), [
    "b ws://127.0.0.1:7200",
    "town-2 wss://c.example",
  ]);
  const refused = (towns: string) =>
    assertThrows(() => parseConfigText(text(towns)), ConfigError).message;
  assertEquals(
    refused(
      `[[towns]]\nname = "b"\nrelay_url = "ws://x"\n[[towns]]\nname = "b"\nrelay_url = "ws://y"\n`,
    ),
    `[[towns]] names "b" twice`,
  );
  assertEquals(
    refused(`towns = [1]\n`),
    "[[towns]] entry 1 must be a table (relay_url, ...)",
  );
});

Deno.test("town list: a bad entry is refused with its table and key named", () => {
  const bad = (towns: Record<string, unknown>, options = {}) =>
    assertThrows(() => resolveTownList(towns, options), ConfigError).message;
  assertEquals(
    bad({ b: { relay_url: "ws://127.0.0.1:1" } }).includes("[towns.b] needs btp_url"),
    true,
  );
  assertEquals(
    bad({ b: { relay_url: "ws://x.example", btp_url: "btp+wss://x.example" } }).includes(
      "not loopback",
    ),
    true,
  );
  assertEquals(bad({ b: { relay_url: "http://127.0.0.1:1" } }).includes("ws: or wss:"), true);
  assertEquals(
    bad({ b: { relay_url: "ws://127.0.0.1:1", port: 1 } }).includes('unknown key "port"'),
    true,
  );
  assertEquals(bad({ b: "ws://127.0.0.1:1" }).includes("must be a table"), true);
  // A provider's towns need no uplink of their own (its home uplink routes to them).
  assertEquals(
    resolveTownList({ b: { relay_url: "ws://127.0.0.1:1" } }, { requireBtp: false })[0].btpUrl,
    "",
  );
});

Deno.test("seen event ids: each id once, the oldest forgotten past the bound", () => {
  const seen = new SeenEventIds({ max: 2 });
  assertEquals([seen.firstTime("a"), seen.firstTime("a"), seen.firstTime("b")], [
    true,
    false,
    true,
  ]);
  seen.firstTime("c"); // forgets "a"
  assertEquals([seen.firstTime("a"), seen.firstTime("c"), seen.size], [true, false, 2]);
});
