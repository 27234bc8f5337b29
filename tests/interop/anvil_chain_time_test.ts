/**
 * The chain's clock as a settle sees it, on a real anvil that mines only on transactions (as
 * `turnpike chain up` runs it): time passes with no block mined, as on a quiet local chain; a
 * channel closed before is settled by `channel close` once its settle timeout has passed, not
 * left "waiting" until someone else's transaction mines a block (the README's "run it again after
 * the settle timeout").
 */
import { assert, assertEquals } from "../../harness/assert.ts";
import { startChannelPair } from "../../harness/anvil_channel_pair.ts";
import { closedPairChannel } from "../../harness/pair_channel.ts";
import { anvilRpc } from "../../chain/anvil.ts";
import { closeChannelStep } from "../../roles/channels/channel_close.ts";

const DEPOSIT = 1_000_000n;
const PAID = 250_000n;
const SETTLE_TIMEOUT = 600n;

Deno.test("a closed channel settles once its timeout has passed with no block mined since (anvil)", async () => {
  await using pair = await startChannelPair();
  const stateDir = await Deno.makeTempDir({ prefix: "chain_time_" });
  try {
    const record = await closedPairChannel(pair, {
      deposit: DEPOSIT,
      paid: PAID,
      settleTimeout: SETTLE_TIMEOUT,
    });
    const latestBefore = (await pair.bob.publicClient.getBlock()).number;
    // The settle timeout passes and nobody sends a transaction: no block is mined.
    await anvilRpc(pair.anvil.rpcUrl, "evm_increaseTime", [Number(SETTLE_TIMEOUT) + 1]);
    assertEquals((await pair.bob.publicClient.getBlock()).number, latestBefore, "no block mined");
    assert(await pair.bob.chainTime() > record.settleAt, "the next block is past the timeout");
    const bobBefore = await pair.bob.tokenBalance();
    const step = await closeChannelStep({
      client: pair.bob,
      record,
      signer: undefined as never,
      stateDir,
      connectPeer: () => Promise.reject(new Error("not asked: the channel is closed")),
    });
    assertEquals(step.kind, "settled");
    assertEquals(step.record.status, "settled");
    assertEquals(await pair.bob.tokenBalance() - bobBefore, PAID, "bob paid his claim");
  } finally {
    await Deno.remove(stateDir, { recursive: true });
  }
});
