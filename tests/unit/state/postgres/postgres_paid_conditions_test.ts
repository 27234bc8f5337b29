/**
 * A condition paid is owed by one process of a town on a shared store
 * (state/postgres/postgres_paid_conditions.ts, roles/town/btp/paid_once.ts) on a real PostgreSQL
 * server and real peer ledgers, each process with its own connections: a payment in doubt whose
 * condition another process booked paid is not owed here even when the peer names this packet's
 * own expiry (two packets of one invoice with one expiry, or a peer naming the wrong one), which
 * the expiry check alone owes twice; a process's own claim stands across its restart; claims at
 * once from two processes give each condition one owner; old rows are deleted.
 */
import postgres from "postgres";
import { sha256 } from "@noble/hashes/sha2.js";
import { bytesToHex } from "@noble/hashes/utils.js";
import { assert, assertEquals } from "../../../../harness/assert.ts";
import { freshDatabase } from "../../../../harness/postgres_database.ts";
import { startPostgresServer } from "../../../../state/postgres/postgres_server.ts";
import { openPostgresPaidConditions } from "../../../../state/postgres/postgres_paid_conditions.ts";
import { openPeerLedger } from "../../../../state/payments/peer_ledger.ts";
import { PaidOnce } from "../../../../roles/town/btp/paid_once.ts";
import { createOwedAnswers } from "../../../../roles/town/btp/owed_answers.ts";
import { decodeOwedAnswer, encodeOwedQuestion } from "../../../../protocol/payment_owed.ts";
import { proveShown, startInDoubtResolver } from "../../../../roles/town/btp/process_in_doubt.ts";

function packet(n: number) {
  const fulfillment = new Uint8Array(32).fill(n);
  return { fulfillment: bytesToHex(fulfillment), condition: bytesToHex(sha256(fulfillment)) };
}

Deno.test("paid conditions: a payment in doubt booked paid by another process is not owed here, whatever expiry the peer names; one claimed here stays owed here across a restart", async () => {
  await using pg = await startPostgresServer();
  const url = await freshDatabase(pg.url);
  const pools = [
    postgres(url, { max: 2, onnotice: () => {} }),
    postgres(url, { max: 2, onnotice: () => {} }),
  ];
  const dirs = await Promise.all([0, 1, 2].map(() => Deno.makeTempDir()));
  try {
    const [store0, store1] = await Promise.all(pools.map((sql) => openPostgresPaidConditions(sql)));
    const lines: string[] = [];
    const log = (line: string) => lines.push(line);
    const once0 = new PaidOnce({ conditions: store0, books: "host:/town-0", log });
    const once1 = new PaidOnce({ conditions: store1, books: "host:/town-1", log });
    const [paid, own] = [packet(1), packet(2)];
    const expiry = new Date("2026-11-28T19:56:49.927Z");
    // Process 0 forwarded both, and was killed before beta answered.
    const before = await openPeerLedger({ stateDir: dirs[0] });
    for (const p of [paid, own]) await before.forward("beta", p.condition, 2_500n, expiry);
    await Deno.copyFile(`${dirs[0]}/peer_ledger.jsonl`, `${dirs[2]}/peer_ledger.jsonl`);
    // The payer's second PREPARE of `paid`, with the same expiry (capped at the invoice's),
    // through process 1: beta fulfilled it there.
    const ledger1 = await openPeerLedger({ stateDir: dirs[1] });
    await ledger1.forward("beta", paid.condition, 2_500n, expiry);
    await ledger1.fulfilled("beta", paid.condition, paid.fulfillment);
    once1.paid("beta", paid.condition);
    await once1.flush();

    // Process 0 restarts; beta shows both fulfillments with that one expiry.
    const shown = [paid, own].map((p) => ({
      fulfillment: p.fulfillment,
      expiresAt: expiry.toISOString(),
    }));
    const ledger0 = await openPeerLedger({ stateDir: dirs[0] });
    await proveShown({ ledger: ledger0, paidOnce: once0, log }, "beta", shown);
    assertEquals(ledger0.balance("beta").owed, 2_500n, "own's payment only");
    assertEquals(ledger0.packetState("beta", paid.condition), "rejected");
    assertEquals(ledger0.packetDetail("beta", paid.condition)?.paidElsewhere, true);
    assert(lines.some((l) => l.includes("booked by the town's process host:/town-1")), lines[0]);
    // The expiry alone cannot tell the two packets apart: owed twice, on a copy of process 0.
    const unguarded = await openPeerLedger({ stateDir: dirs[2] });
    await proveShown({ ledger: unguarded, log }, "beta", shown);
    assertEquals(unguarded.balance("beta").owed, 5_000n);

    // Killed after its claim of `own`, before its line: the claim is its own at the next start
    // (the same books), and no other process's.
    assertEquals(await once0.claim("beta", own.condition), undefined);
    const once2 = new PaidOnce({ conditions: store0, books: "host:/town-2", log });
    assertEquals(await once2.claim("beta", own.condition), "the town's process host:/town-0");
    // A FULFILL booked after another process proved the condition is reported, not hidden.
    once1.paid("beta", own.condition);
    await once1.close();
    assert(lines.some((l) => l.includes("held by another process's books")));
    // A packet in doubt whose condition this process booked paid (a FULFILL of another of its
    // packets) is not owed again here.
    assertEquals(
      await once1.claim("beta", paid.condition),
      "this process (a FULFILL of another packet)",
    );
    await Promise.all([once0.close(), once2.close()]);
  } finally {
    await Promise.all(pools.map((sql) => sql.end()));
    await Promise.all(dirs.map((d) => Deno.remove(d, { recursive: true })));
  }
});

Deno.test("paid conditions: two processes claiming at once give each condition one owner; rows past their days are deleted", async () => {
  await using pg = await startPostgresServer();
  const url = await freshDatabase(pg.url);
  const pools = [
    postgres(url, { max: 4, onnotice: () => {} }),
    postgres(url, { max: 4, onnotice: () => {} }),
  ];
  try {
    const stores = await Promise.all(pools.map((sql) => openPostgresPaidConditions(sql)));
    const conditions = Array.from({ length: 40 }, (_, i) => packet(i + 10).condition);
    const owners = await Promise.all(conditions.map((c) =>
      Promise.all([
        stores[0].claim("books-0", "beta", c),
        stores[1].claim("books-1", "beta", c),
      ])
    ));
    for (const [a, b] of owners) {
      assertEquals(a, b, "both processes see one owner");
      assert(a.books === "books-0" || a.books === "books-1");
      assertEquals(a.kind, "claimed");
    }
    await pools[0].unsafe(
      `UPDATE turnpike_paid_conditions SET at = now() - interval '8 days' WHERE condition = $1`,
      [conditions[0]],
    );
    assertEquals(await stores[1].prune(), 1);
    assertEquals(await stores[1].claim("books-1", "beta", conditions[0]), {
      books: "books-1",
      kind: "claimed",
    });
  } finally {
    await Promise.all(pools.map((sql) => sql.end()));
  }
});

Deno.test("paid conditions: a batch the store refused is written once it is back; a process's start records again the fulfilled packets its books hold; a proof the store could not decide is asked again", async () => {
  await using pg = await startPostgresServer();
  const url = await freshDatabase(pg.url);
  const pools = [
    postgres(url, { max: 2, onnotice: () => {} }),
    postgres(url, { max: 2, onnotice: () => {} }),
  ];
  const stateDir = await Deno.makeTempDir();
  try {
    const [store0, store1] = await Promise.all(pools.map((sql) => openPostgresPaidConditions(sql)));
    const lines: string[] = [];
    const log = (line: string) => lines.push(line);
    const [booked, held, doubted] = [packet(31), packet(32), packet(33)];
    const ledger = await openPeerLedger({ stateDir });
    for (const p of [held, booked]) {
      await ledger.forward("beta", p.condition, 100n);
      await ledger.fulfilled("beta", p.condition, p.fulfillment);
    }
    await ledger.forward("beta", doubted.condition, 100n);
    const once = new PaidOnce({ conditions: store0, books: "books-0", log });
    const other = new PaidOnce({ conditions: store1, books: "books-1", log });

    // The store down: the FULFILL's condition waits; a proof cannot be decided.
    await pg.stop("immediate");
    once.paid("beta", booked.condition);
    await once.flush();
    assert(lines.some((l) => l.startsWith("paid conditions not recorded (1 wait")), lines.at(-1));
    const restarted = await openPeerLedger({ stateDir }); // doubted is in doubt now
    const resolver = startInDoubtResolver({
      ledger: restarted,
      key: new Uint8Array(32),
      peer: () => ({
        askInDoubt: () => Promise.resolve([{ fulfillment: doubted.fulfillment }]),
      }),
      holder: () => Promise.resolve(undefined),
      paidOnce: once,
      log,
      intervalMs: 3_600_000, // rounds run by hand
    });
    try {
      await resolver.round();
      assertEquals(resolver.unanswered(), 1, "asked again: the store could not decide it");
      assertEquals(restarted.balance("beta").inDoubt, 100n);

      // Back: the waiting condition is written, the proof decided at the next round.
      await pg.start();
      await once.flush();
      assertEquals(await other.claim("beta", booked.condition), "the town's process books-0");
      await resolver.round();
      assertEquals([resolver.unanswered(), restarted.balance("beta").owed], [0, 300n]);
    } finally {
      resolver.close();
    }
    // A start records again what the books hold fulfilled (a batch lost with a killed process).
    await once.recordHeld(restarted.fulfilledHeld());
    assertEquals(await other.claim("beta", held.condition), "the town's process books-0");
    await Promise.all([once.close(), other.close()]);
  } finally {
    await Promise.all(pools.map((sql) => sql.end()));
    await Deno.remove(stateDir, { recursive: true });
  }
});

Deno.test("paid conditions: a provider asking the process that refused its packet hears owed when another process's books owe the condition, whatever the expiry; in doubt while the store cannot be read", async () => {
  await using pg = await startPostgresServer();
  const url = await freshDatabase(pg.url);
  const sql = postgres(url, { max: 2, onnotice: () => {} });
  const stateDir = await Deno.makeTempDir();
  try {
    const store = await openPostgresPaidConditions(sql);
    const once = new PaidOnce({ conditions: store, books: "books-0", log: () => {} });
    const [paidThere, refused] = [packet(41), packet(42)];
    const expiry = new Date("2026-11-28T19:56:49.927Z");
    // This process refused both packets (beta dropped, T01); another process booked a FULFILL of
    // paidThere's condition, its packet with the same expiry.
    const ledger = await openPeerLedger({ stateDir });
    for (const p of [paidThere, refused]) {
      await ledger.forward("beta", p.condition, 100n, expiry);
      await ledger.rejected("beta", p.condition, "T01");
    }
    const other = new PaidOnce({ conditions: store, books: "books-1", log: () => {} });
    other.paid("beta", paidThere.condition);
    await other.close();
    const answers = createOwedAnswers({
      ledger,
      shared: true,
      held: (account, conditions) => once.held(account, conditions),
    });
    const ask = async () =>
      decodeOwedAnswer(
        await answers(
          "beta",
          encodeOwedQuestion([paidThere.condition, refused.condition], {
            paidExpiresAt: [expiry.getTime(), expiry.getTime()],
          }),
        ),
      );
    assertEquals(await ask(), {
      owed: [paidThere.condition],
      notOwed: [refused.condition],
      inDoubt: [],
    });
    // The store down: nothing said not owed that another process might owe.
    await pg.stop("immediate");
    assertEquals(await ask(), {
      owed: [],
      notOwed: [],
      inDoubt: [paidThere.condition, refused.condition],
    });
    await pg.start();
    await once.close();
  } finally {
    await sql.end();
    await Deno.remove(stateDir, { recursive: true });
  }
});
