/**
 * A town of two `town up`-like processes on one PostgreSQL database (a real server this file
 * starts): a BTP peer (bob, a plain ILP receiver) connected to process A only is paid by a
 * sender (alice) connected to process B only. B finds in the database that A holds bob's
 * connection and forwards the PREPARE over A's private listener; A forwards it to bob on its
 * books and the FULFILL comes back through B (docs/OPERATIONS.md "A town on several machines").
 * An account connected nowhere is the same F02 as on one process. A holder SIGKILLed while it
 * holds the packet gives the sender a prompt T01, not a wait until the expiry, and so does every
 * packet after it: T01 while the dead holder's heartbeat is fresh, T01 naming the silence once
 * it lapsed. The forwarding process SIGKILLed while the peer holds the packet: the holder still
 * records the peer's FULFILL once, and the same packet sent again is refused, never owed twice. The private
 * listener refuses a packet without the town's MAC, and never forwards a forwarded packet on.
 */
import { generateSecretKey } from "nostr-tools";
import { hmac } from "@noble/hashes/hmac.js";
import { sha256 } from "@noble/hashes/sha2.js";
import { bytesToHex } from "@noble/hashes/utils.js";
import postgres from "postgres";
import { startPostgresServer } from "../../state/postgres/postgres_server.ts";
import { assert, assertEquals } from "../../harness/assert.ts";
import { freshDatabase } from "../../harness/postgres_database.ts";
import { startSharedTownProcess } from "../../harness/shared_town_process.ts";
import { startIlpReceiver } from "../../harness/ilp_receiver.ts";
import { BtpClient } from "../../transport/btp_client.ts";
import { fulfillmentFor, importFulfillmentKey } from "../../protocol/ilp_fulfillment.ts";
import { decodeIlpReply, encodeIlpPrepare, type IlpReply } from "../../protocol/ilp_packet.ts";
import { localNodeSigner } from "../../identity/local_node_signer.ts";
import { FORWARD_KEY_LABEL } from "../../roles/town/btp/process_forward.ts";
import type { PeerLedgerEntry } from "../../state/payments/peer_ledger.ts";

const TOWN = "test.town";
/** A hang guard, not a wall-clock assertion. */
const GUARD_MS = 60_000;

function guard<T>(promise: Promise<T>, what: string): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out (${GUARD_MS} ms): ${what}`)), GUARD_MS);
  });
  return Promise.race([promise, late]).finally(() => clearTimeout(timer));
}

async function until(check: () => boolean, what: string) {
  const deadline = Date.now() + GUARD_MS;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

const secret = new Uint8Array(32).fill(7);

/** The lines of a process's books per peer (`<state dir>/peer_ledger.jsonl`). */
async function ledgerOf(stateDir: string): Promise<PeerLedgerEntry[]> {
  const text = await Deno.readTextFile(`${stateDir}/peer_ledger.jsonl`).catch(() => "");
  return text.split("\n").filter((l) => l.trim() !== "").map((l) => JSON.parse(l));
}

/** A PREPARE from alice to `destination`, its condition from bob's shared secret. */
async function prepareTo(destination: string, amount: string, note: string) {
  const data = new TextEncoder().encode(note);
  const { condition } = await fulfillmentFor(await importFulfillmentKey(secret), data);
  return {
    destination,
    amount,
    executionCondition: condition,
    expiresAt: new Date(Date.now() + 30_000),
    data,
  };
}

/**
 * Waits until the town's database records `account` as connected to one of its processes: a
 * process writes the route just after the connection (state/postgres/postgres_peer_routes.ts), and a
 * packet sent through another process before that is F02 there.
 */
async function untilRouted(storeUrl: string, account: string): Promise<void> {
  const sql = postgres(storeUrl, { max: 1, onnotice: () => {} });
  try {
    const deadline = Date.now() + GUARD_MS;
    for (;;) {
      const found = await sql.unsafe("SELECT 1 FROM turnpike_peer_routes WHERE account = $1", [
        account,
      ]);
      if (found.length > 0) return;
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${account}'s route`);
      await new Promise((r) => setTimeout(r, 20));
    }
  } finally {
    await sql.end({ timeout: 1 });
  }
}

async function connectAlice(btpPort: number): Promise<BtpClient> {
  const alice = new BtpClient({ url: `btp+ws://alice:alice-token@127.0.0.1:${btpPort}` });
  await guard(alice.connect(), "alice connects");
  await guard(alice.fetchIldcp(), "alice's IL-DCP");
  return alice;
}

Deno.test("process forward: a payment through B reaches a peer connected to A only", async () => {
  await using pg = await startPostgresServer();
  const storeUrl = await freshDatabase(pg.url);
  const key = generateSecretKey();
  const dirA = await Deno.makeTempDir({ prefix: "forward_a_" });
  const dirB = await Deno.makeTempDir({ prefix: "forward_b_" });
  await using a = await startSharedTownProcess({ storeUrl, secretKey: key, stateDir: dirA });
  await using b = await startSharedTownProcess({ storeUrl, secretKey: key, stateDir: dirB });
  const bob = await startIlpReceiver({
    url: `btp+ws://bob:bob-token@127.0.0.1:${a.btpPort}`,
    authToken: "bob-token",
    sharedSecret: secret,
  });
  await untilRouted(storeUrl, "bob");
  const alice = await connectAlice(b.btpPort);
  try {
    const prepare = await prepareTo(`${TOWN}.bob.invoice1`, "1500", "job 1");
    const reply = await guard(alice.sendPrepare(prepare), "the forwarded payment");
    assertEquals(reply.type, "fulfill", JSON.stringify(reply));
    assertEquals(bob.received.length, 1);
    // Two hops inside the town (B, then A), each taking its margin off the expiry.
    assert(bob.received[0].expiresAt.getTime() <= prepare.expiresAt.getTime() - 2000);
    // On A's books (A holds bob's connection and owes him), on none of B's.
    const owedOnA = (await ledgerOf(dirA)).filter((e) => e.account === "bob");
    assertEquals(owedOnA.map((e) => [e.event, e.amount]), [["forward", "1500"], [
      "fulfilled",
      "1500",
    ]]);
    assertEquals((await ledgerOf(dirB)).filter((e) => e.account === "bob"), []);

    // Connected nowhere: the same F02 as on one process.
    const nowhere = await guard(
      alice.sendPrepare(await prepareTo(`${TOWN}.carol.x`, "10", "to carol")),
      "to carol",
    );
    assertEquals(nowhere.type, "reject");
    if (nowhere.type === "reject") {
      assertEquals(nowhere.code, "F02");
      assert(nowhere.message.includes("carol not connected"), nowhere.message);
    }

    // The private listener: a packet without the town's MAC is refused; one with it, for an
    // account not connected to that process, is F02 there and never forwarded on (no loops).
    assert(a.privateUrl !== undefined && b.privateUrl !== undefined, "private listeners");
    const bytes: Uint8Array<ArrayBuffer> = new Uint8Array(
      encodeIlpPrepare(await prepareTo(`${TOWN}.bob.direct`, "5", "direct")),
    );
    const unsigned = await fetch(`${b.privateUrl}/ilp`, { method: "POST", body: bytes });
    assertEquals(unsigned.status, 401);
    await unsigned.body?.cancel();
    using signer = localNodeSigner(key);
    const mac = bytesToHex(hmac(sha256, await signer.derivedSecret(FORWARD_KEY_LABEL), bytes));
    const signed = await fetch(`${b.privateUrl}/ilp`, {
      method: "POST",
      body: bytes,
      headers: { "turnpike-forward-mac": mac },
    });
    assertEquals(signed.status, 200);
    const onB = decodeIlpReply(new Uint8Array(await signed.arrayBuffer()));
    assertEquals(onB.type, "reject");
    if (onB.type === "reject") assertEquals(onB.code, "F02");
    assertEquals(bob.received.length, 1, "B did not pass the forwarded packet on to A");
    const toA = await fetch(`${a.privateUrl}/ilp`, {
      method: "POST",
      body: bytes,
      headers: { "turnpike-forward-mac": mac },
    });
    assertEquals(decodeIlpReply(new Uint8Array(await toA.arrayBuffer())).type, "fulfill");
    const oversized = await fetch(`${a.privateUrl}/ilp`, {
      method: "POST",
      body: new Uint8Array(100_000),
      headers: { "turnpike-forward-mac": mac },
    });
    assertEquals(oversized.status, 413);
    await oversized.body?.cancel();
  } finally {
    await alice.close();
    await bob.close();
    await Deno.remove(dirA, { recursive: true }).catch(() => {});
    await Deno.remove(dirB, { recursive: true }).catch(() => {});
  }
});

Deno.test("process forward: the holder SIGKILLed mid-forward is a prompt T01, then the peer is reached again", async () => {
  await using pg = await startPostgresServer();
  const storeUrl = await freshDatabase(pg.url);
  const key = generateSecretKey();
  const a = await startSharedTownProcess({ storeUrl, secretKey: key });
  await using b = await startSharedTownProcess({ storeUrl, secretKey: key });
  const bob = await startIlpReceiver({
    url: `btp+ws://bob:bob-token@127.0.0.1:${a.btpPort}`,
    authToken: "bob-token",
    sharedSecret: secret,
  });
  await untilRouted(storeUrl, "bob");
  const alice = await connectAlice(b.btpPort);
  try {
    // `.slow`: bob holds the packet past its expiry; A is killed while he holds it.
    const held = alice.sendPrepare(await prepareTo(`${TOWN}.bob.slow`, "700", "held"));
    let answer: IlpReply | undefined;
    held.then((r) => answer = r, () => {});
    await until(() => bob.received.length === 1 || answer !== undefined, "bob holds the packet");
    assertEquals(answer, undefined, "no answer before the kill");
    await a.kill();
    const reply = await guard(held, "the reply after the kill");
    assertEquals(reply.type, "reject");
    // T01 (peer unreachable), not R00 at the expiry: the dead holder is noticed at once.
    if (reply.type === "reject") assertEquals(reply.code, "T01", reply.message);

    // Bob not connected again yet: the dead holder is still on record, still a T01.
    const meanwhile = await guard(
      alice.sendPrepare(await prepareTo(`${TOWN}.bob.invoice2`, "700", "meanwhile")),
      "while bob is away",
    );
    assertEquals(meanwhile.type, "reject");
    if (meanwhile.type === "reject") assertEquals(meanwhile.code, "T01", meanwhile.message);
    // Once A's heartbeat lapses (5 s) the database says so: T01 naming the silence, at once.
    const deadline = Date.now() + GUARD_MS;
    for (let n = 0;; n++) {
      if (Date.now() > deadline) throw new Error("timed out waiting for the lapsed heartbeat");
      await new Promise((r) => setTimeout(r, 200));
      const lapse = await guard(
        alice.sendPrepare(await prepareTo(`${TOWN}.bob.lapse${n}`, "700", `lapse ${n}`)),
        "during the lapse",
      );
      assert(lapse.type === "reject" && lapse.code === "T01", JSON.stringify(lapse));
      if (lapse.message.includes("not heard from")) break;
    }

    // Bob connects again, to B this time: paid locally.
    await bob.close();
    const bob2 = await startIlpReceiver({
      url: `btp+ws://bob:bob-token@127.0.0.1:${b.btpPort}`,
      authToken: "bob-token",
      sharedSecret: secret,
    });
    try {
      const again = await guard(
        alice.sendPrepare(await prepareTo(`${TOWN}.bob.invoice3`, "700", "again")),
        "paid again",
      );
      assertEquals(again.type, "fulfill", JSON.stringify(again));
    } finally {
      await bob2.close();
    }
  } finally {
    await alice.close();
    await bob.close().catch(() => {});
    await a.kill();
  }
});

Deno.test("process forward: the forwarding process SIGKILLed mid-forward: the holder owes the peer once", async () => {
  await using pg = await startPostgresServer();
  const storeUrl = await freshDatabase(pg.url);
  const key = generateSecretKey();
  const dirA = await Deno.makeTempDir({ prefix: "forward_a_" });
  await using a = await startSharedTownProcess({ storeUrl, secretKey: key, stateDir: dirA });
  const b = await startSharedTownProcess({ storeUrl, secretKey: key });
  // Bob holds each packet until released, then fulfils it.
  let release = () => {};
  const gate = new Promise<void>((r) => release = r);
  let arrived = 0;
  const bobKey = await importFulfillmentKey(secret);
  const bob = new BtpClient({
    url: `btp+ws://bob:bob-token@127.0.0.1:${a.btpPort}`,
    onPrepare: async (prepare) => {
      arrived++;
      await gate;
      const { fulfillment } = await fulfillmentFor(bobKey, prepare.data);
      return { type: "fulfill", fulfillment, data: new Uint8Array(0) };
    },
  });
  await guard(bob.connect(), "bob connects");
  await guard(bob.fetchIldcp(), "bob's IL-DCP");
  await untilRouted(storeUrl, "bob");
  const alice = await connectAlice(b.btpPort);
  let alice2: BtpClient | undefined;
  try {
    const prepare = await prepareTo(`${TOWN}.bob.killb`, "900", "B killed");
    let early: IlpReply | Error | undefined;
    const sent = alice.sendPrepare(prepare).then((r) => r, (e: Error) => e);
    sent.then((r) => early = r);
    await until(() => arrived === 1 || early !== undefined, "bob holds the packet");
    assertEquals(early, undefined, "no answer before bob holds it");
    await b.kill();
    const outcome = await guard(sent, "alice's answer after B's kill");
    assert(outcome instanceof Error || outcome.type === "reject", "no FULFILL reached alice");
    release();
    // A records bob's FULFILL though nobody takes its answer: owed once.
    const bobLines = async () => (await ledgerOf(dirA)).filter((e) => e.account === "bob");
    const deadline = Date.now() + GUARD_MS;
    while ((await bobLines()).length < 2) {
      if (Date.now() > deadline) throw new Error("timed out waiting for A's books");
      await new Promise((r) => setTimeout(r, 50));
    }
    assertEquals((await bobLines()).map((e) => [e.event, e.amount]), [
      ["forward", "900"],
      ["fulfilled", "900"],
    ]);
    // The same packet sent again, now through A: refused, never owed twice.
    alice2 = await connectAlice(a.btpPort);
    const again = await guard(
      alice2.sendPrepare({ ...prepare, expiresAt: new Date(Date.now() + 30_000) }),
      "the same packet again",
    );
    assertEquals(again.type, "reject", JSON.stringify(again));
    assertEquals(arrived, 1, "bob was not asked again");
    assertEquals((await bobLines()).length, 2);
  } finally {
    release();
    await alice.close();
    await alice2?.close();
    await bob.close();
    await b.kill();
    await Deno.remove(dirA, { recursive: true }).catch(() => {});
  }
});
