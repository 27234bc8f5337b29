/**
 * A town on several processes sharing one PostgreSQL database (a real server this file starts
 * from tools/node_modules): a paid write FULFILLed by one process is served by all and pushed
 * live to subscribers on the others, and the same write sent to another is a free `duplicate`
 * REJECT; an SPSP grant from one is honoured by another; a SIGKILL
 * of one of three processes on one shared address loses no FULFILLed write and stores none
 * twice; PostgreSQL stopped for 10 s makes writes T-class rejects, never FULFILLs, and the town
 * takes writes again by itself once it is back.
 */
import { freePort } from "../../harness/free_port.ts";
import { generateSecretKey, getPublicKey } from "nostr-tools";
import { startPostgresServer } from "../../state/postgres/postgres_server.ts";
import type { NostrEvent } from "../../protocol/nostr_event.ts";
import { assert, assertEquals } from "../../harness/assert.ts";
import { freshDatabase } from "../../harness/postgres_database.ts";
import { isDuplicateWrite } from "../../protocol/duplicate_write_reply.ts";
import {
  type SharedTownProcess,
  startSharedTownProcess,
} from "../../harness/shared_town_process.ts";
import {
  connectPayingClient,
  type PayingClient,
  startTestTown,
} from "../../harness/town_test_node.ts";

const TOWN = "test.town";

/** Collects the events a REQ returns (stored) and then pushes (live) on a relay URL. */
async function subscribe(url: string, filter: Record<string, unknown>) {
  const ws = new WebSocket(url);
  const stored: NostrEvent[] = [];
  const live: { event: NostrEvent; at: number }[] = [];
  let eose = false;
  ws.onmessage = (m) => {
    const msg = JSON.parse(m.data);
    if (msg[0] === "EVENT" && msg[1] === "s") {
      (eose ? live : stored).push(eose ? { event: msg[2], at: performance.now() } : msg[2]);
    }
    if (msg[0] === "EOSE") eose = true;
  };
  await new Promise((resolve, reject) => {
    ws.onopen = resolve;
    ws.onerror = reject;
  });
  ws.send(JSON.stringify(["REQ", "s", filter]));
  const deadline = Date.now() + 10_000;
  while (!eose && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
  assert(eose, "EOSE");
  return { stored, live, close: () => ws.close() };
}

async function until(check: () => boolean | Promise<boolean>, ms: number, what: string) {
  const deadline = Date.now() + ms;
  while (Date.now() < deadline) {
    if (await check()) return;
    await new Promise((r) => setTimeout(r, 20));
  }
  throw new Error(`timed out waiting for ${what}`);
}

Deno.test("shared store: processes of one town serve one set of events", async () => {
  await using pg = await startPostgresServer();
  const storeUrl = await freshDatabase(pg.url);
  const key = generateSecretKey();
  await using a = await startSharedTownProcess({ storeUrl, secretKey: key });
  await using b = await startSharedTownProcess({ storeUrl, secretKey: key });
  const townPubkey = getPublicKey(key);
  // NIP-11 is the same document whichever process answers.
  const nip11 = async (p: SharedTownProcess) =>
    await (await fetch(`http://127.0.0.1:${p.httpPort}/`, {
      headers: { accept: "application/nostr+json" },
    })).json();
  const info = await nip11(a);
  assertEquals(info, await nip11(b));
  // Blobs are offered by every process (the index in the store, bytes fetched by hash).
  assert(info.limitation.max_blob_bytes > 0);
  const writer = await connectPayingClient({
    url: `btp+ws://127.0.0.1:${a.btpPort}`,
    token: "w",
    townAddress: TOWN,
    townPubkey,
  });
  const sub = await subscribe(`ws://127.0.0.1:${b.httpPort}`, { authors: [writer.pubkey] });
  try {
    // Written through A, pushed live by B, served by both.
    const event = writer.sign({ content: "through A" });
    const reply = await writer.write(event);
    assertEquals(reply.type, "fulfill");
    await until(() => sub.live.length === 1, 10_000, "the live push on B");
    assertEquals(sub.live[0].event.id, event.id);
    for (const p of [a, b]) {
      const got = await subscribe(`ws://127.0.0.1:${p.httpPort}`, { ids: [event.id] });
      assertEquals(got.stored.map((e) => e.id), [event.id]);
      got.close();
    }
    // The grant A made pays on B (the shared secrets derive from the town's key alone).
    const viaB = await connectPayingClient({
      url: `btp+ws://127.0.0.1:${b.btpPort}`,
      token: "w2",
      townAddress: TOWN,
      townPubkey,
    });
    try {
      const { buildPaidWrite } = await import("../../roles/town_client/spsp_handshake.ts");
      const second = writer.sign({ content: "A's grant, paid on B" });
      const { prepare, fulfillment } = await buildPaidWrite({
        event: second,
        grant: writer.grant,
        pricePerByte: 10n,
      });
      assertEquals((await viaB.client.sendPrepare(prepare)).type, "fulfill");
      // The same write again, through the other process: the shared store says it holds it, so
      // a REJECT duplicate (nothing paid twice) with the town's proof; stored once.
      const again = await writer.client.sendPrepare(prepare);
      assert(again.type === "reject" && again.code === "F99", JSON.stringify(again));
      assert(isDuplicateWrite(again, { eventId: second.id, fulfillment }));
    } finally {
      await viaB.close();
    }
    await until(() => sub.live.length === 2, 10_000, "the second live push");
    const all = await subscribe(`ws://127.0.0.1:${a.httpPort}`, { authors: [writer.pubkey] });
    assertEquals(all.stored.length, 2);
    all.close();
  } finally {
    sub.close();
    await writer.close();
  }
});

Deno.test("shared store: SIGKILL of one of three processes on one address loses no FULFILLed write", async () => {
  await using pg = await startPostgresServer();
  const storeUrl = await freshDatabase(pg.url);
  const key = generateSecretKey();
  const townPubkey = getPublicKey(key);
  const httpPort = freePort();
  const btpPort = freePort();
  const towns: SharedTownProcess[] = [];
  for (let i = 0; i < 3; i++) {
    towns.push(await startSharedTownProcess({ storeUrl, secretKey: key, httpPort, btpPort }));
  }
  const url = `btp+ws://127.0.0.1:${btpPort}`;
  const fulfilled = new Set<string>();
  const written = new Set<string>();
  let reconnects = 0;
  let stop = false;
  // Each writer streams paid writes over one connection; when its process dies it reconnects
  // to the same address (a survivor answers) and sends the unanswered write again.
  const writerLoop = async (n: number) => {
    let client: PayingClient | undefined;
    let pending: NostrEvent | undefined;
    let count = 0;
    while (!stop || pending) {
      try {
        client ??= await connectPayingClient({
          url,
          token: `w${n}`,
          townAddress: TOWN,
          townPubkey,
        });
        pending ??= client.sign({ content: `writer ${n} write ${count++}` });
        written.add(pending.id);
        const reply = await client.write(pending);
        // Stored: FULFILLed, or (sent again after the dead process committed it) the town's
        // free duplicate REJECT.
        const stored = reply.type === "fulfill" || await client.isDuplicate(pending, reply);
        if (stored) fulfilled.add(pending.id);
        else if (!reply.code.startsWith("T")) throw new Error(`final reject ${reply.code}`);
        if (stored) pending = undefined;
      } catch (err) {
        if ((err as Error).message.startsWith("final reject")) throw err;
        await client?.close().catch(() => {});
        client = undefined;
        reconnects++;
        await new Promise((r) => setTimeout(r, 50));
      }
    }
    await client?.close();
  };
  // 24 connections over 3 processes: the kernel places each by a hash, so the chance that none
  // is on the killed process is (2/3)^24, under 1 in 10,000 (with 8 it was 1 in 26).
  const loops = Array.from({ length: 24 }, (_, n) => writerLoop(n));
  try {
    await until(() => fulfilled.size >= 100, 60_000, "100 FULFILLed writes");
    await towns[0].kill();
    const atKill = fulfilled.size;
    await until(() => fulfilled.size >= atKill + 100, 60_000, "100 more writes after the kill");
    stop = true;
    await Promise.all(loops);
    assert(reconnects > 0, "some writers were connected to the killed process");
    // Every FULFILLed write is served by the survivors, each once.
    for (const survivor of towns.slice(1)) {
      const sub = await subscribe(`ws://127.0.0.1:${survivor.httpPort}`, {
        kinds: [1],
        limit: 5000,
      });
      const ids = sub.stored.map((e) => e.id);
      sub.close();
      assertEquals(new Set(ids).size, ids.length, "no event served twice");
      const served = new Set(ids);
      for (const id of fulfilled) assert(served.has(id), `FULFILLed ${id} is served`);
      for (const id of served) assert(written.has(id), "nothing stored that was not written");
    }
  } finally {
    stop = true;
    await Promise.allSettled(loops);
    for (const t of towns) await t.stop();
  }
});

Deno.test("shared store: PostgreSQL away for 10 s: T-class rejects, never a FULFILL, then writes again", async () => {
  await using pg = await startPostgresServer();
  const storeUrl = await freshDatabase(pg.url);
  const key = generateSecretKey();
  const town = await startTestTown({ storeUrl, secretKey: key, acceptAnyToken: true });
  const writer = await connectPayingClient({
    url: `btp+ws://127.0.0.1:${town.btpPort}`,
    token: "w",
    townAddress: TOWN,
    townPubkey: town.pubkey,
  });
  try {
    assertEquals((await writer.write(writer.sign())).type, "fulfill");
    await pg.stop("immediate");
    const outage = Date.now() + 10_000;
    const refused: string[] = [];
    while (Date.now() < outage) {
      const event = writer.sign();
      const reply = await writer.write(event);
      assertEquals(reply.type, "reject", "no FULFILL while the database is away");
      if (reply.type === "reject") refused.push(reply.code);
      await new Promise((r) => setTimeout(r, 250));
    }
    assert(refused.length > 0);
    assert(refused.every((code) => code.startsWith("T")), `T-class only: ${refused.join(",")}`);
    await pg.start();
    // Recovers by itself: no restart of the town.
    let back: NostrEvent | undefined;
    await until(
      async () => {
        const event = writer.sign();
        if ((await writer.write(event)).type !== "fulfill") return false;
        back = event;
        return true;
      },
      30_000,
      "a FULFILL after PostgreSQL came back",
    );
    const rows = await town.store.query([{ authors: [writer.pubkey] }]);
    assertEquals(rows.length, 2, "the first write and the one after the outage, nothing between");
    assert(rows.some((r) => r.id === back!.id));
  } finally {
    await writer.close();
    await town.stop();
  }
});
