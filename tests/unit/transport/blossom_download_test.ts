import { assert, assertEquals } from "../../../harness/assert.ts";
import { BlobWriteError, BlossomError, downloadBlob } from "../../../transport/blossom_client.ts";
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

Deno.test("a download whose bytes cannot be written here fails as this machine's (BlobWriteError), not the server's", async () => {
  const body = new TextEncoder().encode("a project");
  const sha256 = createHash("sha256").update(body).digest("hex");
  const server = Deno.serve(
    { port: 0, hostname: "127.0.0.1", onListen() {} },
    () => new Response(body),
  );
  const dir = await Deno.makeTempDir();
  try {
    const url = `http://127.0.0.1:${server.addr.port}/${sha256}`;
    const err = await downloadBlob({ url, to: `${dir}/gone/${sha256}`, sha256, maxBytes: 1024 })
      .then(() => undefined, (e) => e);
    assert(err instanceof BlobWriteError, `${err}`);
    assert(!(err instanceof BlossomError));
    assertEquals([...Deno.readDirSync(dir)], []);
  } finally {
    await server.shutdown();
    await Deno.remove(dir, { recursive: true });
  }
});
