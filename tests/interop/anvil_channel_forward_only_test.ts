/**
 * Channels only move forward, on a real anvil with the project's contracts (docs/PROTOCOL.md
 * "Payment channels and claims"): a payer cannot close, nor update during the settle timeout,
 * with a balance proof it signed itself (the first contract took either participant's, so a payer
 * closed with nonce 2^200 and amount 0 and took back every unit it paid); a payee cannot lower
 * what is booked nor take more than was signed; the payee's watcher answers a close that pays it
 * less than its newest claim, and says so; a unilateral close takes what was delivered, not the
 * cover of packets refused after their claim was taken.
 */
import { localEvmAccount } from "../../identity/local_evm_account.ts";
import { assert, assertEquals, assertRejects, assertStringIncludes } from "../../harness/assert.ts";
import { type ChannelPair, startChannelPair } from "../../harness/anvil_channel_pair.ts";
import { aliceClaimSigner, openPairChannel } from "../../harness/pair_channel.ts";
import { increaseTime } from "../../chain/anvil.ts";
import { signBalanceProof } from "../../chain/balance_proof.ts";
import { ChainTxError, type SubmittedProof } from "../../chain/token_network_client.ts";
import { SAFE_TOKEN_NETWORK_VERSION } from "../../chain/token_network_version.ts";
import { syncChannelWithChain } from "../../roles/channels/channel_chain_sync.ts";
import { closeChannelStep } from "../../roles/channels/channel_close.ts";
import type { ChannelRecord } from "../../state/channels/channel_file.ts";
import type { PaymentChannelClaim } from "../../protocol/payment_channel_claim.ts";

const DEPOSIT = 50_000_000n;
const SETTLE_TIMEOUT = 600n;
const HUGE_NONCE = 2n ** 200n;

/** Alice pays bob `count` claims of `each`; bob's record holds the newest. */
async function alicePays(
  pair: ChannelPair,
  record: ChannelRecord,
  count: number,
  each: bigint,
): Promise<ChannelRecord> {
  const signer = aliceClaimSigner(pair, record.channelId, DEPOSIT);
  let claim;
  for (let i = 0; i < count; i++) claim = await signer.pay(each);
  return {
    ...record,
    received: claim!.transferredAmount,
    receivedNonce: claim!.nonce,
    receivedSignature: claim!.signature,
  };
}

/** A proof alice signs for herself: "I paid nothing", with a nonce above any real claim. */
async function aliceSelfProof(pair: ChannelPair, channelId: `0x${string}`) {
  const proof = { channelId, nonce: HUGE_NONCE, transferredAmount: 0n };
  const signature = await signBalanceProof(proof, {
    account: localEvmAccount(pair.aliceKey),
    domain: pair.alice.domain,
  });
  return { nonce: proof.nonce, transferredAmount: 0n, signature } satisfies SubmittedProof;
}

async function settleAfterTimeout(pair: ChannelPair, channelId: `0x${string}`) {
  await increaseTime(pair.anvil.rpcUrl, Number(SETTLE_TIMEOUT) + 1);
  await pair.alice.settleChannel(channelId);
}

Deno.test("a payer's own proof is refused at close; the payee's watcher answers and gets every unit (anvil)", async () => {
  await using pair = await startChannelPair();
  assertEquals(await pair.alice.contractVersion(), SAFE_TOKEN_NETWORK_VERSION);
  const channel = await openPairChannel(pair, { deposit: DEPOSIT, settleTimeout: SETTLE_TIMEOUT });
  const bob = await alicePays(pair, channel.townRecord, 20, 100_000n);
  const [aliceBefore, bobBefore] = [await pair.alice.tokenBalance(), await pair.bob.tokenBalance()];
  const self = await aliceSelfProof(pair, channel.channelId);

  await assertRejects(
    () => pair.alice.closeChannel(channel.channelId, self),
    ChainTxError,
    "NotPartnerProof",
  );
  // She can only close with none of bob's (he never paid her): her side reads nothing paid.
  await pair.alice.closeChannel(channel.channelId);
  const sync = await syncChannelWithChain(bob, pair.bob);
  assert(sync.fields.UpdateTx, "bob answered the close with his newest claim");
  assertStringIncludes(sync.fields.Disputed, "would pay 0 of the 2000000");
  assertStringIncludes(sync.fields.Disputed, "answered");
  assertEquals(sync.record.received, 2_000_000n);
  // Nor can she replace his answer with her own proof during the settle timeout.
  await assertRejects(
    () => pair.alice.updateNonClosingBalanceProof(channel.channelId, self),
    ChainTxError,
    "NotPartnerProof",
  );
  // Another poll of bob's changes nothing and says nothing more.
  const again = await syncChannelWithChain(sync.record, pair.bob);
  assertEquals(again.fields, {});

  await settleAfterTimeout(pair, channel.channelId);
  assertEquals(await pair.alice.tokenBalance() - aliceBefore, DEPOSIT - 2_000_000n);
  assertEquals(await pair.bob.tokenBalance() - bobBefore, 2_000_000n, "bob lost nothing");
});

Deno.test("a payer's own proof cannot replace the payee's close during the timeout (anvil)", async () => {
  await using pair = await startChannelPair();
  const channel = await openPairChannel(pair, { deposit: DEPOSIT, settleTimeout: SETTLE_TIMEOUT });
  const bob = await alicePays(pair, channel.townRecord, 10, 373_000n);
  const bobBefore = await pair.bob.tokenBalance();
  const step = await closeChannelStep({
    client: pair.bob,
    record: bob,
    signer: undefined as never, // not asked: unilateral
    stateDir: await Deno.makeTempDir({ prefix: "forward_only_" }),
    unilateral: true,
    connectPeer: () => Promise.reject(new Error("not asked")),
  });
  assertEquals(step.kind, "closed");
  const self = await aliceSelfProof(pair, channel.channelId);
  await assertRejects(
    () => pair.alice.updateNonClosingBalanceProof(channel.channelId, self),
    ChainTxError,
    "NotPartnerProof",
  );
  const onChain = await pair.bob.getChannel(channel.channelId);
  assertEquals(
    onChain.participants[pair.alice.address.toLowerCase()].transferredAmount,
    3_730_000n,
  );
  await settleAfterTimeout(pair, channel.channelId);
  assertEquals(await pair.bob.tokenBalance() - bobBefore, 3_730_000n, "bob lost nothing");
});

Deno.test("the payee cannot lower what is booked nor take more than was signed (anvil)", async () => {
  await using pair = await startChannelPair();
  const channel = await openPairChannel(pair, { deposit: DEPOSIT, settleTimeout: SETTLE_TIMEOUT });
  const signer = aliceClaimSigner(pair, channel.channelId, DEPOSIT);
  const claims: PaymentChannelClaim[] = [];
  for (let i = 0; i < 5; i++) claims.push(await signer.pay(100_000n));
  await assertRejects(
    () => pair.bob.closeChannel(channel.channelId, { ...claims[1], taken: 200_001n }),
    ChainTxError,
    "TakenAboveSigned",
  );
  // Bob's own signature is no evidence either (he would raise what he was paid with it).
  const bobSelf = await signBalanceProof(
    { channelId: channel.channelId, nonce: 9n, transferredAmount: 0n },
    { account: localEvmAccount(pair.bobKey), domain: pair.bob.domain },
  );
  await assertRejects(
    () =>
      pair.bob.closeChannel(channel.channelId, {
        nonce: 9n,
        transferredAmount: 0n,
        signature: bobSelf,
      }),
    ChainTxError,
    "NotPartnerProof",
  );
  await pair.bob.closeChannel(channel.channelId, claims[2]);
  await assertRejects(
    () => pair.bob.updateNonClosingBalanceProof(channel.channelId, claims[1]),
    ChainTxError,
    "StaleNonce",
  );
  await assertRejects(
    () => pair.bob.updateNonClosingBalanceProof(channel.channelId, { ...claims[4], taken: 1n }),
    ChainTxError,
    "TransferredAmountDecreased",
  );
  await pair.bob.updateNonClosingBalanceProof(channel.channelId, claims[4]);
  const onChain = await pair.bob.getChannel(channel.channelId);
  assertEquals(onChain.participants[pair.alice.address.toLowerCase()].transferredAmount, 500_000n);
});

Deno.test("a unilateral close takes what was delivered, not the refused packets' cover (anvil)", async () => {
  await using pair = await startChannelPair();
  const channel = await openPairChannel(pair, { deposit: DEPOSIT, settleTimeout: SETTLE_TIMEOUT });
  const claimed = await alicePays(pair, channel.townRecord, 8, 4_575_000n);
  // 36,600,000 claimed; 16,600,000 delivered (the rest refused after its claim was taken).
  const bob: ChannelRecord = { ...claimed, receivedForwarded: 16_600_000n };
  const [aliceBefore, bobBefore] = [await pair.alice.tokenBalance(), await pair.bob.tokenBalance()];
  const stateDir = await Deno.makeTempDir({ prefix: "forward_only_" });
  const closed = await closeChannelStep({
    client: pair.bob,
    record: bob,
    signer: undefined as never, // not asked: unilateral
    stateDir,
    unilateral: true,
    connectPeer: () => Promise.reject(new Error("not asked")),
  });
  assertEquals(closed.kind, "closed");
  // The payer's own watcher finds nothing to dispute: it is paid nothing and owes what it got.
  const onChain = await pair.bob.getChannel(channel.channelId);
  assertEquals(
    onChain.participants[pair.alice.address.toLowerCase()].transferredAmount,
    16_600_000n,
  );
  await increaseTime(pair.anvil.rpcUrl, Number(SETTLE_TIMEOUT) + 1);
  const settled = await closeChannelStep({
    client: pair.bob,
    record: closed.record,
    signer: undefined as never,
    stateDir,
    unilateral: true,
    connectPeer: () => Promise.reject(new Error("not asked")),
  });
  assertEquals(settled.kind, "settled");
  if (settled.kind === "settled") {
    assertEquals(settled.record.received, 16_600_000n);
  }
  assertEquals(await pair.bob.tokenBalance() - bobBefore, 16_600_000n, "the town took its books");
  assertEquals(await pair.alice.tokenBalance() - aliceBefore, DEPOSIT - 16_600_000n);
  await Deno.remove(stateDir, { recursive: true });
});
