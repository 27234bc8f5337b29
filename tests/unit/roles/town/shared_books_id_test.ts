/**
 * The key of a town process's books in the shared store (roles/town/shared_books_id.ts): kept in
 * the state dir, so a process started again on another host (a container made again) files its
 * books under the same key, and on a real PostgreSQL the town still owes a peer what its books
 * say, not twice that. A state dir from before the file keeps the key it had; a file that holds
 * no key is refused with an error naming it. A state dir copied from a running process's (its
 * key with it) is refused when its books open, and takes the key once that process is gone.
 */
import { assertEquals, assertRejects, assertStringIncludes } from "../../../../harness/assert.ts";
import {
  BOOKS_ID_FILE,
  BooksIdError,
  sharedBooksId,
} from "../../../../roles/town/shared_books_id.ts";
import { freshDatabase } from "../../../../harness/postgres_database.ts";
import { startPostgresServer } from "../../../../state/postgres/postgres_server.ts";
import { openPostgresPayoutBooks } from "../../../../state/postgres/postgres_payout_books.ts";
import { openPostgresEventStore } from "../../../../state/postgres/postgres_event_store.ts";
import { BooksKeyInUseError } from "../../../../state/postgres/postgres_books_lease.ts";
import { openTownBooks } from "../../../../roles/town/town_books.ts";
import { TownClosers } from "../../../../roles/town/town_stop.ts";

Deno.test("books key: written at the first start as host:path, the same on another host after", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const real = await Deno.realPath(dir);
    // Two parts of one start ask at once (the books and the payouts): one key.
    const [a, b] = await Promise.all([
      sharedBooksId(dir, { hostname: "host-a" }),
      sharedBooksId(dir, { hostname: "host-a" }),
    ]);
    assertEquals([a, b], [`host-a:${real}`, `host-a:${real}`]);
    assertEquals(await Deno.readTextFile(`${dir}/${BOOKS_ID_FILE}`), `host-a:${real}\n`);
    assertEquals(await sharedBooksId(dir, { hostname: "host-b" }), `host-a:${real}`);
    assertEquals(await sharedBooksId(`${dir}/`), `host-a:${real}`);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("books key: a file that holds no key is refused, naming the file", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const path = `${dir}/${BOOKS_ID_FILE}`;
    for (
      const text of ["", "\n", "a\nb\n", "host\u0000:/data", "x".repeat(1_025), "y".repeat(5_000)]
    ) {
      await Deno.writeTextFile(path, text);
      const err = await assertRejects(() => sharedBooksId(dir), BooksIdError);
      assertStringIncludes(err.message, path);
    }
    await Deno.writeTextFile(path, "host-before:/data\r\n");
    assertEquals(await sharedBooksId(dir), "host-before:/data");
    // Written by hand: a byte-order mark and spaces around the key are not part of it.
    await Deno.writeTextFile(path, "\uFEFF host-before:/data \n");
    assertEquals(await sharedBooksId(dir), "host-before:/data");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("books key: a town process started again on another host owes a peer once on PostgreSQL", async () => {
  await using pg = await startPostgresServer();
  const url = await freshDatabase(pg.url);
  const dir = await Deno.makeTempDir();
  const books = await openPostgresPayoutBooks({ url });
  try {
    const peer = "g.town.prov1";
    // The process's ledger owes the peer 5,000; it publishes that under its key.
    const first = await sharedBooksId(dir, { hostname: "container-1" });
    assertEquals((await books.publish(peer, first, 5_000n)).owed, 5_000n);
    // The container is made again: a new host name, the same state dir and ledger.
    const again = await sharedBooksId(dir, { hostname: "container-2" });
    assertEquals(again, first);
    const standing = await books.publish(peer, again, 5_000n);
    assertEquals(standing.owed, 5_000n, "the same books, owed once");
    // A process on another state dir (the town's second process) is other books, added.
    const other = await Deno.makeTempDir();
    try {
      const second = await sharedBooksId(other, { hostname: "container-2" });
      assertEquals((await books.publish(peer, second, 1_000n)).owed, 6_000n);
    } finally {
      await Deno.remove(other, { recursive: true });
    }
  } finally {
    await books.close();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("books key: a state dir copied from a running process's is refused at the books' opening; the key is free once that process stops", async () => {
  await using pg = await startPostgresServer();
  const url = await freshDatabase(pg.url);
  const store = await openPostgresEventStore({ url });
  const first = await Deno.makeTempDir();
  const copy = await Deno.makeTempDir();
  const closers = new TownClosers();
  const config = (stateDir: string) => ({ stateDir, peers: [], storeUrl: url });
  try {
    await openTownBooks(config(first), store, closers);
    // The operator copies the running process's state dir to start a second process.
    await Deno.copyFile(`${first}/${BOOKS_ID_FILE}`, `${copy}/${BOOKS_ID_FILE}`);
    const err = await assertRejects(
      () => openTownBooks(config(copy), store, new TownClosers()),
      BooksKeyInUseError,
    );
    assertStringIncludes(err.message, "remove books_id, peer_ledger.jsonl");
    // Its own books (the file removed): another key, taken.
    await Deno.remove(`${copy}/${BOOKS_ID_FILE}`);
    const own = new TownClosers();
    await openTownBooks(config(copy), store, own);
    await own.stop();
    // The first process stops (or is killed: its session ends): a process on its state dir
    // elsewhere (a container made again) takes the same key.
    await closers.stop();
    await Deno.copyFile(`${first}/${BOOKS_ID_FILE}`, `${copy}/${BOOKS_ID_FILE}`);
    const again = new TownClosers();
    await openTownBooks(config(copy), store, again);
    await again.stop();
  } finally {
    await closers.stop();
    await store.close();
    await Deno.remove(first, { recursive: true });
    await Deno.remove(copy, { recursive: true });
  }
});
