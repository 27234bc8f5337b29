/**
 * Who settled each payout channel, read from a real anvil's events by channel id
 * (bench/payout_settles.ts): the harness's own transaction, the provider's node (the same key,
 * another transaction), the town's watch winning a race with the provider's settle (both sent,
 * the town's mined first, the provider's reverted), a third address; a channel still closed and
 * one the contract never opened are unexplained. The settles' amounts are what the chain paid the
 * provider (its token balance change).
 */
import { sendPriceySettle, waitForPending } from "../support/anvil_txpool.ts";
import { assert, assertEquals, assertStringIncludes } from "../../harness/assert.ts";
import { startChannelPair, startGasOnlyParty } from "../../harness/anvil_channel_pair.ts";
import { aliceClaimSigner } from "../../harness/pair_channel.ts";
import { anvilRpc, increaseTime } from "../../chain/anvil.ts";
import { TokenNetworkClient } from "../../chain/token_network_client.ts";
import { localEvmAccount } from "../../identity/local_evm_account.ts";
import {
  attributeSettles,
  type PayoutChannel,
  readChannelFacts,
} from "../../bench/payout_settles.ts";

const DEPOSIT = 1_000_000n;
const PAID = 250_000n;
const TIMEOUT = 600n;

Deno.test("payout settles: each attributed by the chain's logs, by channel id (anvil)", async () => {
  await using pair = await startChannelPair();
  const fromBlock = await pair.alice.publicClient.getBlockNumber();
  // The town (alice) opens a payout channel to each provider; bob's carries a claim of PAID.
  const open = async (to: TokenNetworkClient) =>
    (await pair.alice.openChannel({
      partner: to.address,
      deposit: DEPOSIT,
      settleTimeout: TIMEOUT,
    }))
      .channelId;
  // One after the other: one funder's nonces.
  const carol = await startGasOnlyParty(pair);
  const dave = await startGasOnlyParty(pair);
  const erin = await startGasOnlyParty(pair);
  const fred = await startGasOnlyParty(pair);
  const raced = await open(pair.bob);
  const ours = await open(carol.client);
  const byNode = await open(dave.client);
  const byThird = await open(erin.client);
  const stillClosed = await open(fred.client);
  const claim = await aliceClaimSigner(pair, raced, DEPOSIT).pay(PAID);
  const bobBefore = await pair.bob.tokenBalance();
  await pair.bob.closeChannel(raced, {
    nonce: claim.nonce,
    transferredAmount: claim.transferredAmount,
    signature: claim.signature,
  });
  await carol.client.closeChannel(ours);
  await dave.client.closeChannel(byNode);
  await erin.client.closeChannel(byThird);
  await fred.client.closeChannel(stillClosed);
  await increaseTime(pair.anvil.rpcUrl, Number(TIMEOUT) + 1);
  // The race: the provider's settle and the town's are both sent, the town's mined first.
  await anvilRpc(pair.anvil.rpcUrl, "evm_setAutomine", [false]);
  const bobSettle = pair.bob.settleChannel(raced).then(
    () => undefined,
    (err: Error) => err.message.split("\n")[0],
  );
  await waitForPending(pair.anvil.rpcUrl, 1);
  const townTx = await sendPriceySettle(pair, raced);
  await waitForPending(pair.anvil.rpcUrl, 2);
  await anvilRpc(pair.anvil.rpcUrl, "evm_setAutomine", [true]);
  await anvilRpc(pair.anvil.rpcUrl, "evm_mine");
  const refused = await bobSettle;
  assert(refused !== undefined, "the provider's settle, mined second, is refused");
  const harnessTx = await carol.client.settleChannel(ours);
  // The provider's node: the same key, another client, another transaction.
  const daveNode = new TokenNetworkClient({
    chain: pair.chain,
    account: localEvmAccount(dave.key),
  });
  const nodeTx = await daveNode.settleChannel(byNode);
  const thirdTx = await pair.bob.settleChannel(byThird);
  const neverOpened = `0x${"ab".repeat(32)}`;

  const channels: PayoutChannel[] = [
    { channelId: raced, provider: pair.bob.address, refused },
    { channelId: ours, provider: carol.client.address, harnessTx },
    { channelId: byNode, provider: dave.client.address, refused: "WrongChannelState" },
    { channelId: byThird, provider: erin.client.address },
    { channelId: stillClosed, provider: fred.client.address },
    { channelId: neverOpened, provider: pair.bob.address },
  ];
  const facts = await readChannelFacts(
    pair.alice,
    channels.map((c) => c.channelId),
    fromBlock,
  );
  const got = attributeSettles(channels, facts);
  const by = got.map((a) => a.by);
  assertEquals(by, ["town", "harness", "provider", "other", "unexplained", "unexplained"]);
  const [town, harness, node, third, closed, none] = got;
  assert(town.by === "town" && harness.by === "harness" && node.by === "provider");
  assert(third.by === "other" && closed.by === "unexplained" && none.by === "unexplained");
  assertEquals(town.tx, townTx.toLowerCase());
  assertEquals(town.from, pair.alice.address.toLowerCase());
  assertStringIncludes(town.refused ?? "", "settleChannel reverted (tx 0x");
  assertEquals(town.paidToProvider, String(PAID), "the settle paid bob his claim");
  assertEquals(await pair.bob.tokenBalance() - bobBefore, PAID, "his balance change, the same");
  assertEquals(harness.tx, harnessTx.toLowerCase());
  assertEquals(harness.paidToProvider, "0", "closed without a claim: nothing to the provider");
  assertEquals(node.tx, nodeTx.toLowerCase());
  assertEquals(node.from, dave.client.address.toLowerCase());
  assertEquals(third.tx, thirdTx.toLowerCase());
  assertEquals(third.from, pair.bob.address.toLowerCase());
  assertEquals(closed.why, "still closed on chain");
  assertEquals(none.why, "gone from the chain with 0 ChannelSettled logs");
  // One ChannelSettled log per settled channel, though six settles were sent for four.
  assertEquals(facts.map((f) => f.settles.length), [1, 1, 1, 1, 0, 0]);
  assertEquals(facts[0].closers, [pair.bob.address.toLowerCase()]);
});
