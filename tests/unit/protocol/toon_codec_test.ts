import { decode as decode4, encode as encode4 } from "@toon-format/toon";
import { decode as decode14, encode as encode14 } from "toon-1.4.0";
import {
  decodeEventToon,
  encodeEventToon,
  EventValidationError,
  ToonDecodeError,
} from "../../../protocol/toon_codec.ts";
import {
  computeEventId,
  loadEventVerifier,
  verifierBackend,
  verifyEvent,
} from "../../../protocol/event_verifier.ts";
import type { NostrEvent } from "../../../protocol/nostr_event.ts";
import { signFixtureEvent } from "../../../fixtures/generate.ts";
import { assert, assertEquals, assertThrows } from "../../../harness/assert.ts";

const ID = "a".repeat(64);
const base: NostrEvent = {
  id: ID,
  pubkey: "b".repeat(64),
  created_at: 1700000000,
  kind: 1,
  tags: [],
  content: "",
  sig: "d".repeat(128),
};

function both(toon: string): [unknown, unknown] {
  const read = (f: (t: string) => unknown) => {
    try {
      return f(toon);
    } catch (err) {
      return `ERR ${(err as Error).message}`;
    }
  };
  return [read(decode4), read(decode14)];
}

function assertBothRead(event: NostrEvent, msg?: string) {
  const toon = encodeEventToon(event);
  const [a, b] = both(toon);
  assertEquals(a, event, `4.x: ${msg ?? toon}`);
  assertEquals(b, event, `1.4.0: ${msg ?? toon}`);
}

Deno.test("empty tags: 4.x `tags: []` is a string to 1.4.0; we write tags[0]:", () => {
  const raw = encode4(base);
  assert(raw.includes("\ntags: []\n"));
  assertEquals((decode14(raw) as Record<string, unknown>).tags, "[]");
  const ours = encodeEventToon(base);
  assert(ours.includes("\ntags[0]:\n"), ours);
  assertBothRead(base);
});

Deno.test("content with [N]: breaks 1.4.0 behind an unquoted key; we quote the key", () => {
  const ev = { ...base, content: "see [2]: a,b" };
  const [, b] = both(encode4(ev));
  // 1.4.0 reads `content: "see` as an array key here: a wrong answer, not even an error.
  assertEquals((b as Record<string, unknown>)['content: "see'], ["a", 'b"']);
  assert(encodeEventToon(ev).includes('\n"content": "see [2]: a,b"\n'));
  assertBothRead(ev);
});

Deno.test("control characters: 4.x \\u escapes are rejected by 1.4.0; we write them raw", () => {
  const ev = { ...base, content: "a\u0001b\u000bc\u001f", tags: [["x", "\u0000"]] };
  const [, b] = both(encode4(ev));
  assert(typeof b === "string" && b.includes("Invalid escape"), String(b));
  assertBothRead(ev);
});

Deno.test("unicode whitespace at the edges: 1.4.0 trims it unless quoted", () => {
  for (const s of ["\ufeffx", "x\u00a0", "\u2028", "\u3000y"]) {
    const ev = { ...base, content: s, tags: [["t", s]] };
    assertEquals(
      (decode14(encode4(ev)) as Record<string, unknown>).content !== s,
      true,
      JSON.stringify(s),
    );
    assertBothRead(ev, JSON.stringify(s));
  }
});

Deno.test("Number()-only numerals (1. .5 1.e5): 1.4.0 reads numbers unless quoted", () => {
  for (const s of ["1.", ".5", "1.e5"]) {
    const ev = { ...base, content: s, tags: [["t", s]] };
    assertEquals(typeof (decode14(encode4(ev)) as Record<string, unknown>).content, "number");
    assertBothRead(ev, s);
  }
  assertBothRead({ ...base, content: "+1", tags: [["t", "-0"]] });
});

Deno.test("strings both versions already agree on", () => {
  const values = [
    "",
    "123",
    "true",
    "null",
    "-5",
    "a,b",
    "k: v",
    " lead",
    "trail ",
    "line\nbreak\r\n",
    'quote " and \\ back',
    "héllo ☃ 😀",
    "a|b\tc",
    "- item",
    "#hash",
    "[]",
    "{}",
  ];
  for (const v of values) {
    assertBothRead({ ...base, content: v, tags: [["t", v], [], [v]] }, JSON.stringify(v));
  }
});

Deno.test("seeded random events round-trip through both versions", () => {
  let seed = 4242;
  const rnd = () => (seed = (seed * 1103515245 + 12345) & 0x7fffffff) / 0x7fffffff;
  const atoms = [
    "a",
    "0",
    "1.",
    " ",
    ",",
    ":",
    "|",
    "\t",
    "\n",
    '"',
    "\\",
    "[",
    "]",
    "#",
    "-",
    "true",
    "é",
    "😀",
    "\u0001",
    "\u00a0",
    "\ufeff",
    "[2]: ",
    "kind: 1",
    "05",
    "+1",
  ];
  const str = () => {
    let s = "";
    for (let n = Math.floor(rnd() * 6); n > 0; n--) s += atoms[Math.floor(rnd() * atoms.length)];
    return s;
  };
  for (let i = 0; i < 3000; i++) {
    const tags = Array.from(
      { length: Math.floor(rnd() * 4) },
      () => Array.from({ length: Math.floor(rnd() * 4) }, str),
    );
    assertBothRead({ ...base, tags, content: str() });
  }
});

Deno.test("decoder accepts what 4.x and 1.4.0 write, and verifies", () => {
  const ev = signFixtureEvent({ kind: 7000, created_at: 1, tags: [], content: "x" }, 0);
  assertEquals(decodeEventToon(encodeEventToon(ev)), ev);
  assertEquals(decodeEventToon(encode4(ev)), ev);
  assertEquals(decodeEventToon(encode14(ev)), ev);
  const tagged = signFixtureEvent(
    { kind: 1, created_at: 2, tags: [["e", ID], []], content: "" },
    1,
  );
  assertEquals(decodeEventToon(encode14(tagged)), tagged);
});

Deno.test("decoder errors carry machine-readable reasons", () => {
  const ev = signFixtureEvent({ kind: 1, created_at: 5, tags: [["p", ID]], content: "hi" }, 2);
  const toon = encodeEventToon(ev);
  const reason = (text: string, maxBytes?: number) => {
    try {
      decodeEventToon(text, { maxBytes });
      return "ok";
    } catch (err) {
      assert(err instanceof EventValidationError || err instanceof ToonDecodeError, String(err));
      return err.reason;
    }
  };
  assertEquals(reason(toon), "ok");
  assertEquals(
    reason(toon.replace(/^sig: ./m, (m) => m.endsWith("0") ? "sig: 1" : "sig: 0")),
    "bad-sig",
  );
  assertEquals(reason(toon.replace("content: hi", "content: ho")), "bad-id");
  assertEquals(reason(toon.replace("kind: 1", "kind: 1.5")), "bad-shape:kind");
  assertEquals(reason(toon.replace("kind: 1", "kind: 65536")), "bad-shape:kind");
  assertEquals(reason(toon.replace(/^id: .*/m, "id: xyz")), "bad-shape:id");
  assertEquals(reason(toon.replace(/^sig: .*\n?/m, "")), "bad-shape:sig");
  assertEquals(reason(toon.replace("created_at: 5", "created_at: -5")), "bad-shape:created_at");
  assertEquals(reason(toon.replace(`p,${ID}`, "p,12")), "bad-shape:tags");
  assertEquals(reason(toon + "\nextra: 1"), "bad-shape:extra-key");
  assertEquals(reason(toon + "\nkind: 2"), "syntax");
  assertEquals(reason("just a string"), "not-an-object");
  assertEquals(reason(toon, 100), "too-large");
  assertEquals(reason("x: " + "é".repeat(600), 1000), "too-large"); // 1203 UTF-8 bytes
});

Deno.test("encoder rejects badly shaped events", () => {
  const bad = { ...base, kind: 1.5 };
  assertThrows(() => encodeEventToon(bad), EventValidationError, "bad-shape:kind");
  assertThrows(() => encodeEventToon({ ...base, content: "\ud800" }), EventValidationError);
});

Deno.test("both verifier backends agree", async () => {
  await loadEventVerifier();
  assertEquals(verifierBackend(), "libsecp256k1-native");
  const ev = signFixtureEvent({ kind: 1, created_at: 9, tags: [], content: "v" }, 0);
  assertEquals(computeEventId(ev), ev.id);
  for (const backend of ["noble", "nostr-wasm", "libsecp256k1"] as const) {
    verifyEvent(ev, { backend });
    const badSig = { ...ev, sig: ev.sig.slice(0, 127) + (ev.sig[127] === "0" ? "1" : "0") };
    assertThrows(() => verifyEvent(badSig, { backend }), EventValidationError, "bad-sig");
    assertThrows(
      () => verifyEvent({ ...ev, content: "w" }, { backend }),
      EventValidationError,
      "bad-id",
    );
  }
});
