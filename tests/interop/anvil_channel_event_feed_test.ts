/**
 * The channel watcher reads a channel when the chain's events name it, not at every poll (real
 * anvil, real contracts, the real TokenNetworkClient and its shared event feed;
 * chain/channel_event_feed.ts): the first poll reads every channel; a poll after blocks with no
 * event of the channel reads none; alice raising her deposit has the next poll read the channel
 * and save the new deposit; every `fullReadEvery` polls every channel is read anyway.
 */
import { assertEquals } from "../../harness/assert.ts";
import { startChannelPair } from "../../harness/anvil_channel_pair.ts";
import { openPairChannel } from "../../harness/pair_channel.ts";
import { startChannelWatcher } from "../../roles/channels/channel_watcher.ts";
import type { ChannelChain } from "../../roles/channels/channel_chain_sync.ts";
import type { ChannelRecord } from "../../state/channels/channel_file.ts";
import { ANVIL_ACCOUNT_KEYS, fundAccount } from "../../chain/anvil.ts";

async function mineBlocks(rpcUrl: string, n: number): Promise<void> {
  const res = await fetch(rpcUrl, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({
      jsonrpc: "2.0",
      id: 1,
      method: "anvil_mine",
      params: [`0x${n.toString(16)}`],
    }),
  });
  const body = await res.json() as { error?: { message: string } };
  if (body.error) throw new Error(`anvil_mine: ${body.error.message}`);
}

Deno.test("the watcher reads a channel on its chain events, and all of them every N polls (anvil)", async () => {
  await using pair = await startChannelPair();
  const channel = await openPairChannel(pair, { deposit: 5_000_000n });
  let record: ChannelRecord = channel.townRecord;
  const reads: string[] = [];
  // The town's real client, each channel read counted.
  const chain: ChannelChain = {
    getChannel: (id) => {
      reads.push(id);
      return pair.bob.getChannel(id);
    },
    chainTime: () => pair.bob.chainTime(),
    updateNonClosingBalanceProof: (id, p) => pair.bob.updateNonClosingBalanceProof(id, p),
    settleChannel: (id) => pair.bob.settleChannel(id),
    channelExisted: (id, tx) => pair.bob.channelExisted(id, tx),
    touchedChannels: (since) => pair.bob.touchedChannels(since),
  };
  const watcher = startChannelWatcher({
    channels: [{
      record: () => record,
      update: (change) => Promise.resolve(record = change(record)),
      chain,
    }],
    intervalMs: 3_600_000, // polled by hand below
    fullReadEvery: 4,
  });
  try {
    // Poll 1: every channel.
    await watcher.check();
    assertEquals(reads.length, 1);
    // A block without any event of the TokenNetwork (a token transfer), 1.1 s later (the feed
    // shares scans closer than 1 s): nothing read.
    await fundAccount({
      rpcUrl: pair.anvil.rpcUrl,
      tokenAddress: pair.contracts.tokenAddress,
      to: pair.alice.address,
      tokens: 1n,
      wei: 0n,
      minterKey: ANVIL_ACCOUNT_KEYS[0],
    });
    await new Promise((r) => setTimeout(r, 1_100));
    await watcher.check(); // poll 2
    assertEquals(reads.length, 1, "read with no event of its own");
    // Alice raises her deposit: the next poll reads the channel and saves it.
    await pair.alice.setTotalDeposit(channel.channelId, 7_000_000n);
    await mineBlocks(pair.anvil.rpcUrl, 1);
    await new Promise((r) => setTimeout(r, 1_100));
    const changes = await watcher.check(); // poll 3
    assertEquals(reads.length, 2);
    assertEquals(changes.length, 1);
    assertEquals(record.peerDeposit, 7_000_000n);
    // Poll 4: blocks, but no new event (the deposit's is rescanned, not new): no read.
    await mineBlocks(pair.anvil.rpcUrl, 3);
    await new Promise((r) => setTimeout(r, 1_100));
    await watcher.check();
    assertEquals(reads.length, 2);
    // Poll 5 (the 4th after the first full one): every channel, events or not.
    await watcher.check();
    assertEquals(reads.length, 3);
  } finally {
    await watcher.stop();
  }
});
