/**
 * The chain's clock as a settle sees it, on a real anvil that mines only on transactions (as
 * `turnpike chain up` runs it): time passes with no block mined, as on a quiet local chain; a
 * channel closed before is settled by `channel close` once its settle timeout has passed, not
 * left "waiting" until someone else's transaction mines a block (the README's "run it again after
 * the settle timeout").
 */
import { assert, assertEquals } from "../support/assert.ts";
import { startChannelPair } from "../support/anvil_channel_pair.ts";
import { aliceClaimSigner, openPairChannel } from "../support/pair_channel.ts";
import { anvilRpc } from "../../chain/anvil.ts";
import { closeChannelStep } from "../../roles/channels/channel_close.ts";
import type { ChannelRecord } from "../../state/channel_file.ts";

const DEPOSIT = 1_000_000n;
const PAID = 250_000n;
const SETTLE_TIMEOUT = 600n;

Deno.test("a closed channel settles once its timeout has passed with no block mined since (anvil)", async () => {
  await using pair = await startChannelPair();
  const stateDir = await Deno.makeTempDir({ prefix: "chain_time_" });
  try {
    const channel = await openPairChannel(pair, {
      deposit: DEPOSIT,
      settleTimeout: SETTLE_TIMEOUT,
    });
    const claim = await aliceClaimSigner(pair, channel.channelId, DEPOSIT).pay(PAID);
    await pair.bob.closeChannel(channel.channelId, {
      nonce: claim.nonce,
      transferredAmount: claim.transferredAmount,
      signature: claim.signature,
    });
    const closed = await pair.bob.getChannel(channel.channelId);
    const record: ChannelRecord = {
      ...channel.townRecord,
      openTx: channel.openTx,
      received: claim.transferredAmount,
      receivedNonce: claim.nonce,
      receivedSignature: claim.signature,
      status: "closed",
      settleAt: closed.settleAt,
    };
    const latestBefore = (await pair.bob.publicClient.getBlock()).number;
    // The settle timeout passes and nobody sends a transaction: no block is mined.
    await anvilRpc(pair.anvil.rpcUrl, "evm_increaseTime", [Number(SETTLE_TIMEOUT) + 1]);
    assertEquals((await pair.bob.publicClient.getBlock()).number, latestBefore, "no block mined");
    assert(await pair.bob.chainTime() > closed.settleAt, "the next block is past the timeout");
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
