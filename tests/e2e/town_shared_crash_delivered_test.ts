/**
 * kill -9 a town process on a shared PostgreSQL store while claim-paid writes are in flight,
 * several times: what the shared books say was delivered (`forwarded`, what a cooperative or
 * unilateral close pays the town) is never above the price of the writes the store holds, and
 * never below what the payer saw FULFILLed. The
 * books take a packet's claim at the claim check; the write it pays for commits a moment later,
 * so a kill between the two must not leave the books counting that write as delivered
 * (docs/PROTOCOL.md "Payment channels and claims"; the SQLite town's twin:
 * tests/e2e/channel_crash_delivered_test.ts).
 */
import postgres from "postgres";
import { assert } from "../../harness/assert.ts";
import { startChannelPair } from "../../harness/anvil_channel_pair.ts";
import { connectAlice, prepareSharedChannelTown } from "../support/shared_channel_town.ts";
import { openPairChannel } from "../../harness/pair_channel.ts";
import { freshDatabase } from "../../harness/postgres_database.ts";
import { startPostgresServer } from "../../state/postgres/postgres_server.ts";
import { openPostgresClaimBooks } from "../../state/postgres/postgres_claim_books.ts";
import { channelFilePath, readChannel, saveChannel } from "../../state/channels/channel_file.ts";
import { payWritesUntilKilled, valueOfWrites } from "../../harness/writes_in_flight.ts";

const ROUNDS = 4;
const IN_FLIGHT = 16;

Deno.test("shared channel crash: a town process killed with writes in flight never leaves the shared books counting as delivered a write the store does not hold", async () => {
  await using pair = await startChannelPair();
  await using pg = await startPostgresServer();
  const storeUrl = await freshDatabase(pg.url);
  const channel = await openPairChannel(pair, { deposit: 50_000_000n });
  const { channelId } = channel;
  const dir = await Deno.makeTempDir({ prefix: "shared_crash_delivered_" });
  const aliceDir = `${dir}/alice`;
  const sql = postgres(storeUrl, { max: 1, onnotice: () => {} });
  // Every write sent, by event id, with its price: what the town may count once it stored it.
  const price = new Map<string, bigint>();
  // What the payer saw FULFILLed: each FULFILL waits for the books to count it delivered.
  let fulfilledValue = 0n;
  try {
    const town = await prepareSharedChannelTown({ pair, channelId, storeUrl, dir, processes: 1 });
    await saveChannel(channel.aliceRecord, { stateDir: aliceDir, action: "open" });
    for (let round = 0; round < ROUNDS; round++) {
      const process = await town.start(0);
      try {
        const payer = await connectAlice(process, {
          pair,
          stateDir: aliceDir,
          record: await readChannel(channelFilePath(aliceDir, channelId)),
        });
        try {
          await payWritesUntilKilled({
            payer,
            round,
            inFlight: IN_FLIGHT,
            price,
            kill: () => process.process.child.kill("SIGKILL"),
            onFulfill: (paid) => fulfilledValue += paid,
          });
        } finally {
          await payer.close();
        }
      } finally {
        try {
          process.process.child.kill("SIGKILL");
        } catch {
          // already gone
        }
        await process.process.done.catch(() => {});
      }
      const rows = await sql.unsafe<{ id: string }[]>("SELECT id FROM events");
      const storedValue = valueOfWrites(rows.map((r) => r.id), price);
      const books = await openPostgresClaimBooks({ url: storeUrl });
      const book = await books.read(channelId).finally(() => books.close());
      assert(book !== undefined, "the shared book exists");
      assert(
        book.forwarded <= storedValue,
        `round ${round}: the shared books count ${book.forwarded} delivered, ` +
          `the store holds writes worth ${storedValue} (${
            book.forwarded - storedValue
          } never stored)`,
      );
      assert(
        book.forwarded >= fulfilledValue,
        `round ${round}: ${fulfilledValue} FULFILLed, the books count ${book.forwarded} delivered`,
      );
    }
  } finally {
    await sql.end({ timeout: 1 });
    await Deno.remove(dir, { recursive: true });
  }
});
