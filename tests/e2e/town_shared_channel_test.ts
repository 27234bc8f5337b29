/**
 * Payment channel claims on a town of two `turnpike town up` processes over one PostgreSQL
 * database (a real server this file starts) and a real channel on anvil: alice pays writes with
 * one sequence of claims over two connections, one to each process, at once; one process is
 * killed with SIGKILL mid-stream. The shared book (state/postgres/postgres_claim_books.ts) counts every
 * fulfilled unit once and loses none: forwarded is at least what was fulfilled and at most that
 * plus what was unanswered at the kill, and never above the newest claim. A third process takes
 * the last claims, so the survivor's channel file is behind the books; alice then closes the
 * channel on chain with nothing, and the survivor's watcher answers with the books' newest claim
 * (not its own file's). `channel close --store` in the killed process's state dir settles after
 * the timeout, and the chain pays out exactly what the books say.
 */
import { assert, assertEquals } from "../../harness/assert.ts";
import type { ClaimClient } from "../../harness/channel_town.ts";
import { startSharedChannelTown } from "../support/shared_channel_town.ts";
import { guard } from "../support/shared_payout_town.ts";
import { channelFilePath, readChannel } from "../../state/channels/channel_file.ts";
import { increaseTime } from "../../chain/anvil.ts";

const WRITERS_PER_PROCESS = 4;
const WRITES = 200;
const KILL_AFTER = 60;

Deno.test("shared channel: claims on two town processes at once, one SIGKILLed, count once; close settles the books", async () => {
  await using run = await startSharedChannelTown({
    prefix: "shared_channel_",
    processes: 3,
    up: 0,
  });
  const { pair, storeUrl, channel, channelId, town, towns } = run;
  const { bob } = town;
  for (const i of [0, 1]) await guard(run.start(i), () => "town up");
  const clients: ClaimClient[] = [];
  for (const t of towns) {
    // One sequence of claims over both connections.
    clients.push(await guard(run.connect(t, clients[0]), () => "alice connects"));
  }

  let fulfilled = 0n;
  let fulfilledCount = 0;
  let unansweredOnKilled = 0n;
  let largest = 0n;
  let killed = false;
  let next = 0;
  const write = async (i: number): Promise<boolean> => {
    const client = clients[i];
    const event = client.sign(`shared channel note ${next++}`);
    try {
      const { reply, amount } = await client.write(event);
      if (reply.type === "fulfill") {
        fulfilled += amount;
        fulfilledCount++;
        if (amount > largest) largest = amount;
        if (fulfilledCount === KILL_AFTER && !killed) {
          killed = true;
          towns[0].process.child.kill("SIGKILL");
        }
      } else {
        assert(i === 0 && killed, `rejected on process ${i}: ${reply.code} ${reply.message}`);
      }
      return true;
    } catch {
      // The killed process never answered: its claim may or may not have been committed.
      assert(i === 0 && killed, `process ${i} failed to answer before the kill`);
      unansweredOnKilled++;
      return false;
    }
  };
  await guard(
    Promise.all(
      [0, 1].flatMap((i) =>
        Array.from({ length: WRITERS_PER_PROCESS }, async () => {
          while (next < WRITES) {
            if (!(await write(i))) return;
          }
        })
      ),
    ),
    () => "the writes",
  );
  assert(killed, "process 0 was killed mid-stream");
  // A third process takes the last claims, on the same book; the survivor sees none of them.
  const late = await guard(run.start(2), () => "the third town up");
  clients.push(await guard(run.connect(late, clients[0]), () => "alice connects to the third"));
  while (next < WRITES + 30) assert(await guard(write(2), () => "a write on the third process"));
  await clients[2].close();
  await late.stop();

  const book = await run.readBook();
  assert(book !== undefined, "the shared book exists");
  const aliceSent = clients[0].signer.transferred;
  assert(book.forwarded >= fulfilled, `forwarded ${book.forwarded} < fulfilled ${fulfilled}`);
  // The writes the killed process left unanswered may be counted (the peer's cover is short
  // by them, never the town's), each at most the largest price of a write.
  assert(
    book.forwarded <= fulfilled + unansweredOnKilled * largest,
    `forwarded ${book.forwarded} counts more than fulfilled ${fulfilled} + unanswered`,
  );
  assert(book.forwarded <= book.claimed, "never forwarded beyond the claims");
  assert(book.claimed <= aliceSent, "no claim alice did not sign");
  assert(book.claimed >= fulfilled, "every fulfilled unit is claimed");

  for (const c of clients) await c.close().catch(() => {});
  // The survivor's own file is behind the books: the last claims went to the third process.
  const survivorFile = await readChannel(channelFilePath(town.stateDirs[1], channelId));
  assert(survivorFile.receivedNonce < book.nonce, "the survivor's file is behind the books");
  // Alice closes on chain with nothing from bob; the survivor answers with the books' newest.
  await pair.alice.closeChannel(channelId);
  await guard(
    (async () => {
      for (;;) {
        const onChain = await pair.bob.getChannel(channelId);
        if (onChain.participants[pair.alice.address.toLowerCase()]?.nonce === book.nonce) return;
        await new Promise((r) => setTimeout(r, 200));
      }
    })(),
    () => "the survivor submits the books' newest claim",
  );
  await towns[1].stop();
  // From the killed process's state dir, behind too: --store takes the books' claim, settles.
  await increaseTime(pair.anvil.rpcUrl, Number(channel.townRecord.settleTimeout) + 1);
  const settle = await bob.run(["channel", "close", channelId, "--store", storeUrl]);
  assertEquals(settle.code, 0, settle.stderr);
  // Settled at what the books say was delivered, not the cover alice still had at the town.
  const lifted = await readChannel(channelFilePath(bob.stateDir, channelId));
  assertEquals([lifted.receivedNonce, lifted.received], [book.nonce, book.forwarded]);
  await run.assertChainPaid(book.forwarded);
});
