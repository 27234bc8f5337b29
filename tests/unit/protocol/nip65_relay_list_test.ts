import { assertEquals } from "../../../harness/assert.ts";
import {
  buildRelayList,
  parseRelayList,
  RELAY_LIST_KIND,
} from "../../../protocol/nip65_relay_list.ts";

Deno.test("NIP-65 relay list: built once per relay, read back; other tags and kinds ignored", () => {
  const template = buildRelayList({
    relays: [{ url: "ws://a" }, { url: "wss://b", marker: "read" }, { url: "ws://a" }],
    createdAt: 5,
  });
  assertEquals(template, {
    kind: RELAY_LIST_KIND,
    created_at: 5,
    tags: [["r", "ws://a"], ["r", "wss://b", "read"]],
    content: "",
  });
  assertEquals(
    parseRelayList({ ...template, tags: [...template.tags, ["r", "http://x"], ["p", "x"]] }),
    [
      { url: "ws://a" },
      { url: "wss://b", marker: "read" },
    ],
  );
  assertEquals(parseRelayList({ kind: 1, tags: [["r", "ws://a"]] }), []);
});
