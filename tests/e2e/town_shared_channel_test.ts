/**
 * Payment channel claims on a town of two `turnpike town up` processes over one PostgreSQL
 * database (a real server this file starts) and a real channel on anvil: alice pays writes with
 * one sequence of claims over two connections, one to each process, at once; one process is
 * killed with SIGKILL mid-stream. The shared book (state/postgres_claim_books.ts) counts every
 * fulfilled unit once and loses none: forwarded is at least what was fulfilled and at most that
 * plus what was unanswered at the kill, and never above the newest claim. `channel close
 * --store` run in the killed process's state dir closes with the books' newest claim, and after
 * the settle the chain pays out exactly what the books say.
 */
import { assert, assertEquals } from "../support/assert.ts";
import { startChannelPair } from "../support/anvil_channel_pair.ts";
import { BOB_MNEMONIC } from "../support/anvil_channel_pair.ts";
import { chainToml } from "../support/chain_toml.ts";
import { createCliWallet } from "../support/cli_wallet.ts";
import { type CliTown, startCliTown } from "../support/cli_town.ts";
import { type ClaimClient, connectClaimClient } from "../support/channel_town.ts";
import { openPairChannel } from "../support/pair_channel.ts";
import { freshDatabase } from "../support/postgres_database.ts";
import { startPostgresServer } from "../../state/postgres_server.ts";
import { openPostgresClaimBooks } from "../../state/postgres_claim_books.ts";
import { channelFilePath, readChannel, saveChannel } from "../../state/channel_file.ts";
import { increaseTime } from "../../chain/anvil.ts";

const MINTED = 100_000_000n;
const WRITERS_PER_PROCESS = 4;
const WRITES = 240;
const KILL_AFTER = 60;
/** A hang guard, not a wall-clock assertion. */
const GUARD_MS = 60_000;

function guard<T>(promise: Promise<T>, what: string): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out (${GUARD_MS} ms): ${what}`)), GUARD_MS);
  });
  return Promise.race([promise, late]).finally(() => clearTimeout(timer));
}

Deno.test("shared channel: claims on two town processes at once, one SIGKILLed, count once; close settles the books", async () => {
  await using pair = await startChannelPair();
  await using pg = await startPostgresServer();
  const storeUrl = await freshDatabase(pg.url);
  const channel = await openPairChannel(pair, { deposit: 50_000_000n });
  const { channelId } = channel;
  const dir = await Deno.makeTempDir({ prefix: "shared_channel_" });
  const towns: CliTown[] = [];
  const clients: ClaimClient[] = [];
  try {
    const bob = await createCliWallet({
      dir,
      name: "town0",
      mnemonic: BOB_MNEMONIC,
      config: `[store]
url = "${storeUrl}"
processes = 2

[town]
ilp_address = "test.shtown"

[[town.peers]]
account = "alice"
token = "alice-token"
channel = "${channelId}"
credit_limit = "0"

${chainToml(pair)}`,
    });
    const recovered = await bob.run(["channel", "recover"]);
    assertEquals(recovered.code, 0, recovered.stderr);
    // The second process: the same profile copied (docs/OPERATIONS.md), its own state dir.
    const second = `${dir}/town1`;
    await new Deno.Command("cp", { args: ["-a", bob.stateDir, second] }).output();
    for (const stateDir of [bob.stateDir, second]) {
      towns.push(
        await guard(
          startCliTown({ stateDir, secret: bob.secret, ready: (l) => l.includes("settles") }),
          "town up",
        ),
      );
    }
    const aliceDir = `${dir}/alice`;
    await saveChannel(channel.aliceRecord, { stateDir: aliceDir, action: "open" });
    const record = await readChannel(channelFilePath(aliceDir, channelId));
    for (const town of towns) {
      clients.push(
        await guard(
          connectClaimClient({
            url: town.btpUrl,
            townAddress: town.field("ilpAddress"),
            townPubkey: town.field("pubkey"),
            stateDir: aliceDir,
            secretKey: pair.aliceKey,
            record,
            // One sequence of claims over both connections.
            shareClaimsOf: clients[0],
          }),
          "alice connects",
        ),
      );
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
      "the writes",
    );
    assert(killed, "process 0 was killed mid-stream");
    // The survivor takes the rest, claims and all, on the same book.
    while (next < WRITES + 40) assert(await guard(write(1), "a write on the survivor"));

    const books = await openPostgresClaimBooks({ url: storeUrl });
    const book = await books.read(channelId).finally(() => books.close());
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
    await towns[1].stop();
    // Closed from the killed process's state dir: its channel file is behind, the books are not.
    const stale = await readChannel(channelFilePath(bob.stateDir, channelId));
    assert(stale.receivedNonce <= book.nonce);
    const close = await bob.run([
      "channel",
      "close",
      channelId,
      "--unilateral",
      "--store",
      storeUrl,
    ]);
    assertEquals(close.code, 0, close.stderr);
    await increaseTime(pair.anvil.rpcUrl, Number(channel.townRecord.settleTimeout) + 1);
    const settle = await bob.run(["channel", "close", channelId, "--store", storeUrl]);
    assertEquals(settle.code, 0, settle.stderr);
    assertEquals(await pair.bob.tokenBalance(), MINTED + book.claimed, "chain = books");
    assertEquals(await pair.alice.tokenBalance(), MINTED - book.claimed);
  } finally {
    for (const c of clients) await c.close().catch(() => {});
    for (const t of towns) {
      try {
        t.process.child.kill("SIGKILL");
      } catch {
        // already gone
      }
      await t.process.done.catch(() => {});
    }
    await Deno.remove(dir, { recursive: true });
  }
});
