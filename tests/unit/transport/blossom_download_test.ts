import { assertEquals } from "../../../harness/assert.ts";
import { downloadBlob } from "../../../transport/blossom_client.ts";
import { createHash } from "node:crypto";

Deno.test("two downloads of the same blob into one file at once both succeed with its bytes", async () => {
  const body = new Uint8Array(256 * 1024).fill(7);
  const sha256 = createHash("sha256").update(body).digest("hex");
  // The body in two halves with a pause between: both downloads are writing when one ends.
  const server = Deno.serve({ port: 0, hostname: "127.0.0.1", onListen() {} }, () =>
    new Response(
      new ReadableStream({
        async start(controller) {
          controller.enqueue(body.subarray(0, body.length / 2));
          await new Promise((r) => setTimeout(r, 100));
          controller.enqueue(body.subarray(body.length / 2));
          controller.close();
        },
      }),
    ));
  const dir = await Deno.makeTempDir();
  try {
    const to = `${dir}/${sha256}`;
    const url = `http://127.0.0.1:${server.addr.port}/${sha256}`;
    const results = await Promise.allSettled(
      [0, 1].map(() => downloadBlob({ url, to, sha256, maxBytes: body.length })),
    );
    assertEquals(results.map((r) => r.status), ["fulfilled", "fulfilled"]);
    assertEquals(await Deno.readFile(to), body);
    const left = [];
    for await (const e of Deno.readDir(dir)) left.push(e.name);
    assertEquals(left, [sha256]);
  } finally {
    await server.shutdown();
    await Deno.remove(dir, { recursive: true });
  }
});
