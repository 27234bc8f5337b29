/**
 * Two settles of one closed channel at once, on a real anvil with the real contract
 * (roles/channels/channel_settle.ts): the payee's node watches its channel and settles after the
 * timeout while its operator (or a script) runs the close's settle step too. Whichever comes
 * second is refused by the chain; the channel is settled all the same, paid once by the proofs
 * on chain, and the second one books it settled (`SettledBy`) instead of failing:
 * - its transaction mined after the other's (anvil with automatic mining off, both sent, the
 *   other with the higher tip): the watcher's sync (`syncChannelWithChain` with `autoSettle`);
 * - the other mined between our read of the channel and our settle's simulation: the close's
 *   step (`closeChannelStep`);
 * - the other mined between the close's step's two reads of the channel (closed past the
 *   timeout, then gone: its participants read back zero): booked by the proofs in the logs, not
 *   as zero (the payee's `wallet balance` once said `claimed 0, settled 0` after a settle that
 *   paid it);
 * - a settle refused while the channel is still there (before its timeout) is still an error;
 * - a settle refused at its gas estimate (the other pending) names the contract's error, not a
 *   bare `Reverted()` (the simulation's request holds only the function's ABI).
 */
import { sendPriceySettle, waitForPending } from "../support/anvil_txpool.ts";
import { assert, assertEquals, assertRejects, assertStringIncludes } from "../../harness/assert.ts";
import { startChannelPair } from "../../harness/anvil_channel_pair.ts";
import type { ChannelPair } from "../../harness/anvil_channel_pair.ts";
import { closedPairChannel, openPairChannel } from "../../harness/pair_channel.ts";
import { anvilRpc, increaseTime } from "../../chain/anvil.ts";
import { ChainTxError, type TokenNetworkClient } from "../../chain/token_network_client.ts";
import { syncChannelWithChain } from "../../roles/channels/channel_chain_sync.ts";
import { closeChannelStep } from "../../roles/channels/channel_close.ts";
import { settleClosedChannel } from "../../roles/channels/channel_settle.ts";
import { type ChannelRecord, listChannels } from "../../state/channels/channel_file.ts";
import { recordChannel } from "../../state/channels/channel_writer.ts";

const DEPOSIT = 1_000_000n;
const PAID = 250_000n;
const SETTLE_TIMEOUT = 600n;

/** A channel alice paid bob `PAID` over, closed by bob with her claim, its timeout passed. */
async function closedChannel(pair: ChannelPair): Promise<ChannelRecord> {
  const record = await closedPairChannel(pair, {
    deposit: DEPOSIT,
    paid: PAID,
    settleTimeout: SETTLE_TIMEOUT,
  });
  await increaseTime(pair.anvil.rpcUrl, Number(SETTLE_TIMEOUT) + 1);
  return record;
}

/** `client` with its `name` call replaced by `make(client)`'s, every other call its own. */
function withCall<K extends keyof TokenNetworkClient>(
  client: TokenNetworkClient,
  name: K,
  make: (target: TokenNetworkClient) => TokenNetworkClient[K],
): TokenNetworkClient {
  const replaced = make(client);
  return new Proxy(client, {
    get(target, key) {
      if (key === name) return replaced;
      const v = Reflect.get(target, key, target);
      return typeof v === "function" ? v.bind(target) : v;
    },
  });
}

/** `channel close`'s step for a closed channel, unilateral (no peer is asked). */
function closeAlone(client: TokenNetworkClient, record: ChannelRecord, stateDir: string) {
  return closeChannelStep({
    client,
    record,
    signer: undefined as never,
    stateDir,
    unilateral: true,
    connectPeer: () => Promise.reject(new Error("not asked")),
  });
}

Deno.test("a settle mined second is booked settled by the other (the watcher's sync, anvil)", async () => {
  await using pair = await startChannelPair();
  const record = await closedChannel(pair);
  const bobBefore = await pair.bob.tokenBalance();
  const aliceBefore = await pair.alice.tokenBalance();
  // Both settles are sent before either is mined, ours first; the other pays a higher tip, so
  // anvil mines it first and ours is mined after it, reverted.
  await anvilRpc(pair.anvil.rpcUrl, "evm_setAutomine", [false]);
  const watcher = syncChannelWithChain(record, pair.bob, { autoSettle: true });
  await waitForPending(pair.anvil.rpcUrl, 1);
  const theirTx = await sendPriceySettle(pair, record.channelId);
  await waitForPending(pair.anvil.rpcUrl, 2);
  await anvilRpc(pair.anvil.rpcUrl, "evm_setAutomine", [true]);
  await anvilRpc(pair.anvil.rpcUrl, "evm_mine");
  const sync = await watcher;
  const theirs = await pair.alice.publicClient.getTransactionReceipt({ hash: theirTx });
  assertEquals(theirs.status, "success", "the other settle was mined first");
  assertEquals(sync.record.status, "settled");
  assertEquals(sync.action, "settle");
  assertEquals(sync.record.received, PAID, "booked by the proof on chain");
  assertEquals(sync.fields.SettleTx, undefined);
  assertStringIncludes(
    sync.fields.SettledBy,
    "another transaction first (ours: settleChannel reverted (tx 0x",
  );
  // Paid once: bob his claim, alice the rest of her deposit (gas is in ETH, not the token).
  assertEquals(await pair.bob.tokenBalance() - bobBefore, PAID);
  assertEquals(await pair.alice.tokenBalance() - aliceBefore, DEPOSIT - PAID);
  assertEquals((await pair.bob.getChannel(record.channelId)).state, "none");
});

Deno.test("the close's settle step after another settle got in first is settled, not an error (anvil)", async () => {
  await using pair = await startChannelPair();
  const record = await closedChannel(pair);
  const stateDir = await Deno.makeTempDir({ prefix: "settle_race_" });
  const bobBefore = await pair.bob.tokenBalance();
  // The node's watcher settles between the step's read of the channel (closed, timeout over)
  // and its own settle, which the contract then refuses.
  let raced: `0x${string}` | undefined;
  const client = withCall(pair.bob, "settleChannel", (target) => async (id: `0x${string}`) => {
    raced = await pair.alice.settleChannel(id);
    return await target.settleChannel(id);
  });
  const step = await closeAlone(client, record, stateDir);
  assert(raced !== undefined, "the other settle was mined first");
  assertEquals(step.kind, "settled");
  if (step.kind === "settled") {
    assertEquals(step.tx, undefined);
    assertStringIncludes(step.settledBy ?? "", "WrongChannelState");
    assertEquals(step.record.status, "settled");
    assertEquals(step.record.received, PAID);
  }
  assertEquals(await pair.bob.tokenBalance() - bobBefore, PAID);
  await Deno.remove(stateDir, { recursive: true });
});

Deno.test("a settle refused while the channel is still closed on chain is an error (anvil)", async () => {
  await using pair = await startChannelPair();
  const channel = await openPairChannel(pair, { deposit: DEPOSIT, settleTimeout: SETTLE_TIMEOUT });
  await pair.bob.closeChannel(channel.channelId);
  const err = await assertRejects(
    () => settleClosedChannel(pair.bob, channel.channelId, channel.openTx),
    ChainTxError,
  );
  assertEquals(err.reason, "SettleTimeoutNotOver");
});

Deno.test("a settle refused at its gas estimate names the contract's error (anvil)", async () => {
  await using pair = await startChannelPair();
  const record = await closedChannel(pair);
  // The other settle is pending: our simulation (the latest block) passes, the estimate (the
  // pending one) reverts. The channel is still closed on the latest block: an error, named.
  await anvilRpc(pair.anvil.rpcUrl, "evm_setAutomine", [false]);
  await sendPriceySettle(pair, record.channelId);
  await waitForPending(pair.anvil.rpcUrl, 1);
  const err = await assertRejects(() => pair.bob.settleChannel(record.channelId), ChainTxError);
  await anvilRpc(pair.anvil.rpcUrl, "evm_setAutomine", [true]);
  await anvilRpc(pair.anvil.rpcUrl, "evm_mine");
  assertEquals(err.reason, "WrongChannelState", err.message);
  assertStringIncludes(err.message, `WrongChannelState(${record.channelId}, 0)`);
});

Deno.test("the close's settle step after another settle got in between its two reads books the proofs, not zero (anvil)", async () => {
  await using pair = await startChannelPair();
  const record = await closedChannel(pair);
  const stateDir = await Deno.makeTempDir({ prefix: "settle_race_" });
  // The channel file `channel close` books the settle in.
  await recordChannel(record, { stateDir, action: "close" });
  const bobBefore = await pair.bob.tokenBalance();
  // The node's watcher settles after the step read the channel (closed, timeout over) and the
  // chain's clock, before the step reads the channel again: gone, its participants zeroed.
  let raced: `0x${string}` | undefined;
  const client = withCall(pair.bob, "chainTime", (target) => async () => {
    const now = await target.chainTime();
    raced ??= await pair.alice.settleChannel(record.channelId);
    return now;
  });
  const step = await closeAlone(client, record, stateDir);
  assert(raced !== undefined, "the other settle was mined between the step's reads");
  assertEquals(step.kind, "settled");
  if (step.kind === "settled") {
    assertEquals(step.tx, undefined);
    assertStringIncludes(step.settledBy ?? "", "another transaction first");
  }
  assertEquals(step.record.status, "settled");
  assertEquals(step.record.received, PAID, "booked by the proof the settle paid by");
  const [kept] = await listChannels(stateDir);
  assertEquals([kept.status, kept.received], ["settled", PAID], "the file's books");
  assertEquals(await pair.bob.tokenBalance() - bobBefore, PAID);
  await Deno.remove(stateDir, { recursive: true });
});

Deno.test("a channel read while a settle is mined between its calls reads as gone, never as closed and empty (anvil)", async () => {
  await using pair = await startChannelPair();
  const record = await closedChannel(pair);
  // Read alone: closed, with alice's deposit and her claim to bob.
  const before = await pair.bob.getChannel(record.channelId);
  assertEquals(before.state, "closed");
  const alice = before.participants[pair.alice.address.toLowerCase()];
  assertEquals([alice.deposit, alice.transferredAmount], [DEPOSIT, PAID]);
  // The other party's settle is mined right after the channel's own read, before its
  // participants' (the read is three calls): the chain deletes both in between.
  const client = pair.bob.publicClient as { readContract: (a: never) => Promise<unknown> };
  const readContract = client.readContract.bind(client);
  let raced: `0x${string}` | undefined;
  client.readContract = async (args: never) => {
    const answer = await readContract(args);
    if ((args as { functionName: string }).functionName === "getChannel" && raced === undefined) {
      raced = await pair.alice.settleChannel(record.channelId);
    }
    return answer;
  };
  const read = await pair.bob.getChannel(record.channelId);
  assert(raced !== undefined, "the settle was mined between the read's calls");
  const shown = JSON.stringify(read, (_, v) => typeof v === "bigint" ? `${v}` : v);
  assertEquals(read.state, "none", shown);
});
