import {
  type ClientMessage,
  isRetryLater,
  Nip01MessageError,
  parseClientMessage,
  parseRelayMessage,
  type RelayMessage,
  serializeClientMessage,
  serializeRelayMessage,
} from "../../../protocol/nip01_message.ts";
import type { NostrEvent } from "../../../protocol/nostr_event.ts";
import { assertEquals, assertThrows } from "../../../harness/assert.ts";

const event: NostrEvent = {
  id: "a".repeat(64),
  pubkey: "b".repeat(64),
  created_at: 1700000000,
  kind: 5050,
  tags: [["i", "hi", "text"]],
  content: "x",
  sig: "c".repeat(128),
};

Deno.test("client messages round-trip", () => {
  const messages: ClientMessage[] = [
    { type: "EVENT", event },
    { type: "REQ", subId: "s1", filters: [{ kinds: [7000], "#e": [event.id] }, { since: 5 }] },
    { type: "CLOSE", subId: "s1" },
    { type: "COUNT", subId: "c", filters: [{ authors: [event.pubkey] }] },
    { type: "AUTH", event: { ...event, kind: 22242 } },
  ];
  for (const m of messages) assertEquals(parseClientMessage(serializeClientMessage(m)), m);
});

Deno.test("relay messages round-trip, EVENT as JSON object or TOON text", () => {
  const messages: RelayMessage[] = [
    { type: "EVENT", subId: "s1", event },
    { type: "EVENT", subId: "s1", toon: "id: aa\nkind: 1" },
    { type: "EOSE", subId: "s1" },
    { type: "OK", eventId: event.id, accepted: false, message: "blocked: no" },
    { type: "CLOSED", subId: "s1", message: "invalid: bad filter" },
    { type: "NOTICE", message: "hello" },
    { type: "COUNT", subId: "c", count: 3 },
    { type: "COUNT", subId: "c", count: 3, approximate: true },
    { type: "AUTH", challenge: "xyz" },
  ];
  for (const m of messages) assertEquals(parseRelayMessage(serializeRelayMessage(m)), m);
  const bytes = new TextEncoder().encode(serializeRelayMessage(messages[2]));
  assertEquals(parseRelayMessage(bytes), messages[2]);
});

Deno.test("client message rejections are precise", () => {
  const cases: [string, string][] = [
    ["not json", "not valid JSON"],
    ["{}", "not a JSON array"],
    ["[]", "empty array"],
    ["[1]", "type is not a string"],
    ['["PING"]', 'unknown client message type "PING"'],
    ['["REQ","s"]', "REQ has no filter"],
    ['["REQ","",{}]', "subscription id"],
    [`["REQ","${"x".repeat(65)}",{}]`, "subscription id"],
    ['["REQ","s",{"kinds":"1"}]', 'REQ filter 1: "kinds" is not an array'],
    ['["REQ","s",{},{"x":1}]', 'REQ filter 2: unknown filter key "x"'],
    ['["CLOSE","s","extra"]', "CLOSE has 3 elements, expected 2"],
    ['["EVENT",{}]', "EVENT event id is not 64 hex"],
    [JSON.stringify(["EVENT", { ...event, extra: 1 }]), 'unknown field "extra"'],
    [JSON.stringify(["EVENT", { ...event, kind: 70000 }]), "kind is not an integer"],
    [JSON.stringify(["EVENT", { ...event, tags: [["a", 1]] }]), "tag that is not an array"],
    [JSON.stringify(["EVENT", { ...event, created_at: 1.5 }]), "created_at"],
    [JSON.stringify(["EVENT", { ...event, sig: "C".repeat(128) }]), "sig is not 128 hex"],
  ];
  for (const [input, reason] of cases) {
    const err = assertThrows(() => parseClientMessage(input), Nip01MessageError, reason);
    assertEquals(err.reason.startsWith("invalid: "), true);
  }
  const many = JSON.stringify(["REQ", "s", ...Array(21).fill({})]);
  assertThrows(() => parseClientMessage(many), Nip01MessageError, "more than 20 filters");
  assertEquals(parseClientMessage(many, { maxFilters: 21 }).type, "REQ");
});

Deno.test("relay message rejections are precise", () => {
  const cases: [string, string][] = [
    ['["EVENT","s",""]', "TOON text is empty"],
    ['["EVENT","s",5]', "event is not an object"],
    ['["OK","abc",true,""]', "OK event id"],
    [`["OK","${"a".repeat(64)}","true",""]`, "accepted flag"],
    [`["OK","${"a".repeat(64)}",true]`, "OK has 3 elements"],
    ['["COUNT","c",{"count":-1}]', "count is not a non-negative integer"],
    ['["COUNT","c",{"count":1,"approximate":"yes"}]', "approximate"],
    ['["NOTICE",1]', "NOTICE message is not a string"],
    ['["REQ","s",{}]', 'unknown relay message type "REQ"'],
  ];
  for (const [input, reason] of cases) {
    assertThrows(() => parseRelayMessage(input), Nip01MessageError, reason);
  }
});

Deno.test("size limit counts UTF-8 bytes, for strings and bytes", () => {
  const notice = JSON.stringify(["NOTICE", "é".repeat(400)]); // 400 chars, 800 bytes
  assertThrows(() => parseRelayMessage(notice, { maxBytes: 600 }), Nip01MessageError, "over 600");
  assertEquals(parseRelayMessage(notice, { maxBytes: 900 }).type, "NOTICE");
  const bytes = new TextEncoder().encode(notice);
  assertThrows(() => parseRelayMessage(bytes, { maxBytes: 600 }), Nip01MessageError, "over 600");
  const big = JSON.stringify(["NOTICE", "x".repeat(1024 * 1024)]);
  assertThrows(() => parseRelayMessage(big), Nip01MessageError, "over 1048576 bytes");
  assertThrows(
    () => parseRelayMessage(new Uint8Array([0x5b, 0xff, 0x5d])),
    Nip01MessageError,
    "not valid UTF-8",
  );
});

Deno.test("nip01: only rate-limited: reasons say retry later", () => {
  assertEquals(
    [
      "rate-limited: town busy (query time per second spent); retry later",
      "blocked: no",
      "invalid: bad filter",
      "error: could not query the event store",
    ].map(isRetryLater),
    [true, false, false, false],
  );
});
