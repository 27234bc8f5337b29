/**
 * A close on chain of a channel only one process of a town on two `turnpike town up` processes
 * over one PostgreSQL database (a real server this file starts) ever took a claim on, on a real
 * anvil: the town learns channels from their first claim, alice's claims all went to process A,
 * one of her packets was refused after its claim was taken, and A is SIGKILLed for good. Alice
 * closes the channel on chain with nothing; B, which never took a claim on it, watches the
 * channels of the shared books too (roles/town/channels/town_channel_registry.ts `adoptFromBooks`)
 * and answers the close with the books' newest claim, taking what the town delivered; after the
 * settle timeout the chain pays the town exactly that: chain = books. Before, only A watched the
 * channel, so nobody answered and the chain paid the town nothing of it.
 */
import { assertEquals } from "../../harness/assert.ts";
import { startChannelPair } from "../../harness/anvil_channel_pair.ts";
import type { CliTown } from "../../harness/cli_town.ts";
import { type ClaimClient, unfulfillablePayment } from "../../harness/channel_town.ts";
import { openPairChannel } from "../../harness/pair_channel.ts";
import { connectAlice, prepareSharedChannelTown } from "../support/shared_channel_town.ts";
import { freshDatabase } from "../../harness/postgres_database.ts";
import { startPostgresServer } from "../../state/postgres/postgres_server.ts";
import { openPostgresClaimBooks } from "../../state/postgres/postgres_claim_books.ts";
import { channelFilePath, readChannel, saveChannel } from "../../state/channels/channel_file.ts";
import { increaseTime } from "../../chain/anvil.ts";
import { guard } from "../support/shared_payout_town.ts";

const MINTED = 100_000_000n;
/** Far more than one write: the packet refused after its claim was taken. */
const LOST_PAYMENT = 20_000n;

Deno.test("shared learned channel: a close on chain is answered by the process that never took a claim on it, the other gone, at what the books delivered", async () => {
  await using pair = await startChannelPair();
  await using pg = await startPostgresServer();
  const storeUrl = await freshDatabase(pg.url);
  const channel = await openPairChannel(pair, { deposit: 50_000_000n });
  const { channelId } = channel;
  const dir = await Deno.makeTempDir({ prefix: "shared_adopted_close_" });
  const towns: CliTown[] = [];
  let alice: ClaimClient | undefined;
  try {
    const town = await prepareSharedChannelTown({
      pair,
      channelId,
      storeUrl,
      dir,
      processes: 2,
      learn: true,
    });
    for (const i of [0, 1]) towns.push(await town.start(i));
    const aliceDir = `${dir}/alice`;
    await saveChannel(channel.aliceRecord, { stateDir: aliceDir, action: "open" });
    alice = await connectAlice(towns[0], {
      pair,
      stateDir: aliceDir,
      record: await readChannel(channelFilePath(aliceDir, channelId)),
    });
    let paid = 0n;
    for (let i = 0; i < 4; i++) {
      const { reply, amount } = await alice.write(alice.sign(`adopted close note ${i}`));
      assertEquals(reply.type, "fulfill", JSON.stringify(reply));
      paid += amount;
    }
    const lost = await alice.client.sendPrepare(
      unfulfillablePayment(`${towns[0].field("ilpAddress")}.nobody`, LOST_PAYMENT),
    );
    assertEquals(lost.type === "reject" && lost.code, "F02");
    await alice.close();
    alice = undefined;
    const books = await openPostgresClaimBooks({ url: storeUrl });
    const book = await books.read(channelId).finally(() => books.close());
    assertEquals([book?.claimed, book?.forwarded], [paid + LOST_PAYMENT, paid]);

    // A is gone for good; alice closes on chain with nothing of the town's.
    towns[0].process.child.kill("SIGKILL");
    await towns[0].process.done.catch(() => {});
    await pair.alice.closeChannel(channelId);
    // B answers within its watch interval (1 s here): alice's side on chain takes the books'
    // newest nonce, at what was delivered.
    const answered = await guard(
      (async () => {
        for (;;) {
          const onChain = await pair.alice.getChannel(channelId);
          const mine = onChain.participants[pair.alice.address.toLowerCase()];
          if (mine !== undefined && mine.nonce > 0n) return mine;
          await new Promise((r) => setTimeout(r, 200));
        }
      })(),
      () => "process B answering alice's close on chain",
    );
    assertEquals([answered.nonce, answered.transferredAmount], [book?.nonce, paid]);
    await increaseTime(pair.anvil.rpcUrl, Number(channel.townRecord.settleTimeout) + 1);
    // B settles it (autoSettle) at its next poll.
    while ((await pair.alice.getChannel(channelId)).state !== "none") {
      await new Promise((r) => setTimeout(r, 200));
    }
    // Chain = books: bob got what the town delivered, alice the rest (the refused cover too).
    assertEquals(await pair.bob.tokenBalance(), MINTED + paid);
    assertEquals(await pair.alice.tokenBalance(), MINTED - paid);
  } finally {
    await alice?.close().catch(() => {});
    for (const t of towns) await t.stop().catch(() => {});
    await Deno.remove(dir, { recursive: true });
  }
});
