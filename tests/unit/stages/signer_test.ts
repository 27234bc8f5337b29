import { assert, assertEquals, assertThrows } from "../../../harness/assert.ts";
import { verifyEvent } from "nostr-tools/pure";
import type { Chunk, EventChunk, FailedChunk } from "../../../stages/chunks.ts";
import { StageOptionsError } from "../../../stages/stage.ts";
import { createSigner, parseSignerFlags, signerStage } from "../../../stages/signer.ts";

// NIP-06 vector 1: the key and the pubkey it must sign as.
const SK = "7f7ff03d123792d6ac594bfa67bf6d0c0ab55b6b1fdb6249303fe861f1ccba9a";
const PUBKEY = "17162c921dc4d2518f9a101db33695df1afb56ab82f5ff3e5da6eec3ca5cd917";

function template(n: number): Chunk {
  return {
    type: "template",
    template: {
      kind: 5000 + (n % 10),
      created_at: 1_700_000_000 + n,
      tags: [["i", `input ${n}`, "text"], ["bid", "1000"]],
      content: `job ${n} with "quotes" and ünïcödé\nnewline`,
    },
    ref: `r${n}`,
  };
}

async function run(chunks: Chunk[], engine: "wasm" | "js"): Promise<Chunk[]> {
  const out: Chunk[] = [];
  for await (
    const c of ReadableStream.from(chunks).pipeThrough(createSigner({ secretKey: SK, engine }))
  ) out.push(c);
  return out;
}

for (const engine of ["wasm", "js"] as const) {
  Deno.test(`signer (${engine}): events verify with nostr-tools verifyEvent`, async () => {
    const out = await run(Array.from({ length: 20 }, (_, n) => template(n)), engine);
    assertEquals(out.length, 20);
    out.forEach((c, n) => {
      assertEquals(c.type, "event");
      const e = (c as EventChunk).event;
      assertEquals(e.pubkey, PUBKEY);
      assertEquals((c as EventChunk).ref, `r${n}`);
      assert(verifyEvent({ ...e }), `event ${n} does not verify`);
    });
  });
}

Deno.test("signer: wasm and js engines give the same id for the same template", async () => {
  const [w] = await run([template(1)], "wasm");
  const [j] = await run([template(1)], "js");
  assertEquals((w as EventChunk).event.id, (j as EventChunk).event.id);
});

Deno.test("signer: bad templates and other chunks become failed chunks; failed pass through", async () => {
  const upstreamFailure: FailedChunk = { type: "failed", stage: "x", error: "E", message: "m" };
  const bad: Chunk[] = [
    { type: "template", template: { kind: -1, created_at: 1, tags: [], content: "" } },
    { type: "template", template: { kind: 1, created_at: 1.5, tags: [], content: "" } },
    {
      type: "template",
      template: { kind: 1, created_at: 1, tags: [[1 as unknown as string]], content: "" },
    },
    {
      type: "template",
      template: { kind: 1, created_at: 1, tags: [], content: "x".repeat(1024 * 1024 + 1) },
    },
    { type: "template", template: null as unknown as never },
    { type: "toon", toon: "kind: 1" },
    upstreamFailure,
    template(7),
  ];
  const out = await run(bad, "wasm");
  assertEquals(out.map((c) => c.type), [
    "failed",
    "failed",
    "failed",
    "failed",
    "failed",
    "failed",
    "failed",
    "event",
  ]);
  assertEquals((out[0] as FailedChunk).error, "InvalidTemplateError");
  assertEquals((out[3] as FailedChunk).message, "template is over 1048576 bytes");
  assertEquals((out[5] as FailedChunk).error, "UnexpectedChunkError");
  assertEquals(out[6], upstreamFailure);
  for (const c of out.slice(0, 6)) assert(!JSON.stringify(c).includes(SK));
});

Deno.test("signer: extra template fields never reach the signed event", async () => {
  const sneaky = {
    type: "template",
    template: { kind: 1, created_at: 1, tags: [], content: "", pubkey: "00".repeat(32), id: "x" },
  } as unknown as Chunk;
  const [c] = await run([sneaky], "js");
  const e = (c as EventChunk).event;
  assertEquals(e.pubkey, PUBKEY);
  assert(verifyEvent({ ...e }));
});

Deno.test("signer flags: key from --key-file, never from the command line", async () => {
  const dir = await Deno.makeTempDir();
  try {
    await Deno.writeTextFile(`${dir}/key`, `${SK}\n`);
    const opts = parseSignerFlags({ "key-file": `${dir}/key` });
    assertEquals(opts.secretKey, SK);
    assertEquals(signerStage.permissions(opts).read, [`${dir}/key`]);
    assertEquals(signerStage.permissions(opts).net, false);
    assertEquals(signerStage.permissions({ secretKey: SK }).read, false);
    assertThrows(() => parseSignerFlags({ key: SK }), StageOptionsError, "--key-file");
    assertThrows(() => parseSignerFlags({}), StageOptionsError);
    assertThrows(() => parseSignerFlags({ "key-file": `${dir}/missing` }), StageOptionsError);
    await Deno.writeTextFile(`${dir}/bad`, "zz");
    const err = assertThrows(
      () => parseSignerFlags({ "key-file": `${dir}/bad` }),
      StageOptionsError,
    );
    assert(!err.message.includes("zz"));
    assertThrows(
      () => parseSignerFlags({ "key-file": `${dir}/key`, engine: "gpu" }),
      StageOptionsError,
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("signer runs in a Worker with no permissions at all (wasm engine loads there)", async () => {
  const signerUrl = new URL("../../../stages/signer.ts", import.meta.url).href;
  const src = `
    import { createSigner } from ${JSON.stringify(signerUrl)};
    import { initNostrWasm } from "nostr-wasm";
    self.onmessage = async (e) => {
      const out = [];
      const s = ReadableStream.from(e.data.chunks).pipeThrough(createSigner(e.data.options));
      for await (const c of s) out.push(c);
      let netError = "none";
      try { (await Deno.connect({ hostname: "127.0.0.1", port: 9 })).close(); } catch (err) { netError = err.name; }
      let readError = "none";
      try { Deno.readTextFileSync("/etc/hostname"); } catch (err) { readError = err.name; }
      const wasmLoaded = typeof (await initNostrWasm()).finalizeEvent === "function";
      self.postMessage({ out, netError, readError, wasmLoaded });
    };
  `;
  const url = URL.createObjectURL(new Blob([src], { type: "application/javascript" }));
  const options = { secretKey: SK, engine: "wasm" as const };
  const worker = new Worker(url, {
    type: "module",
    deno: { permissions: signerStage.permissions(options) },
  });
  try {
    type Reply = { out: Chunk[]; netError: string; readError: string; wasmLoaded: boolean };
    const reply = await new Promise<Reply>((resolve, reject) => {
      worker.onmessage = (e) => resolve(e.data);
      worker.onerror = (e) => {
        e.preventDefault();
        reject(new Error(e.message));
      };
      worker.postMessage({ chunks: [template(1), template(2)], options });
    });
    assertEquals(reply.netError, "NotCapable");
    assertEquals(reply.readError, "NotCapable");
    assertEquals(reply.wasmLoaded, true);
    assertEquals(reply.out.map((c) => c.type), ["event", "event"]);
    for (const c of reply.out) assert(verifyEvent({ ...(c as EventChunk).event }));
  } finally {
    worker.terminate();
    URL.revokeObjectURL(url);
  }
});

Deno.test("deno run stages/signer.ts --key-file F signs piped templates with only read=F", async () => {
  const dir = await Deno.makeTempDir();
  try {
    await Deno.writeTextFile(`${dir}/key`, SK);
    const stageFile = new URL("../../../stages/signer.ts", import.meta.url).pathname;
    const child = new Deno.Command(Deno.execPath(), {
      args: ["run", `--allow-read=${dir}/key`, stageFile, "--key-file", `${dir}/key`],
      stdin: "piped",
      stdout: "piped",
      stderr: "piped",
      env: { NO_COLOR: "1" },
    }).spawn();
    const w = child.stdin.getWriter();
    await w.write(new TextEncoder().encode(JSON.stringify(template(3)) + "\n\n"));
    await w.close();
    const out = await child.output();
    assertEquals(new TextDecoder().decode(out.stderr), "");
    assertEquals(out.code, 0);
    const lines = new TextDecoder().decode(out.stdout).trim().split("\n");
    assertEquals(lines.length, 1);
    const chunk = JSON.parse(lines[0]) as EventChunk;
    assertEquals(chunk.event.pubkey, PUBKEY);
    assert(verifyEvent(chunk.event));
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
