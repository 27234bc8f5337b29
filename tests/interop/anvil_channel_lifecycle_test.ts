/**
 * Full payment channel lifecycle on a real anvil with the project's contracts: open, 1,000
 * signed cumulative claims verified by the receiving side (through the BTP claim codec), close
 * with the latest proof, settle; balances on chain equal the off-chain books to the unit. Also
 * the receiver's update after a close with an older claim, and cooperative settle.
 */
import { localEvmAccount } from "../../identity/local_evm_account.ts";
import { assert, assertEquals, assertRejects } from "../../harness/assert.ts";
import { startChannelPair } from "../../harness/anvil_channel_pair.ts";
import { increaseTime } from "../../chain/anvil.ts";
import { ClaimSigner } from "../../chain/claim_signer.ts";
import { ClaimVerifier } from "../../chain/claim_verifier.ts";
import { ChainTxError } from "../../chain/token_network_client.ts";
import { coSignSettle } from "../../harness/pair_channel.ts";
import { decodeClaim, encodeClaim } from "../../protocol/payment_channel_claim.ts";

const DEPOSIT = 50_000_000n; // 50 M2M (6 decimals)
const MINTED = 100_000_000n;
const SETTLE_TIMEOUT = 600n;

Deno.test("anvil channel: open, 1,000 claims, close with the latest, settle; chain equals books", async () => {
  await using pair = await startChannelPair();
  const { alice, bob } = pair;
  const opened = await alice.openChannel({
    partner: bob.address,
    deposit: DEPOSIT,
    settleTimeout: SETTLE_TIMEOUT,
  });
  assertEquals(await alice.channelWith(bob.address), opened.channelId);
  const signer = new ClaimSigner({
    account: localEvmAccount(pair.aliceKey),
    chainId: pair.chain.chainId,
    tokenNetworkAddress: alice.tokenNetworkAddress,
    tokenAddress: alice.tokenAddress,
    channelId: opened.channelId,
    deposit: DEPOSIT,
  });
  let reads = 0;
  const verifier = new ClaimVerifier({
    chainId: pair.chain.chainId,
    tokenNetworkAddress: bob.tokenNetworkAddress,
    tokenAddress: bob.tokenAddress,
    peerAddress: alice.address,
    selfAddress: bob.address,
    readChannel: (id) => {
      reads++;
      return bob.getChannel(id);
    },
  });
  let books = 0n;
  for (let i = 0; i < 1000; i++) {
    const amount = BigInt((i * 7919) % 1000 + 1) * 10n; // 10..10000 base units, deterministic
    const wire = encodeClaim(await signer.pay(amount));
    const accepted = await verifier.accept(decodeClaim(wire), amount);
    assertEquals(accepted.credit, 0n);
    books += amount;
  }
  assertEquals(reads, 1, "the channel is read on chain once, then cached");
  const book = verifier.book(opened.channelId)!;
  assertEquals(book.claimed, books);
  assertEquals(book.forwarded, books);
  assertEquals(book.nonce, 1000n);

  await bob.closeChannel(opened.channelId, {
    nonce: book.nonce,
    transferredAmount: book.claimed,
    signature: book.signature!,
  });
  const closed = await bob.getChannel(opened.channelId);
  assertEquals(closed.state, "closed");
  await assertRejects(
    () => bob.settleChannel(opened.channelId),
    ChainTxError,
    "SettleTimeoutNotOver",
  );
  await increaseTime(pair.anvil.rpcUrl, Number(SETTLE_TIMEOUT) + 1);
  await bob.settleChannel(opened.channelId);
  assertEquals((await bob.getChannel(opened.channelId)).state, "none");
  assertEquals(await alice.tokenBalance(), MINTED - books);
  assertEquals(await bob.tokenBalance(), MINTED + books);
  assertEquals(await alice.tokenBalance(alice.tokenNetworkAddress), 0n);
});

Deno.test("anvil channel: receiver closes with an older claim, then submits the newest; the older is stale", async () => {
  await using pair = await startChannelPair();
  const { alice, bob } = pair;
  const { channelId } = await alice.openChannel({
    partner: bob.address,
    deposit: DEPOSIT,
    settleTimeout: SETTLE_TIMEOUT,
  });
  const signer = new ClaimSigner({
    account: localEvmAccount(pair.aliceKey),
    chainId: pair.chain.chainId,
    tokenNetworkAddress: alice.tokenNetworkAddress,
    tokenAddress: alice.tokenAddress,
    channelId,
    deposit: DEPOSIT,
  });
  const claims = [];
  for (let i = 0; i < 20; i++) claims.push(await signer.pay(100_000n));
  const old = claims[4];
  const newest = claims[19];
  // Bob closes with an older claim of alice's (0.5 M2M instead of 2 M2M): a process of a town
  // whose file was behind its books.
  await bob.closeChannel(channelId, old);
  const afterClose = await bob.getChannel(channelId);
  assertEquals(afterClose.participants[alice.address.toLowerCase()].transferredAmount, 500_000n);
  await bob.updateNonClosingBalanceProof(channelId, newest);
  // Re-submitting the old one now fails: the contract keeps the highest nonce.
  await assertRejects(
    () => bob.updateNonClosingBalanceProof(channelId, old),
    ChainTxError,
    "StaleNonce",
  );
  await increaseTime(pair.anvil.rpcUrl, Number(SETTLE_TIMEOUT) + 1);
  await assertRejects(
    () => bob.updateNonClosingBalanceProof(channelId, newest),
    ChainTxError,
    "SettleTimeoutOver",
  );
  await alice.settleChannel(channelId);
  assertEquals(await alice.tokenBalance(), MINTED - 2_000_000n);
  assertEquals(await bob.tokenBalance(), MINTED + 2_000_000n);
});

Deno.test("anvil channel: cooperative settle pays at once; one channel per pair", async () => {
  await using pair = await startChannelPair();
  const { alice, bob } = pair;
  const { channelId } = await alice.openChannel({
    partner: bob.address,
    deposit: DEPOSIT,
    settleTimeout: SETTLE_TIMEOUT,
  });
  await assertRejects(
    () => bob.openChannel({ partner: alice.address, deposit: 1n, settleTimeout: SETTLE_TIMEOUT }),
    ChainTxError,
    "ChannelExists",
  );
  const settle = {
    channelId,
    participant1: alice.address,
    balance1: DEPOSIT - 1_234n,
    participant2: bob.address,
    balance2: 1_234n,
  };
  const [sig1, sig2] = await coSignSettle(pair, settle);
  await assertRejects(
    () => bob.cooperativeSettle(channelId, settle.balance1, settle.balance2, sig2, sig1),
    ChainTxError,
    "BadSignature",
  );
  await bob.cooperativeSettle(channelId, settle.balance1, settle.balance2, sig1, sig2);
  assertEquals(await alice.tokenBalance(), MINTED - 1_234n);
  assertEquals(await bob.tokenBalance(), MINTED + 1_234n);
  assert((await alice.channelWith(bob.address)).endsWith("0".repeat(64)));
});
