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
import { connectAlice, startSharedChannelTown } from "../support/shared_channel_town.ts";
import { channelFilePath, readChannel } from "../../state/channels/channel_file.ts";
import { payWritesUntilKilled, valueOfWrites } from "../../harness/writes_in_flight.ts";

const ROUNDS = 4;
const IN_FLIGHT = 16;

Deno.test("shared channel crash: a town process killed with writes in flight never leaves the shared books counting as delivered a write the store does not hold", async () => {
  await using run = await startSharedChannelTown({
    prefix: "shared_crash_delivered_",
    processes: 1,
    up: 0,
  });
  const { pair, channelId, aliceDir } = run;
  const sql = postgres(run.storeUrl, { max: 1, onnotice: () => {} });
  // Every write sent, by event id, with its price: what the town may count once it stored it.
  const price = new Map<string, bigint>();
  // What the payer saw FULFILLed: each FULFILL waits for the books to count it delivered.
  let fulfilledValue = 0n;
  try {
    for (let round = 0; round < ROUNDS; round++) {
      const process = await run.town.start(0);
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
      const book = await run.readBook();
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
  }
});
