/**
 * The payer's books of its own channels (state/channels/file_sent_channel_book.ts), the file backend of
 * state/channels/sent_channel_book.ts: resumed from a channel file's `sent` and `sent_nonce` and written
 * back the same way (the file format unchanged), each claim in the file when its update
 * resolves, updates one after the other on the book the previous one left, a refused or
 * backward decision changing nothing, no decision writing nothing, and no book without a file.
 */
import { assertEquals, assertRejects } from "../../../../harness/assert.ts";
import {
  FileSentChannelBook,
  recordSentBook,
} from "../../../../state/channels/file_sent_channel_book.ts";
import { SentBookError } from "../../../../state/channels/sent_channel_book.ts";
import {
  channelFilePath,
  type ChannelRecord,
  readChannel,
  saveChannel,
} from "../../../../state/channels/channel_file.ts";
import { openSentClaimWriter } from "../../../../state/channels/channel_writer.ts";
import { fixtureChannelRecord } from "../../../support/channel_record_fixture.ts";

const CHANNEL = `0x${"c3".repeat(32)}` as const;

const record: ChannelRecord = fixtureChannelRecord({
  channelId: CHANNEL,
  tokenNetworkAddress: `0x${"a1".repeat(20)}`,
  tokenAddress: `0x${"b1".repeat(20)}`,
  selfAddress: `0x${"5e".repeat(20)}`,
  peerAddress: `0x${"be".repeat(20)}`,
  deposit: 100_000n,
}, { sent: 4_000n, sentNonce: 3n, openedAt: "2026-01-01T00:00:00.000Z" });

Deno.test("file sent book: resumed from sent and sent_nonce, each claim in the file when its update resolves, one after the other", async () => {
  const stateDir = await Deno.makeTempDir();
  try {
    await saveChannel(record, { stateDir, action: "open" });
    const books = new FileSentChannelBook([openSentClaimWriter({ stateDir, record })]);
    assertEquals(await books.read(CHANNEL), recordSentBook(record));
    assertEquals(await books.list(), [{ channelId: CHANNEL, nonce: 3n, transferred: 4_000n }]);

    // Ten at once: each decides on the book the one before left.
    const raise = () =>
      books.update(CHANNEL, async (b) => {
        await new Promise((r) => setTimeout(r, 1)); // the signature
        return { ...b, nonce: b.nonce + 1n, transferred: b.transferred + 100n };
      });
    const kept = await Promise.all(Array.from({ length: 10 }, raise));
    assertEquals(kept.map((b) => b.nonce), Array.from({ length: 10 }, (_, i) => BigInt(i + 4)));
    const file = await readChannel(channelFilePath(stateDir, CHANNEL));
    assertEquals([file.sentNonce, file.sent], [13n, 5_000n]);
    assertEquals(books.current(CHANNEL), { channelId: CHANNEL, nonce: 13n, transferred: 5_000n });

    // No decision: the book as it stands, nothing written.
    assertEquals(await books.update(CHANNEL, () => undefined), books.current(CHANNEL));
    // A refused decision and one that goes back change nothing.
    await assertRejects(
      () => books.update(CHANNEL, () => Promise.reject(new RangeError("beyond the deposit"))),
      RangeError,
    );
    await assertRejects(
      () => books.update(CHANNEL, (b) => ({ ...b, nonce: b.nonce, transferred: b.transferred })),
      SentBookError,
    );
    await assertRejects(
      () => books.update(CHANNEL, (b) => ({ ...b, nonce: b.nonce + 1n, transferred: 1n })),
      SentBookError,
    );
    assertEquals(books.current(CHANNEL)?.nonce, 13n);
    assertEquals((await readChannel(channelFilePath(stateDir, CHANNEL))).sentNonce, 13n);

    // A channel it holds no writer for.
    await assertRejects(
      () => books.update(`0x${"d4".repeat(32)}`, (b) => b),
      SentBookError,
    );
    // Resumed after a restart from the file: where it stopped.
    const again = new FileSentChannelBook([
      openSentClaimWriter({
        stateDir,
        record: await readChannel(channelFilePath(stateDir, CHANNEL)),
      }),
    ]);
    assertEquals(await again.read(CHANNEL), {
      channelId: CHANNEL,
      nonce: 13n,
      transferred: 5_000n,
    });
  } finally {
    await Deno.remove(stateDir, { recursive: true });
  }
});
