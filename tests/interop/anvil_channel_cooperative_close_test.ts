/**
 * Cooperative close and withdraw over BTP (`payment-channel-cosign`) on a real anvil with the
 * real contracts and a real town BTP server: the payer pays with claims, asks the town to
 * co-sign final balances (or a withdraw), checks the town's signature and submits on chain.
 * Chain balances equal the books to the unit; the town refuses settles below its newest claim,
 * signatures of another key, and withdraws that would uncover signed claims.
 */
import { localNodeSigner } from "../../identity/local_node_signer.ts";
import { localEvmAccount } from "../../identity/local_evm_account.ts";
import { assert, assertEquals, assertStringIncludes } from "../../harness/assert.ts";
import type { ChannelPair } from "../../harness/anvil_channel_pair.ts";
import { createAliceChainWallet } from "../../harness/cli_wallet.ts";
import { deadBtpUrl } from "../support/dead_port.ts";
import { startPaidChannel } from "../support/paid_channel.ts";
import { TokenNetworkClient } from "../../chain/token_network_client.ts";
import { channelRecord } from "../../harness/channel_town.ts";
import { increaseTime } from "../../chain/anvil.ts";
import { signClaim } from "../../chain/claim_signer.ts";
import { channelFilePath, readChannel, saveChannel } from "../../state/channels/channel_file.ts";
import { lockChannel } from "../../state/channels/channel_lock.ts";
import { ChannelCosignError } from "../../protocol/payment_channel_cosign.ts";
import { ClaimError } from "../../protocol/payment_channel_claim.ts";
import {
  requestCooperativeSettle,
  requestWithdraw,
} from "../../roles/channels/channel_cosign_request.ts";
import {
  closeCooperatively,
  withdrawCooperatively,
} from "../../roles/channels/channel_cosign_chain.ts";
import { generateSecretKey } from "nostr-tools";

const DEPOSIT = 50_000_000n;

/** A third party on the chain (a channel partner whose town nobody runs). */
function strangerOn(pair: ChannelPair): TokenNetworkClient {
  return new TokenNetworkClient({
    chain: pair.chain,
    account: localEvmAccount(generateSecretKey()),
  });
}
const MINTED = 100_000_000n;

const setup = () => startPaidChannel({ deposit: DEPOSIT, prefix: "cosign_" });

Deno.test("cooperative close: town co-signs, payer settles at once; chain equals books", async () => {
  await using s = await setup();
  const { pair, channelId } = s;
  await s.pay(20);
  const claimed = s.payer.signer.transferred;
  assert(claimed > 0n);
  const record = s.payer.sent.record();
  assertEquals(record.sent, claimed);

  const started = performance.now();
  const onChain = await pair.alice.getChannel(channelId);
  const agreement = await requestCooperativeSettle({
    peer: s.payer.client,
    record,
    signer: localNodeSigner(pair.aliceKey),
    onChain,
  });
  const requestMs = performance.now() - started;
  // Signed final balances: the town's file says closing and it refuses any further paid packet.
  const townFile = await readChannel(channelFilePath(s.townDir, channelId));
  assertEquals(townFile.status, "closing");
  const { reply } = await s.payer.write(s.payer.sign("one more"));
  assertEquals(reply.type, "reject");
  assert(reply.type === "reject" && /channel-not-open/.test(reply.message), JSON.stringify(reply));

  // Submitting (what closeCooperatively does after the exchange); asking again re-signs.
  const closed = await closeCooperatively({
    peer: s.payer.client,
    chain: pair.alice,
    record,
    signer: localNodeSigner(pair.aliceKey),
    stateDir: s.aliceDir,
  });
  const totalMs = performance.now() - started;
  assertEquals(closed.agreement.settle, agreement.settle);
  assertEquals((await pair.alice.getChannel(channelId)).state, "none");
  assertEquals(await pair.alice.tokenBalance(), MINTED - claimed);
  assertEquals(await pair.bob.tokenBalance(), MINTED + claimed);
  assertEquals((await readChannel(channelFilePath(s.aliceDir, channelId))).status, "settled");

  // Asked again, the town sees ChannelSettled on chain and marks its file settled.
  const again = await requestCooperativeSettle({
    peer: s.payer.client,
    record,
    signer: localNodeSigner(pair.aliceKey),
    onChain,
  }).catch((err) => err);
  assert(again instanceof ChannelCosignError && again.reason === "channel-not-open", `${again}`);
  assertEquals((await readChannel(channelFilePath(s.townDir, channelId))).status, "settled");
  console.log(
    `cooperative close on anvil: co-sign request ${requestMs.toFixed(1)} ms, ` +
      `request + cooperativeSettle (1 tx) ${totalMs.toFixed(1)} ms`,
  );
});

Deno.test("cooperative close: a claim saved but never taken by the town is not paid", async () => {
  await using s = await setup();
  const { pair, channelId } = s;
  await s.pay(5);
  const held = s.payer.sent.record();
  // The sender saves each claim before its packet leaves: one more claim on file that the town
  // never received (its packet refused, or in flight when the town died).
  const NEVER_TAKEN = 4_890n;
  const ahead = { ...held, sent: held.sent + NEVER_TAKEN, sentNonce: held.sentNonce + 1n };
  const closed = await closeCooperatively({
    peer: s.payer.client,
    chain: pair.alice,
    record: ahead,
    signer: localNodeSigner(pair.aliceKey),
    stateDir: s.aliceDir,
  });
  assertEquals(closed.unclaimed, NEVER_TAKEN);
  assertEquals(closed.agreement.transferredAmount, held.sent);
  // The chain moved what the town held, and both files say so: chain equals both books.
  assertEquals(await pair.alice.tokenBalance(), MINTED - held.sent);
  assertEquals(await pair.bob.tokenBalance(), MINTED + held.sent);
  const payerFile = await readChannel(channelFilePath(s.aliceDir, channelId));
  assertEquals([payerFile.status, payerFile.sent], ["settled", held.sent]);
  assertEquals((await readChannel(channelFilePath(s.townDir, channelId))).received, held.sent);
});

Deno.test("cooperative close refused: below the newest claim, wrong key; the gate reopens", async () => {
  await using s = await setup();
  const { pair, channelId } = s;
  await s.pay(5);
  const record = s.payer.sent.record();
  const onChain = await pair.alice.getChannel(channelId);
  const below = await requestCooperativeSettle({
    peer: s.payer.client,
    record: { ...record, sent: record.sent - 1n },
    signer: localNodeSigner(pair.aliceKey),
    onChain,
  }).catch((err) => err);
  assert(below instanceof ChannelCosignError, `${below}`);
  assertEquals([below.reason, below.fromPeer], ["settle-below-claim", true]);

  const stranger = await requestCooperativeSettle({
    peer: s.payer.client,
    record,
    signer: localNodeSigner(generateSecretKey()),
    onChain,
  }).catch((err) => err);
  assert(stranger instanceof ChannelCosignError, `${stranger}`);
  assertEquals(stranger.reason, "bad-signature");

  // Nothing was signed: the channel stays open and paid packets go on.
  assertEquals((await readChannel(channelFilePath(s.townDir, channelId))).status, "open");
  await s.pay(2);
  // A unilateral close + settle, for the figure: 2 transactions and the timeout in between.
  const started = performance.now();
  await pair.alice.closeChannel(channelId);
  const closeMs = performance.now() - started;
  await increaseTime(pair.anvil.rpcUrl, 601);
  const settleStart = performance.now();
  await pair.alice.settleChannel(channelId);
  const settleMs = performance.now() - settleStart;
  console.log(
    `unilateral close on anvil: closeChannel ${closeMs.toFixed(1)} ms + settleChannel ` +
      `${settleMs.toFixed(1)} ms (2 tx, plus the settle timeout)`,
  );
});

Deno.test("withdraw: town co-signs, wallet gets X, claims capped at deposit - X", async () => {
  await using s = await setup();
  const { pair, channelId } = s;
  await s.pay(5);
  const claimed = s.payer.signer.transferred;
  const before = await pair.alice.tokenBalance();
  const X = 10_000_000n;
  const done = await withdrawCooperatively({
    peer: s.payer.client,
    chain: pair.alice,
    record: s.payer.sent.record(),
    signer: localNodeSigner(pair.aliceKey),
    stateDir: s.aliceDir,
    amount: X,
    claims: s.payer.signer,
    writer: s.payer.sent,
  });
  assertEquals(await pair.alice.tokenBalance(), before + X);
  assertEquals(done.record.withdrawn, X);
  assertEquals((await readChannel(channelFilePath(s.aliceDir, channelId))).withdrawn, X);
  assertEquals((await readChannel(channelFilePath(s.townDir, channelId))).peerWithdrawn, X);
  assertEquals(
    (await pair.alice.getChannel(channelId)).participants[
      pair.alice.address.toLowerCase()
    ].withdrawn,
    X,
  );
  // Paid packets go on (their claim writes keep the withdraw in the file); a claim beyond
  // deposit - X is refused by the town's verifier.
  await s.pay(2);
  assertEquals((await readChannel(channelFilePath(s.aliceDir, channelId))).withdrawn, X);
  const over = await signClaim({
    account: localEvmAccount(pair.aliceKey),
    chainId: pair.chain.chainId,
    tokenNetworkAddress: pair.alice.tokenNetworkAddress,
    tokenAddress: pair.alice.tokenAddress,
    channelId,
    nonce: s.payer.signer.nonce + 1n,
    transferredAmount: DEPOSIT - X + 1n,
  });
  const refused = await s.town.gate.verifier.accept(over, 0n).catch((err) => err);
  assert(refused instanceof ClaimError && refused.reason === "beyond-deposit", `${refused}`);
  // A withdraw that would leave less than the claims signed is refused by the town.
  const record = s.payer.sent.record();
  const uncover = await requestWithdraw({
    peer: s.payer.client,
    record,
    signer: localNodeSigner(pair.aliceKey),
    onChain: await pair.alice.getChannel(channelId),
    totalWithdraw: DEPOSIT - record.sent + 1n,
    expiration: (await pair.alice.chainTime()) + 600n,
  }).catch((err) => err);
  assert(uncover instanceof ChannelCosignError, `${uncover}`);
  assertEquals(uncover.reason, "withdraw-uncovers-claims");
  assert(claimed <= record.sent);
  // Close cooperatively after the withdraw: the balances account for it, chain equals books.
  await closeCooperatively({
    peer: s.payer.client,
    chain: pair.alice,
    record: s.payer.sent.record(),
    signer: localNodeSigner(pair.aliceKey),
    stateDir: s.aliceDir,
  });
  const paid = s.payer.signer.transferred;
  assertEquals(await pair.alice.tokenBalance(), MINTED - paid);
  assertEquals(await pair.bob.tokenBalance(), MINTED + paid);
  assertEquals((await pair.alice.getChannel(channelId)).state, "none");
});

Deno.test("turnpike channel close (real CLI): cooperative with the town, unilateral when it is unreachable", async () => {
  await using s = await setup();
  const { pair, channelId } = s;
  await s.pay(3);
  await s.payer.close();
  const dir = await Deno.makeTempDir({ prefix: "cosign_cli_" });
  try {
    const wallet = await createAliceChainWallet(pair, dir);
    const state = wallet.stateDir;
    const cli = (...args: string[]) => wallet.run(args);
    // The payer's channel file, as the node that paid left it.
    await saveChannel(s.payer.sent.record(), { stateDir: state, action: "open" });
    const paid = s.payer.sent.record().sent;

    // A second channel, whose town is unreachable: the CLI says why and closes unilaterally.
    const stranger = strangerOn(pair);
    const other = await pair.alice.openChannel({
      partner: stranger.address,
      deposit: 1_000_000n,
      settleTimeout: 600n,
    });
    await saveChannel(
      channelRecord({
        self: pair.alice,
        peer: stranger,
        channelId: other.channelId,
        deposit: 1_000_000n,
      }),
      { stateDir: state, action: "open" },
    );
    const fallback = await cli(
      "channel",
      "close",
      other.channelId,
      "--connector-btp-url",
      deadBtpUrl(),
    );
    assertEquals(fallback.code, 0, fallback.stderr);
    assertStringIncludes(fallback.stderr, "Error: the peer did not co-sign the final balances");
    assertStringIncludes(fallback.stderr, "(peer unavailable)");
    assertStringIncludes(fallback.stdout, "(unilateral)");
    assertEquals((await pair.alice.getChannel(other.channelId)).state, "closed");

    const closeArgs = [
      "channel",
      "close",
      channelId,
      "--connector-btp-url",
      `btp+ws://127.0.0.1:${s.town.town.btpPort}`,
      "--btp-token",
      "alice-token",
    ];
    // While another process pays over the channel (here: this one holds its lock) the CLI
    // refuses to sign final balances, and nothing changes on chain.
    const held = await lockChannel(state, channelId);
    const busy = await cli(...closeArgs);
    await held.release();
    assertEquals(busy.code, 1, busy.stderr);
    assertStringIncludes(busy.stderr, `in use by another process (pid ${Deno.pid})`);
    assertEquals((await pair.alice.getChannel(channelId)).state, "opened");
    const coop = await cli(...closeArgs);
    assertEquals(coop.code, 0, coop.stderr);
    assertStringIncludes(coop.stdout, "Network: local anvil");
    assertStringIncludes(coop.stdout, "cooperatively");
    assertEquals((await pair.alice.getChannel(channelId)).state, "none");
    assertEquals((await readChannel(channelFilePath(state, channelId))).status, "settled");
    assertEquals(await pair.bob.tokenBalance(), MINTED + paid);
    // Alice got back her deposit minus what she paid; the other channel's deposit is still locked.
    assertEquals(await pair.alice.tokenBalance(), MINTED - paid - 1_000_000n);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
