/**
 * The profile node's wire (roles/requester/node_wire.ts): bigints cross intact, lines are
 * split wherever the chunks end, and a line past the cap ends the stream with a NodeWireError
 * instead of growing a buffer without bound.
 */
import { assertEquals, assertRejects, assertThrows } from "../../../../harness/assert.ts";
import {
  decodeNodeLine,
  encodeNodeLine,
  MAX_NODE_LINE_BYTES,
  NodeWireError,
  readNodeLines,
} from "../../../../roles/requester/node_wire.ts";

const streamOf = (...chunks: string[]) =>
  ReadableStream.from(chunks.map((c) => new TextEncoder().encode(c)));

Deno.test("node wire: bigints round-trip, other values as JSON", () => {
  const value = { bid: 123456789012345678901234567890n, spec: { then: [{ bid: 5n }] }, n: 1 };
  assertEquals(decodeNodeLine(encodeNodeLine(value).trim()), value);
  assertEquals(encodeNodeLine({ a: 1 }), '{"a":1}\n');
});

Deno.test("node wire: a line that is not a JSON object is refused", () => {
  assertThrows(() => decodeNodeLine("[1,2]"), NodeWireError);
  assertThrows(() => decodeNodeLine("not json"), NodeWireError);
});

Deno.test("node wire: lines split across chunks, several in one chunk", async () => {
  const lines = [];
  for await (const l of readNodeLines(streamOf('{"a":', '1}\n{"b":2}\n\n{"c"', ":3}"))) {
    lines.push(l);
  }
  assertEquals(lines, [{ a: 1 }, { b: 2 }, { c: 3 }]);
});

Deno.test("node wire: a line over the cap ends the stream", async () => {
  const big = "x".repeat(MAX_NODE_LINE_BYTES + 10);
  await assertRejects(async () => {
    for await (const _ of readNodeLines(streamOf('{"a":"', big))) {
      // nothing: the cap is hit first
    }
  }, NodeWireError);
});
