import { assertEquals } from "../support/assert.ts";
import { createJobSource, JobSpecQueue } from "../../stages/job_source.ts";
import type { Chunk } from "../../stages/chunks.ts";

async function collect(stream: ReadableStream<Chunk>): Promise<Chunk[]> {
  return await Array.fromAsync(stream);
}

function bytes(text: string): ReadableStream<Uint8Array> {
  return ReadableStream.from([new TextEncoder().encode(text)]);
}

Deno.test("JSON-lines specs become NIP-90 request templates; bad lines become FailedChunks", async () => {
  const lines = [
    '{"kind":5000,"inputs":[["hello","text"]],"params":{"max_tokens":"200","langs":["en","fr"]},"bid":"1000","ref":"r1"}',
    "not json",
    '{"kind":6000}',
    "",
    '{"kind":5050,"providers":["' + "ab".repeat(32) + '"],"tags":[["t","demo"]]}',
  ].join("\n");
  const out = await collect(createJobSource({ lines: bytes(lines), createdAt: 1700000000 }));
  assertEquals(out[0], {
    type: "template",
    ref: "r1",
    template: {
      kind: 5000,
      created_at: 1700000000,
      content: "",
      tags: [
        ["i", "hello", "text"],
        ["param", "max_tokens", "200"],
        ["param", "langs", "en", "fr"],
        [
          "bid",
          "1000",
        ],
      ],
    },
  });
  assertEquals(out.map((c) => c.type === "failed" ? c.error : c.type), [
    "template",
    "JobSourceError",
    "JobSourceError",
    "template",
  ]);
  assertEquals(out[3].type === "template" && out[3].template.tags, [["p", "ab".repeat(32)], [
    "t",
    "demo",
  ]]);
});

Deno.test("an over-long line is rejected and the next line still read", async () => {
  const long = '{"kind":5000,"content":"' + "x".repeat(200) + '"}';
  const out = await collect(
    createJobSource({ lines: bytes(long + '\n{"kind":5001}\n'), maxLineBytes: 100 }),
  );
  assertEquals(out.map((c) => c.type === "failed" ? c.message : c.type), [
    "line 1: longer than 100 bytes",
    "template",
  ]);
});

Deno.test("a bounded queue feeds the source from code", async () => {
  const queue = new JobSpecQueue(2);
  const source = createJobSource({ jobs: queue, createdAt: 1 });
  const producer = (async () => {
    for (let i = 0; i < 5; i++) await queue.push({ kind: 5000 + i });
    queue.close();
  })();
  const out = await collect(source);
  await producer;
  assertEquals(out.map((c) => c.type === "template" ? [c.ref, c.template.kind] : c.type), [
    ["job-1", 5000],
    ["job-2", 5001],
    ["job-3", 5002],
    ["job-4", 5003],
    ["job-5", 5004],
  ]);
});
