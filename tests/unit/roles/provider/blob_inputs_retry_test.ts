/**
 * A provider's blob inputs through a town that is away for a moment (roles/provider/jobs/blob_inputs.ts,
 * docs/PROTOCOL.md "Blobs in jobs"): no answer, or 5xx, is tried again with backoff until the
 * server is back; a blob the server does not hold is refused at once; a server that stays away is
 * refused once the retry bound is spent. Against a real HTTP server on loopback.
 */
import { assert, assertEquals, assertRejects } from "../../../../harness/assert.ts";
import { bytesToHex } from "@noble/hashes/utils.js";
import { sha256 } from "@noble/hashes/sha2.js";
import {
  BlobInputError,
  checkBlobInputs,
  fetchBlobInputs,
} from "../../../../roles/provider/jobs/blob_inputs.ts";
import { blobInputTags } from "../../../../protocol/job_blobs.ts";

const BLOB = new TextEncoder().encode("the job's input\n".repeat(64));
const SHA = bytesToHex(sha256(BLOB));

/** A Blossom-like server: `answer(n)` picks the status of the n-th request (0-based). */
function blobServer(answer: (n: number) => number, port = 0) {
  let n = 0;
  const server = Deno.serve({ hostname: "127.0.0.1", port, onListen() {} }, (req) => {
    const status = answer(n++);
    if (status !== 200) return new Response("busy\n", { status });
    if (!new URL(req.url).pathname.endsWith(SHA)) return new Response("no\n", { status: 404 });
    const headers = { "content-length": String(BLOB.length) };
    return new Response(req.method === "HEAD" ? null : BLOB, { headers });
  });
  return { server, requests: () => n, url: `http://127.0.0.1:${server.addr.port}/${SHA}` };
}

Deno.test("blob inputs: 503s are tried again until the server serves; the blob is checked and fetched", async () => {
  const s = blobServer((n) => n < 2 || n === 3 ? 503 : 200);
  const cacheDir = await Deno.makeTempDir();
  try {
    const tags = blobInputTags({ url: s.url, sha256: SHA });
    const inputs = await checkBlobInputs(tags, { maxBytes: 1 << 20 });
    assertEquals(inputs.map((i) => i.sha256), [SHA]);
    assertEquals(s.requests(), 3, "two 503s, then the HEAD answered");
    const [file] = await fetchBlobInputs(inputs, { maxBytes: 1 << 20, cacheDir });
    assertEquals(await Deno.readFile(file.path), BLOB);
    assertEquals(s.requests(), 5, "one 503, then the GET answered");
  } finally {
    await s.server.shutdown();
    await Deno.remove(cacheDir, { recursive: true });
  }
});

Deno.test("blob inputs: a town whose port answers nothing for a moment (restarting) is waited for", async () => {
  const probe = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (probe.addr as Deno.NetAddr).port;
  probe.close();
  const url = `http://127.0.0.1:${port}/${SHA}`;
  let s: ReturnType<typeof blobServer> | undefined;
  const back = new Promise<void>((resolve) =>
    setTimeout(() => {
      s = blobServer(() => 200, port);
      resolve();
    }, 700)
  );
  try {
    const inputs = await checkBlobInputs(blobInputTags({ url, sha256: SHA }), {
      maxBytes: 1 << 20,
    });
    assertEquals(inputs.length, 1);
  } finally {
    await back;
    await s?.server.shutdown();
  }
});

Deno.test("blob inputs: not stored is refused at once; always away is refused after the bound", async () => {
  const missing = blobServer(() => 200);
  try {
    const other = missing.url.replace(SHA, "ab".repeat(32));
    const err = await assertRejects(
      () =>
        checkBlobInputs(blobInputTags({ url: other, sha256: "ab".repeat(32) }), {
          maxBytes: 1 << 20,
        }),
      BlobInputError,
    );
    assertEquals(err.passing, false);
    assertEquals(missing.requests(), 1, "not tried again");
  } finally {
    await missing.server.shutdown();
  }
  const away = blobServer(() => 503);
  const cacheDir = await Deno.makeTempDir();
  try {
    const input = { url: away.url, sha256: SHA };
    const err = await assertRejects(
      () => fetchBlobInputs([input], { maxBytes: 1 << 20, cacheDir, retryForMs: 600 }),
      BlobInputError,
    );
    assert(err.passing, err.message);
    assert(away.requests() >= 2, `tried again: ${away.requests()}`);
  } finally {
    await away.server.shutdown();
    await Deno.remove(cacheDir, { recursive: true });
  }
});
