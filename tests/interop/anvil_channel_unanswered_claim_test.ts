/**
 * A payer's newest claim the payee never took (its packet got no answer: the town died with it
 * in flight), on a real anvil with the real contracts. The payer closes on chain, the payee
 * answers with the newest claim it holds, and after the settle the payer's channel file says
 * what the chain paid by, not what it signed: the unanswered claim came back (`Unclaimed` in
 * its audit fields). Both ways a settle happens: the payer settles (`closeChannelStep`), or the
 * payee settles first and the payer's sync finds the channel gone (booked from the logs).
 */
import { localNodeSigner } from "../../identity/local_node_signer.ts";
import { assertEquals, assertRejects } from "../../harness/assert.ts";
import { ChainTxError } from "../../chain/token_network_client.ts";
import { startChannelPair } from "../../harness/anvil_channel_pair.ts";
import {
  aliceClaimSigner,
  coSignSettle,
  openPairChannel,
  savePairChannel,
} from "../../harness/pair_channel.ts";
import { increaseTime } from "../../chain/anvil.ts";
import { closeChannelStep } from "../../roles/channels/channel_close.ts";
import { syncChannelFile, syncChannelWithChain } from "../../roles/channels/channel_chain_sync.ts";
import { openAuditLog } from "../../state/audit/audit_log.ts";
import {
  channelFilePath,
  type ChannelRecord,
  readChannel,
  saveChannel,
} from "../../state/channels/channel_file.ts";

const DEPOSIT = 10_000_000n;
const SETTLE_TIMEOUT = 600n;
const TAKEN = 3;
const PACKET = 24_850n;

for (const settler of ["payer", "payee"] as const) {
  Deno.test(`anvil channel: a claim the payee never took comes back at the settle (${settler} settles)`, async () => {
    await using pair = await startChannelPair();
    const channel = await openPairChannel(pair, {
      deposit: DEPOSIT,
      settleTimeout: SETTLE_TIMEOUT,
    });
    const { channelId } = channel;
    const dir = await Deno.makeTempDir({ prefix: "unanswered_claim_" });
    const aliceState = `${dir}/alice`;
    await savePairChannel(channel, { townDir: `${dir}/town`, aliceDir: aliceState });
    const signer = aliceClaimSigner(pair, channelId, DEPOSIT);
    // Alice signs TAKEN + 1 claims and books each before sending (the sender's order); bob
    // took the first TAKEN, the last one's packet got no answer.
    const claims = [];
    for (let i = 0; i <= TAKEN; i++) claims.push(await signer.pay(PACKET));
    const newest = claims.at(-1)!;
    const held = claims[TAKEN - 1];
    let alice: ChannelRecord = {
      ...channel.aliceRecord,
      sent: newest.transferredAmount,
      sentNonce: newest.nonce,
    };
    await saveChannel(alice, { stateDir: aliceState, action: "update" });
    const aliceBefore = await pair.alice.tokenBalance();
    const bobBefore = await pair.bob.tokenBalance();

    const closed = await closeChannelStep({
      client: pair.alice,
      record: alice,
      signer: localNodeSigner(pair.aliceKey),
      stateDir: aliceState,
      unilateral: true,
      connectPeer: () => Promise.reject(new Error("not asked: unilateral")),
    });
    assertEquals(closed.kind, "closed");
    // Bob answers with the newest claim he holds.
    await pair.bob.updateNonClosingBalanceProof(channelId, held);
    await increaseTime(pair.anvil.rpcUrl, Number(SETTLE_TIMEOUT) + 1);
    alice = await readChannel(channelFilePath(aliceState, channelId));
    const audit = await openAuditLog({ dir: aliceState });
    if (settler === "payer") {
      const step = await closeChannelStep({
        client: pair.alice,
        record: alice,
        signer: localNodeSigner(pair.aliceKey),
        stateDir: aliceState,
        audit,
        connectPeer: () => Promise.reject(new Error("not asked: closed")),
      });
      assertEquals(step.kind, "settled");
    } else {
      await pair.bob.settleChannel(channelId);
      const sync = await syncChannelWithChain(alice, pair.alice);
      assertEquals(sync.action, "settle");
      assertEquals(sync.fields.Unclaimed, `${PACKET}`);
      await syncChannelFile(alice, pair.alice, { stateDir: aliceState, audit });
    }
    await audit.close();
    const after = await readChannel(channelFilePath(aliceState, channelId));
    assertEquals(after.status, "settled");
    // Her books: what bob took, which is what the chain paid him and took from her.
    assertEquals(after.sent, held.transferredAmount);
    assertEquals(await pair.bob.tokenBalance() - bobBefore, held.transferredAmount);
    assertEquals(await pair.alice.tokenBalance() - aliceBefore, DEPOSIT - held.transferredAmount);
    // The claim she signed and the settle gave back: her audit line's Unclaimed.
    const log = await new Deno.Command("git", {
      args: ["-C", aliceState, "log", "-1", "--format=%B"],
    }).output();
    const message = new TextDecoder().decode(log.stdout);
    assertEquals(message.includes(`Unclaimed: ${PACKET}`), true, message);
    await Deno.remove(dir, { recursive: true });
  });
}

Deno.test("anvil channel: the proofs of a settled channel: none after a co-signed settle, asked again while the logs lack the settle", async () => {
  await using pair = await startChannelPair();
  const { alice, bob } = pair;
  const channel = await openPairChannel(pair, { deposit: DEPOSIT, settleTimeout: SETTLE_TIMEOUT });
  const { channelId, openTx } = channel;
  // Not settled yet: its settle is not in the logs (as from an RPC whose logs lag its state).
  await assertRejects(
    () => alice.submittedProofs(channelId, openTx),
    ChainTxError,
    "ChannelSettled",
  );
  const settle = {
    channelId,
    participant1: alice.address,
    balance1: DEPOSIT - 1_000n,
    participant2: bob.address,
    balance2: 1_000n,
  };
  const [sig1, sig2] = await coSignSettle(pair, settle);
  await bob.cooperativeSettle(channelId, settle.balance1, settle.balance2, sig1, sig2);
  // Settled, never closed on chain: no proofs to book by, a synced record keeps its amounts.
  assertEquals(await alice.submittedProofs(channelId, openTx), undefined);
  const record = { ...channel.aliceRecord, sent: 1_000n, sentNonce: 1n };
  const sync = await syncChannelWithChain(record, alice);
  assertEquals([sync.action, sync.record.status, sync.record.sent], ["settle", "settled", 1_000n]);
  assertEquals(sync.fields, {});
});

Deno.test("anvil channel: a channel closed with no proof and settled transferred nothing", async () => {
  await using pair = await startChannelPair();
  const channel = await openPairChannel(pair, { deposit: DEPOSIT, settleTimeout: SETTLE_TIMEOUT });
  await pair.alice.closeChannel(channel.channelId);
  await increaseTime(pair.anvil.rpcUrl, Number(SETTLE_TIMEOUT) + 1);
  await pair.bob.settleChannel(channel.channelId);
  assertEquals(await pair.alice.submittedProofs(channel.channelId, channel.openTx), {});
});
