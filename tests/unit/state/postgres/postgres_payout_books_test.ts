/**
 * A town's payout books shared by its processes (state/postgres/postgres_payout_books.ts) on a real
 * PostgreSQL server: two books, each with its own connections as two processes would have,
 * open a peer's payout channel at once (it is opened once, the other finds it); record what
 * their own books owe; and decide claims at once: every nonce is signed once, one after the
 * other, the cumulative amount never falls nor passes the deposit, the claims' cover is shared
 * out over the processes' books up to what each owes, and every commit is announced. The same
 * rows are the payer's shared channel book (state/channels/sent_channel_book.ts): updated, read and
 * listed by channel id under the same lock. A channel closed on chain: marked once, no claim
 * decided on it by any process, settled by one of two processes at once, its settle shared over
 * the books.
 */
import { assert, assertEquals, assertRejects } from "../../../../harness/assert.ts";
import {
  SentBookError,
  type SentChannelBook,
} from "../../../../state/channels/sent_channel_book.ts";
import { freshDatabase } from "../../../../harness/postgres_database.ts";
import { startPostgresServer } from "../../../../state/postgres/postgres_server.ts";
import {
  openPostgresPayoutBooks,
  type PayoutChannelRow,
} from "../../../../state/postgres/postgres_payout_books.ts";

const CHANNEL = `0x${"c2".repeat(32)}` as const;
const OPEN_TX = `0x${"0e".repeat(32)}` as const;
/** A hang guard, not a wall-clock assertion. */
const GUARD_MS = 60_000;

function guard<T>(promise: Promise<T>, what: string): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out (${GUARD_MS} ms): ${what}`)), GUARD_MS);
  });
  return Promise.race([promise, late]).finally(() => clearTimeout(timer));
}

Deno.test("payout books: one channel opened, claims decided once per nonce within the deposit, cover shared over the books", async () => {
  await using pg = await startPostgresServer();
  const url = await freshDatabase(pg.url);
  const a = await openPostgresPayoutBooks({ url });
  const b = await openPostgresPayoutBooks({ url });
  try {
    const announced: string[] = [];
    await b.listen((account) => announced.push(account));
    // Both open at once: the advisory lock lets one open, the other finds its row.
    let opens = 0;
    const open = async () => {
      opens++;
      await new Promise((r) => setTimeout(r, 50)); // the chain's transactions
      return {
        channelId: CHANNEL,
        peerAddress: `0x${"be".repeat(20)}` as const,
        chainId: 31337,
        tokenNetworkAddress: `0x${"a1".repeat(20)}` as const,
        tokenAddress: `0x${"b1".repeat(20)}` as const,
        deposit: 100_000n,
        openTx: OPEN_TX,
      };
    };
    const [ca, cb] = await guard(
      Promise.all([a.openOnce("beta", open), b.openOnce("beta", open)]),
      "both open",
    );
    assertEquals(opens, 1, "opened once");
    // The open's transaction kept: the watch's contract check and log range start from it.
    assertEquals([ca.openTx, cb.openTx, (await b.channel("beta"))?.openTx], [
      OPEN_TX,
      OPEN_TX,
      OPEN_TX,
    ]);
    assertEquals([ca.channelId, cb.channelId, ca.nonce, ca.transferred], [
      CHANNEL,
      CHANNEL,
      0n,
      0n,
    ]);

    // Each process's books (published cumulative; a lower figure changes nothing).
    assertEquals(await a.publish("beta", "host:/a", 30_000n), { owed: 30_000n, transferred: 0n });
    assertEquals(await b.publish("beta", "host:/b", 20_000n), { owed: 50_000n, transferred: 0n });
    assertEquals(await b.publish("beta", "host:/b", 10_000n), { owed: 50_000n, transferred: 0n });

    // Twenty claims at once from both, each for 5,000 more (as owed grows): nonces 1..20 each
    // once, amounts rising, capped at what is owed.
    const decided: { nonce: bigint; transferred: bigint }[] = [];
    const claim = (books: typeof a) =>
      books.claim("beta", async (c: PayoutChannelRow, owed: bigint) => {
        await new Promise((r) => setTimeout(r, 1)); // the signature
        const more = c.transferred + 5_000n;
        const target = more < owed ? more : owed;
        if (target <= c.transferred) return undefined;
        const next = { nonce: c.nonce + 1n, transferred: target };
        decided.push(next);
        return next;
      });
    await guard(
      Promise.all(Array.from({ length: 20 }, (_, i) => claim(i % 2 === 0 ? a : b))),
      "the claims",
    );
    assertEquals(decided.map((d) => d.nonce), Array.from({ length: 10 }, (_, i) => BigInt(i + 1)));
    assertEquals(decided.at(-1)?.transferred, 50_000n, "everything owed, once");
    assertEquals((await a.channel("beta"))?.nonce, 10n);
    // The cover: each process's books up to what they owe.
    assertEquals([await a.covered("beta", "host:/a"), await b.covered("beta", "host:/b")], [
      30_000n,
      20_000n,
    ]);

    // Owed beyond the deposit: the claim stops at it.
    await a.publish("beta", "host:/a", 200_000n);
    const capped = await a.claim("beta", (c, owed) =>
      Promise.resolve({
        nonce: c.nonce + 1n,
        transferred: owed < c.deposit ? owed : c.deposit,
      }));
    assertEquals([capped?.nonce, capped?.transferred], [11n, 100_000n]);
    assertEquals(await a.covered("beta", "host:/a"), 80_000n, "the cover left after b's share");
    await guard(
      (async () => {
        while (announced.length < 11) await new Promise((r) => setTimeout(r, 20));
      })(),
      "every commit announced",
    );
    assert(announced.every((x) => x === "beta"), announced.join());
    // No channel: no claim.
    assertEquals(
      await a.claim("carol", () => Promise.resolve({ nonce: 1n, transferred: 1n })),
      undefined,
    );
  } finally {
    await a.close();
    await b.close();
  }
});

Deno.test("payout books as the payer's shared channel book: updates from two processes decided one after the other under the row's lock, a backward claim refused, no row no book", async () => {
  await using pg = await startPostgresServer();
  const url = await freshDatabase(pg.url);
  const a = await openPostgresPayoutBooks({ url });
  const b = await openPostgresPayoutBooks({ url });
  try {
    const book: SentChannelBook = a;
    assertEquals(book.shared, true);
    assertEquals(await book.read(CHANNEL), undefined);
    await assertRejects(() => book.update(CHANNEL, (x) => x), SentBookError);
    await a.openOnce("beta", () =>
      Promise.resolve({
        channelId: CHANNEL,
        peerAddress: `0x${"be".repeat(20)}` as const,
        chainId: 31337,
        tokenNetworkAddress: `0x${"a1".repeat(20)}` as const,
        tokenAddress: `0x${"b1".repeat(20)}` as const,
        deposit: 100_000n,
      }));
    assertEquals(await b.read(CHANNEL), { channelId: CHANNEL, nonce: 0n, transferred: 0n });
    const raise = (books: SentChannelBook) =>
      books.update(CHANNEL, async (x) => {
        await new Promise((r) => setTimeout(r, 1)); // the signature
        return { ...x, nonce: x.nonce + 1n, transferred: x.transferred + 1_000n };
      });
    const kept = await guard(
      Promise.all(Array.from({ length: 10 }, (_, i) => raise(i % 2 === 0 ? a : b))),
      "the updates",
    );
    assertEquals(
      kept.map((x) => x.nonce).sort((x, y) => Number(x - y)),
      Array.from({ length: 10 }, (_, i) => BigInt(i + 1)),
    );
    assertEquals(await b.list(), [{ channelId: CHANNEL, nonce: 10n, transferred: 10_000n }]);
    assertEquals(await a.update(CHANNEL, () => undefined), await a.read(CHANNEL));
    await assertRejects(
      () => b.update(CHANNEL, (x) => ({ ...x, nonce: x.nonce + 1n, transferred: 1n })),
      SentBookError,
    );
    assertEquals((await a.channel("beta"))?.nonce, 10n, "the payout's row is the book");
  } finally {
    await a.close();
    await b.close();
  }
});

Deno.test("payout books: a channel closed on chain carries no claim from any process, is settled by one of two at once, and its settle is shared over the books", async () => {
  await using pg = await startPostgresServer();
  const url = await freshDatabase(pg.url);
  const a = await openPostgresPayoutBooks({ url });
  const b = await openPostgresPayoutBooks({ url });
  try {
    await a.openOnce("beta", () =>
      Promise.resolve({
        channelId: CHANNEL,
        peerAddress: `0x${"be".repeat(20)}` as const,
        chainId: 31337,
        tokenNetworkAddress: `0x${"a1".repeat(20)}` as const,
        tokenAddress: `0x${"b1".repeat(20)}` as const,
        deposit: 100_000n,
      }));
    await a.publish("beta", "host:/a", 5_000n);
    await b.publish("beta", "host:/b", 3_000n);
    const claimed = await a.claim(
      "beta",
      (c, owed) => Promise.resolve({ nonce: c.nonce + 1n, transferred: owed }),
    );
    assertEquals([claimed?.status, claimed?.transferred], ["open", 8_000n]);

    // Closed: marked once; no process decides a claim on it after.
    assertEquals(
      await Promise.all([a.markClosed(CHANNEL, 1_000n), b.markClosed(CHANNEL, 1_000n)])
        .then((marks) => marks.filter(Boolean).length),
      1,
    );
    await b.publish("beta", "host:/b", 4_000n);
    let decided = 0;
    const row = await b.claim("beta", () => Promise.resolve(void decided++));
    assertEquals([decided, row?.status, row?.settleAt, row?.nonce], [0, "closed", 1_000n, 1n]);
    await assertRejects(
      () => a.update(CHANNEL, (x) => ({ ...x, nonce: x.nonce + 1n, transferred: 9_000n })),
      SentBookError,
      "is closed",
    );

    // Both settle at once: one runs the settle (the other skips the row), once.
    let settles = 0;
    const settle = async () => {
      settles++;
      await new Promise((r) => setTimeout(r, 50)); // the settle transaction
      return { settledBy: `0x${"5e".repeat(32)}`, paid: 8_000n };
    };
    const [sa, sb] = await guard(
      Promise.all([a.settleOnce(CHANNEL, settle), b.settleOnce(CHANNEL, settle)]),
      "both settle",
    );
    assertEquals(settles, 1, "one settle");
    const settled = (sa ?? sb)!;
    assertEquals([sa === undefined || sb === undefined, settled.status, settled.paid], [
      true,
      "settled",
      8_000n,
    ]);
    assertEquals(await a.settleOnce(CHANNEL, settle), undefined, "settled: not again");
    assertEquals(settles, 1);
    // The 8,000 paid shared as the claims covered the books: 5,000 and 3,000.
    assertEquals(
      [await a.settledShare("beta", "host:/a"), await b.settledShare("beta", "host:/b")],
      [5_000n, 3_000n],
    );
    assertEquals((await a.channels()).map((c) => c.status), ["settled"], "the row stays");
  } finally {
    await a.close();
    await b.close();
  }
});
