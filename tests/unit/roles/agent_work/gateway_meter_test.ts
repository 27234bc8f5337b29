import { assertEquals } from "../../../../harness/assert.ts";
import {
  meteredBody,
  microCost,
  type TokenUsage,
  unitsOf,
  usageOf,
  UsageScanner,
} from "../../../../roles/agent_work/provider/gateway_meter.ts";

const encode = (s: string) => new TextEncoder().encode(s);

Deno.test("gateway meter: usage from each API's JSON, cache tokens counted as input", () => {
  assertEquals(
    usageOf({
      usage: {
        input_tokens: 10,
        output_tokens: 4,
        cache_creation_input_tokens: 100,
        cache_read_input_tokens: 1000,
      },
    }),
    { inputTokens: 1110, outputTokens: 4 },
  );
  assertEquals(usageOf({ usage: { prompt_tokens: 7, completion_tokens: 3, total_tokens: 10 } }), {
    inputTokens: 7,
    outputTokens: 3,
  });
  assertEquals(
    usageOf({
      type: "response.completed",
      response: { usage: { input_tokens: 5, output_tokens: 2 } },
    }),
    { inputTokens: 5, outputTokens: 2 },
  );
  assertEquals(usageOf({ usage: { input_tokens: -5, output_tokens: 2.5 } }), {
    inputTokens: 0,
    outputTokens: 0,
  });
  assertEquals(usageOf({ choices: [] }), undefined);
  assertEquals(usageOf("[DONE]"), undefined);
});

Deno.test("gateway meter: an event stream split anywhere gives the running totals, each rise reported", () => {
  const stream = 'event: message_start\ndata: {"type":"message_start","message":{"usage":' +
    '{"input_tokens":50,"output_tokens":1}}}\n\nevent: ping\ndata: {"type":"ping"}\n\n' +
    'event: message_delta\r\ndata: {"type":"message_delta","usage":{"output_tokens":30}}\r\n\r\n' +
    "data: [DONE]";
  for (const size of [1, 7, stream.length]) {
    const seen: TokenUsage[] = [];
    const scanner = new UsageScanner(true, (u) => seen.push(u));
    for (let i = 0; i < stream.length; i += size) scanner.push(encode(stream.slice(i, i + size)));
    scanner.end();
    assertEquals(seen, [
      { inputTokens: 50, outputTokens: 1 },
      { inputTokens: 50, outputTokens: 30 },
    ]);
  }
});

Deno.test("gateway meter: a JSON body is read at its end; one past the bound is not read", () => {
  const body = JSON.stringify({ usage: { input_tokens: 3, output_tokens: 4 } });
  const whole = new UsageScanner(false, () => {});
  whole.push(encode(body.slice(0, 10)));
  whole.push(encode(body.slice(10)));
  assertEquals(whole.usage, undefined);
  whole.end();
  assertEquals(whole.usage, { inputTokens: 3, outputTokens: 4 });
  const bounded = new UsageScanner(false, () => {}, { maxJsonChars: 10 });
  bounded.push(encode(body));
  bounded.end();
  assertEquals(bounded.usage, undefined);
});

Deno.test("gateway meter: cost is exact in millionths, rounded up only as units", () => {
  const prices = { inputPerMillion: 3n, outputPerMillion: 15n };
  assertEquals(microCost({ inputTokens: 1_000_000, outputTokens: 0 }, prices), 3_000_000n);
  assertEquals(microCost({ inputTokens: 1, outputTokens: 1 }, prices), 18n);
  assertEquals([unitsOf(0n), unitsOf(1n), unitsOf(1_000_000n), unitsOf(1_000_001n)], [
    0n,
    1n,
    1n,
    2n,
  ]);
});

Deno.test("gateway meter: a caller that has every byte of a JSON body finds its usage counted, and an event stream passes chunk by chunk", async () => {
  const json = encode(JSON.stringify({ usage: { input_tokens: 1000, output_tokens: 200 } }));
  // The upstream sends the body in two chunks and then waits before it ends, as a connection
  // does whose end the caller never needs (it knows the length).
  const upstream = new TransformStream<Uint8Array, Uint8Array>();
  const writer = upstream.writable.getWriter();
  const scanner = new UsageScanner(false, () => {});
  const reader = meteredBody(upstream.readable, scanner, () => {}).getReader();
  void writer.write(json.slice(0, 20));
  void writer.write(json.slice(20));
  const first = reader.read();
  void writer.close();
  let got = (await first).value!.length;
  while (got < json.length) got += (await reader.read()).value!.length;
  assertEquals(scanner.usage, { inputTokens: 1000, outputTokens: 200 });
  assertEquals((await reader.read()).done, true);
  // An event stream is not held back: the first chunk reaches the caller before the second is sent.
  const sse = new TransformStream<Uint8Array, Uint8Array>();
  const sseWriter = sse.writable.getWriter();
  const sseReader = meteredBody(sse.readable, new UsageScanner(true, () => {}), () => {})
    .getReader();
  void sseWriter.write(encode("event: ping\ndata: {}\n\n"));
  assertEquals(
    new TextDecoder().decode((await sseReader.read()).value),
    "event: ping\ndata: {}\n\n",
  );
  await sseWriter.close();
  assertEquals((await sseReader.read()).done, true);
});
