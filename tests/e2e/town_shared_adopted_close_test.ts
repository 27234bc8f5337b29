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
import {
  loseClaimedPayment,
  LOST_PAYMENT,
  payWrites,
  startSharedChannelTown,
} from "../support/shared_channel_town.ts";
import { increaseTime } from "../../chain/anvil.ts";
import { guard } from "../support/shared_payout_town.ts";

Deno.test("shared learned channel: a close on chain is answered by the process that never took a claim on it, the other gone, at what the books delivered", async () => {
  await using run = await startSharedChannelTown({ prefix: "shared_adopted_close_", learn: true });
  const { pair, channel, channelId, towns } = run;
  const alice = await run.connect(towns[0]);
  const paid = await payWrites([alice], 4, "adopted close note");
  await loseClaimedPayment(alice, towns[0]);
  await alice.close();
  const book = await run.readBook();
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
  await run.assertChainPaid(paid);
});
