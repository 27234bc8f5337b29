/**
 * The ILP PREPARE sink and the BTP client against the real Interledger reference connector
 * (ilp-connector 23.0.2 + ilp-plugin-btp 1.5.0 under Node): a sender (the sink, account alice)
 * and a receiver (a BtpClient on account bob that fulfils with the shared-secret scheme).
 */
import { assert, assertEquals, assertRejects } from "../../harness/assert.ts";
import { startReferenceConnector } from "../../harness/reference_connector.ts";
import { startIlpReceiver } from "../../harness/ilp_receiver.ts";
import { createIlpPrepareSink } from "../../stages/ilp_prepare_sink.ts";
import type { PrepareChunk, PrepareOutcomeChunk, ToonChunk } from "../../stages/chunks.ts";
import { BtpAuthError, BtpClient } from "../../transport/btp_client.ts";
import { fulfillmentFor } from "../../protocol/ilp_fulfillment.ts";

const SECRET = crypto.getRandomValues(new Uint8Array(32));
const SECRET_HEX = Array.from(SECRET, (b) => b.toString(16).padStart(2, "0")).join("");
const toHex = (b: Uint8Array) => Array.from(b, (x) => x.toString(16).padStart(2, "0")).join("");

async function prepareChunk(
  destination: string,
  text: string,
  options: { expiresInMs?: number; amount?: string; ref?: string } = {},
): Promise<PrepareChunk> {
  const data = new TextEncoder().encode(text);
  const { condition } = await fulfillmentFor(SECRET, data);
  return {
    type: "prepare",
    destination,
    amount: options.amount ?? "100",
    executionCondition: toHex(condition),
    expiresAt: new Date(Date.now() + (options.expiresInMs ?? 30_000)).toISOString(),
    data: btoa(text),
    ref: options.ref ?? text,
  };
}

async function runSink(
  chunks: (PrepareChunk | ToonChunk)[],
  options: { url: string; token: string; retryBaseDelayMs?: number },
) {
  const out: PrepareOutcomeChunk[] = [];
  const stream = ReadableStream.from(chunks).pipeThrough(createIlpPrepareSink({
    btpUrl: options.url,
    authToken: options.token,
    destination: "test.conn.bob",
    pricePerByte: 10n,
    sharedSecret: SECRET_HEX,
    retryBaseDelayMs: options.retryBaseDelayMs ?? 50,
  }));
  for await (const chunk of stream) {
    if (chunk.type === "failed") throw new Error(`unexpected failed chunk: ${chunk.message}`);
    out.push(chunk);
  }
  return out;
}

Deno.test("reference connector: IL-DCP, FULFILL, F02, F05, R02, R00, T retry, wrong auth", async (t) => {
  await using connector = await startReferenceConnector({
    accounts: { alice: {}, bob: {}, carol: {} },
  });
  const { alice, bob, carol } = connector.accounts;
  const receiver = await startIlpReceiver({
    url: bob.url,
    authToken: bob.secret,
    sharedSecret: SECRET,
  });
  try {
    await t.step("IL-DCP gives each child <connector>.<account>", async () => {
      assertEquals(receiver.client.ilpAddress, "test.conn.bob");
      await using client = new BtpClient({ url: alice.url, authToken: alice.secret });
      await client.connect();
      assertEquals(await client.fetchIldcp(), {
        clientAddress: "test.conn.alice",
        assetScale: 6,
        assetCode: "USD",
      });
    });

    await t.step(
      "TOON chunks are priced, sent and fulfilled, outcomes in input order",
      async () => {
        const toons: ToonChunk[] = Array.from({ length: 40 }, (_, i) => ({
          type: "toon",
          toon: `id: ${i}\nkind: 1\ncontent: "héllo ${"x".repeat(i * 7)}"`,
        }));
        const before = receiver.received.length;
        const outcomes = await runSink(toons, { url: alice.url, token: alice.secret });
        assertEquals(outcomes.length, toons.length);
        for (const [i, outcome] of outcomes.entries()) {
          const bytes = new TextEncoder().encode(toons[i].toon);
          const { fulfillment } = await fulfillmentFor(SECRET, bytes);
          assertEquals(outcome.type, "fulfill");
          assertEquals(outcome.fulfillment, toHex(fulfillment));
          assertEquals(outcome.attempts, 1);
        }
        const got = receiver.received.slice(before);
        assertEquals(got.length, toons.length);
        for (const prepare of got) {
          // one-to-one backend, spread 0: the receiver gets exactly 10 units per TOON byte
          assertEquals(prepare.amount, (10 * prepare.data.byteLength).toString());
        }
      },
    );

    await t.step(
      "F02 no route, F05 wrong fulfillment, R02 too little time: not retried",
      async () => {
        const chunks = [
          await prepareChunk("test.nowhere.x", "no route"),
          await prepareChunk("test.conn.bob.wrong", "wrong fulfillment"),
          await prepareChunk("test.conn.bob", "too short", { expiresInMs: 500 }),
          await prepareChunk("test.conn.bob.refuse", "receiver final reject"),
        ];
        const outcomes = await runSink(chunks, { url: alice.url, token: alice.secret });
        const summary = outcomes.map((o) => [o.ref, o.type, o.code, o.attempts, o.triggeredBy]);
        assertEquals(summary, [
          ["no route", "reject", "F02", 1, "test.conn"],
          ["wrong fulfillment", "reject", "F05", 1, "test.conn"],
          ["too short", "reject", "R02", 1, "test.conn"],
          ["receiver final reject", "reject", "F99", 1, "test.conn.bob"],
        ]);
      },
    );

    await t.step("R00 when the receiver answers after expiry", async () => {
      // The connector wants at least 2 x minMessageWindow (2 s) left; the receiver then sees
      // expiry - 1 s and answers 300 ms after it, so the connector's expire middleware fires.
      const chunk = await prepareChunk("test.conn.bob.slow", "slow", { expiresInMs: 2_500 });
      const [outcome] = await runSink([chunk], { url: alice.url, token: alice.secret });
      assertEquals([outcome.type, outcome.code, outcome.attempts], ["reject", "R00", 1]);
      await receiver.settled();
    });

    await t.step("T-class rejects are retried with a fresh expiry, at most 3 times", async () => {
      const chunks = [
        await prepareChunk("test.conn.bob.busy2", "busy twice"),
        await prepareChunk("test.conn.bob.busy9", "busy always"),
      ];
      const outcomes = await runSink(chunks, { url: alice.url, token: alice.secret });
      assertEquals(outcomes.map((o) => [o.ref, o.type, o.code, o.attempts]), [
        ["busy twice", "fulfill", undefined, 3],
        ["busy always", "reject", "T02", 4],
      ]);
    });

    await t.step("wrong auth token: the sink errors with BtpAuthError", async () => {
      const chunk = await prepareChunk("test.conn.bob", "never sent");
      await assertRejects(
        () => runSink([chunk], { url: carol.url, token: "not-the-secret" }),
        BtpAuthError,
        "invalid auth_token",
      );
      await using client = new BtpClient({ url: carol.url, authToken: "wrong" });
      const err = await assertRejects(() => client.connect(), BtpAuthError);
      assert(err.message.includes("F00 NotAcceptedError"));
      assertEquals(client.state, "closed");
    });
  } finally {
    await receiver.settled();
    await receiver.close();
  }
});

Deno.test("reference connector killed and restarted mid-run: the sink reconnects", async () => {
  await using connector = await startReferenceConnector({ accounts: { alice: {}, bob: {} } });
  const { alice, bob } = connector.accounts;
  const receiver = await startIlpReceiver({
    url: bob.url,
    authToken: bob.secret,
    sharedSecret: SECRET,
    reconnectInitialDelayMs: 100,
  });
  const input = new TransformStream<PrepareChunk, PrepareChunk>();
  const writer = input.writable.getWriter();
  const outcomes = input.readable.pipeThrough(createIlpPrepareSink({
    btpUrl: alice.url,
    authToken: alice.secret,
    window: 1,
    retryBaseDelayMs: 100,
    reconnectInitialDelayMs: 100,
  })).getReader();
  try {
    await writer.write(await prepareChunk("test.conn.bob", "before"));
    const first = await outcomes.read();
    assertEquals(first.value?.type, "fulfill");

    await connector.stop();
    await connector.restart();
    // Bob must be back before packets can reach him; the sink reconnects on its own.
    while (receiver.client.state !== "open") await new Promise((r) => setTimeout(r, 20));

    const later = ["after 1", "after 2", "after 3"];
    const chunks = await Promise.all(later.map((text) => prepareChunk("test.conn.bob", text)));
    // Writes resolve only as outcomes are read (backpressure), so write and read concurrently.
    const writing = (async () => {
      for (const chunk of chunks) await writer.write(chunk);
      await writer.close();
    })();
    const results: PrepareOutcomeChunk[] = [];
    for (let r = await outcomes.read(); !r.done; r = await outcomes.read()) {
      if (r.value.type === "failed") throw new Error(r.value.message);
      results.push(r.value);
    }
    await writing;
    assertEquals(results.map((o) => [o.ref, o.type]), later.map((ref) => [ref, "fulfill"]));
  } finally {
    await receiver.close();
  }
});

Deno.test("stage alone: JSON lines and TOON records piped through `deno run`, net to one host:port", async () => {
  await using connector = await startReferenceConnector({ accounts: { alice: {}, bob: {} } });
  const { alice, bob } = connector.accounts;
  const receiver = await startIlpReceiver({
    url: bob.url,
    authToken: bob.secret,
    sharedSecret: SECRET,
  });
  try {
    const good = await prepareChunk("test.conn.bob", "piped", { ref: "r1" });
    const input = [
      JSON.stringify(good),
      JSON.stringify({ ...good, executionCondition: "zz", ref: "r2" }),
      JSON.stringify({ type: "summary", kind: 1 }),
      "",
      "id: toon-1\nkind: 1\ncontent: hi",
      "",
    ].join("\n");
    const stage = new URL("../../stages/ilp_prepare_sink.ts", import.meta.url).pathname;
    const child = new Deno.Command(Deno.execPath(), {
      args: [
        "run",
        `--allow-net=127.0.0.1:${alice.port}`,
        stage,
        "--btp",
        alice.url,
        "--token",
        alice.secret,
        "--destination",
        "test.conn.bob",
        "--price-per-byte",
        "10",
        "--shared-secret",
        SECRET_HEX,
      ],
      stdin: "piped",
      stdout: "piped",
      stderr: "piped",
    }).spawn();
    const writer = child.stdin.getWriter();
    await writer.write(new TextEncoder().encode(input));
    await writer.close();
    const { code, stdout, stderr } = await child.output();
    assertEquals(code, 0, new TextDecoder().decode(stderr));
    const lines = new TextDecoder().decode(stdout).trim().split("\n").map((l) => JSON.parse(l));
    assertEquals(lines.map((l) => [l.type, l.ref ?? l.error]), [
      ["fulfill", "r1"],
      ["failed", "IlpPacketError"],
      ["failed", "IlpPrepareSinkInputError"],
      ["fulfill", undefined],
    ]);
    const toonBytes = new TextEncoder().encode("id: toon-1\nkind: 1\ncontent: hi");
    assertEquals(
      lines[3].fulfillment,
      toHex((await fulfillmentFor(SECRET, toonBytes)).fulfillment),
    );
    assertEquals(receiver.received.at(-1)?.amount, String(10 * toonBytes.byteLength));
  } finally {
    await receiver.close();
  }
});
