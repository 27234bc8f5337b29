import { localNodeSigner } from "../../identity/local_node_signer.ts";
/**
 * Nodes notice the chain, on a real anvil with the real contracts:
 * - a running town (its channel gates + chain watcher, a real BTP socket) whose peer alice
 *   closes with an older claim than the town holds: within a few polls the town submits its
 *   newest claim on chain, its channel file says closed and paid packets are refused F00;
 *   after the settle timeout the town settles by itself and the on-chain payouts equal the
 *   books to the unit;
 * - a sender (roles/channels/channel_sender.ts) whose town closed the channel: its watcher marks the
 *   file closed and it refuses to sign; a sender started on a channel the chain says is
 *   closed updates the file and refuses to start.
 */
import { getPublicKey } from "nostr-tools";
import { assert, assertEquals, assertRejects, assertStringIncludes } from "../../harness/assert.ts";
import { startChannelPair } from "../../harness/anvil_channel_pair.ts";
import { chainSections } from "../../harness/chain_toml.ts";
import {
  claimTownConfig,
  claimTownContact,
  connectClaimClient,
} from "../../harness/channel_town.ts";
import { openPairChannel, savePairChannel } from "../../harness/pair_channel.ts";
import { increaseTime } from "../../chain/anvil.ts";
import { openTownChannelGates } from "../../roles/town/channels/town_channel_gates.ts";
import { startTownNode } from "../../roles/town/town_node.ts";
import { ChannelSenderError, openChannelSender } from "../../roles/channels/channel_sender.ts";
import type { ChannelChange } from "../../roles/channels/channel_watcher.ts";
import {
  ChannelNotOnChainError,
  syncChannelWithChain,
} from "../../roles/channels/channel_chain_sync.ts";
import { channelFilePath, readChannel, saveChannel } from "../../state/channels/channel_file.ts";

const DEPOSIT = 20_000_000n;
const SETTLE_TIMEOUT = 600n;

async function until<T>(what: string, probe: () => Promise<T | undefined>): Promise<T> {
  for (let i = 0; i < 400; i++) {
    const v = await probe();
    if (v !== undefined) return v;
    await new Promise((r) => setTimeout(r, 25));
  }
  throw new Error(`timed out waiting for ${what}`);
}

Deno.test("the town's watcher answers a close with an old claim, then settles (anvil)", async () => {
  await using pair = await startChannelPair();
  const channel = await openPairChannel(pair, {
    deposit: DEPOSIT,
    settleTimeout: SETTLE_TIMEOUT,
  });
  const { channelId } = channel;
  const dir = await Deno.makeTempDir({ prefix: "channel_watcher_" });
  const townState = `${dir}/town`;
  const aliceState = `${dir}/alice`;
  await savePairChannel(channel, { townDir: townState, aliceDir: aliceState });
  const changes: ChannelChange[] = [];
  const gates = await openTownChannelGates({
    stateDir: townState,
    peerChannels: [{ account: "alice", channelId }],
    chains: chainSections(pair),
    signer: localNodeSigner(pair.bobKey),
    triggeredBy: () => "test.town",
    watchIntervalMs: 50,
    onChannelChange: (_account, change) => changes.push(change),
  });
  const town = await startTownNode({
    config: claimTownConfig({ stateDir: townState }),
    secretKey: pair.bobKey,
    databasePath: ":memory:",
    claimGate: gates.claimGate,
  });
  const alice = await connectClaimClient({
    ...claimTownContact(town),
    stateDir: aliceState,
    secretKey: pair.aliceKey,
    record: channel.aliceRecord,
  });
  try {
    let paid = 0n;
    for (let i = 0; i < 3; i++) {
      const { reply, amount } = await alice.write(alice.sign(`paid note ${i}`));
      assertEquals(reply.type, "fulfill");
      paid += amount;
    }
    const book = gates.gate("alice")!.record();
    assertEquals(book.received, alice.signer.transferred);
    assert(book.received >= paid, `claimed ${book.received} covers ${paid}`);

    // Alice closes with no proof of hers at all (the oldest possible): her side reads nonce 0.
    await pair.alice.closeChannel(channelId);
    const closed = await until("the town to answer the close", async () => {
      const c = await pair.bob.getChannel(channelId);
      return c.participants[pair.alice.address.toLowerCase()].nonce === book.receivedNonce
        ? c
        : undefined;
    });
    assertEquals(closed.state, "closed");
    assertEquals(
      closed.participants[pair.alice.address.toLowerCase()].transferredAmount,
      book.received,
    );
    const townFile = await until("the town's file to say closed", async () => {
      const r = await readChannel(channelFilePath(townState, channelId));
      return r.status === "closed" ? r : undefined;
    });
    assertEquals(townFile.settleAt, closed.settleAt);
    // The owner hears of the change after the file is written: wait for that too.
    const close = await until(
      "the watcher to report the close",
      () => Promise.resolve(changes.find((c) => c.action === "close")),
    );
    assert(close.fields.UpdateTx, "the update transaction is in the audit fields");

    const refused = await alice.write(alice.sign("after the close"));
    assertEquals(refused.reply.type, "reject");
    if (refused.reply.type === "reject") {
      assertEquals(refused.reply.code, "F00");
      assertStringIncludes(refused.reply.message, "channel-not-open");
      assertStringIncludes(refused.reply.message, "closed on chain");
    }

    const [aliceBefore, bobBefore] = await Promise.all([
      pair.alice.tokenBalance(),
      pair.bob.tokenBalance(),
    ]);
    await increaseTime(pair.anvil.rpcUrl, Number(SETTLE_TIMEOUT) + 1);
    await until("the town to settle", async () => {
      const r = await readChannel(channelFilePath(townState, channelId));
      return r.status === "settled" ? r : undefined;
    });
    assertEquals((await pair.bob.getChannel(channelId)).state, "none");
    const [aliceAfter, bobAfter] = await Promise.all([
      pair.alice.tokenBalance(),
      pair.bob.tokenBalance(),
    ]);
    assertEquals(bobAfter - bobBefore, book.received, "the town got exactly its books");
    assertEquals(aliceAfter - aliceBefore, DEPOSIT - book.received, "alice got the rest");
    assertEquals(
      changes.map((c) => c.action).filter((a) => a !== "update"),
      ["close", "settle"],
    );
  } finally {
    await alice.close();
    await town.stop();
    await gates.close();
  }
  try {
    const log = await new Deno.Command("git", {
      args: ["-C", townState, "log", "--format=%B"],
    }).output();
    const history = new TextDecoder().decode(log.stdout);
    assertStringIncludes(history, `turnpike: payment channel ${channelId} closed`);
    assertStringIncludes(history, `turnpike: payment channel ${channelId} settled`);
    assertStringIncludes(history, "UpdateTx: 0x");
    assertStringIncludes(history, "SettleTx: 0x");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("a sender notices the town's close: it stops signing, and refuses to start (anvil)", async () => {
  await using pair = await startChannelPair();
  const { channelId, aliceRecord: record } = await openPairChannel(pair, {
    deposit: DEPOSIT,
    settleTimeout: SETTLE_TIMEOUT,
  });
  const stateDir = await Deno.makeTempDir({ prefix: "channel_sender_watch_" });
  await saveChannel(record, { stateDir, action: "open" });
  const townPubkey = getPublicKey(pair.bobKey);
  const options = {
    stateDir,
    channelId,
    signer: localNodeSigner(pair.aliceKey),
    townPubkey,
    chain: pair.alice,
    watchIntervalMs: 50,
  };
  try {
    const sender = await openChannelSender(options);
    try {
      const claim = await sender.claims.signer.pay(1500n);
      await sender.claims.persist!(claim);
      await pair.bob.closeChannel(channelId, {
        nonce: claim.nonce,
        transferredAmount: claim.transferredAmount,
        signature: claim.signature,
      });
      await until(
        "the sender to notice",
        () => Promise.resolve(sender.sent.record().status === "closed" ? true : undefined),
      );
      const file = await readChannel(channelFilePath(stateDir, channelId));
      assertEquals(file.status, "closed");
      assertEquals(file.sent, 1500n, "the claim written before the close is kept");
      const err = await assertRejects(() => sender.claims.signer.pay(10n), ChannelSenderError);
      assertStringIncludes(err.message, `channel ${channelId} is closed on chain`);
      assertEquals(sender.signer.transferred, 1500n, "nothing more was signed");
    } finally {
      await sender.close();
    }

    // A node started later from a file that missed the close: the file learns it, start refused.
    await saveChannel({ ...record, sent: 1500n, sentNonce: 1n }, { stateDir, action: "test" });
    const refused = await assertRejects(() => openChannelSender(options), ChannelSenderError);
    assertStringIncludes(refused.message, `channel ${channelId} is closed`);
    assertEquals((await readChannel(channelFilePath(stateDir, channelId))).status, "closed");
  } finally {
    await Deno.remove(stateDir, { recursive: true });
  }
});

Deno.test("a channel the contract never opened is not taken for settled (anvil)", async () => {
  await using pair = await startChannelPair();
  const opened = await openPairChannel(pair, { deposit: DEPOSIT, settleTimeout: SETTLE_TIMEOUT });
  const record = (channelId: `0x${string}`, openTx?: `0x${string}`) => ({
    ...opened.aliceRecord,
    channelId,
    openTx,
  });
  // Unknown to this contract (wrong RPC or contract, a restarted anvil): an error, not "settled".
  const stranger = record(`0x${"5a".repeat(32)}`);
  const err = await syncChannelWithChain(stranger, pair.alice).catch((e) => e);
  assert(err instanceof ChannelNotOnChainError, `${err}`);
  assertStringIncludes(err.message, "wrong rpc_url or contract");
  // An opening transaction that is not on this chain: the same.
  const foreignTx = `0x${"77".repeat(32)}` as const;
  assert(!(await pair.alice.channelExisted(opened.channelId, foreignTx)));
  // Settled for real (unilaterally here): known by its opening, by tx or by its log.
  await pair.alice.closeChannel(opened.channelId);
  await increaseTime(pair.anvil.rpcUrl, Number(SETTLE_TIMEOUT) + 1);
  await pair.alice.settleChannel(opened.channelId);
  for (const openTx of [opened.openTx, undefined]) {
    const sync = await syncChannelWithChain(record(opened.channelId, openTx), pair.alice);
    assertEquals(sync.record.status, "settled");
    assertEquals(sync.action, "settle");
  }
});
