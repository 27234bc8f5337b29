/**
 * Withdraw from an open channel on a real anvil with the project's contracts: both participants
 * sign `Withdraw(channelId, participant, totalWithdraw, expiration)`, the contract pays the
 * difference and refuses a missing or wrong signature, an expired or replayed message and a
 * total beyond the deposit. Afterwards settlement (unilateral and cooperative) shares the
 * deposits minus the withdrawals, and claims beyond `deposit - withdrawn` are refused by both
 * the signer and the verifier.
 */
import { localEvmAccount } from "../../identity/local_evm_account.ts";
import { assertEquals, assertRejects } from "../../harness/assert.ts";
import { type ChannelPair, startChannelPair } from "../../harness/anvil_channel_pair.ts";
import { aliceClaimSigner } from "../../harness/pair_channel.ts";
import { increaseTime } from "../../chain/anvil.ts";
import { signCooperativeSettle, signWithdraw, type Withdraw } from "../../chain/balance_proof.ts";
import { ClaimBeyondDepositError, type ClaimSigner, signClaim } from "../../chain/claim_signer.ts";
import { ClaimVerifier } from "../../chain/claim_verifier.ts";
import { ChainTxError, type TokenNetworkClient } from "../../chain/token_network_client.ts";
import { ClaimError } from "../../protocol/payment_channel_claim.ts";

const DEPOSIT = 50_000_000n; // 50 M2M (6 decimals)
const MINTED = 100_000_000n;
const SETTLE_TIMEOUT = 600n;

type Hex = `0x${string}`;

async function openAliceChannel(pair: ChannelPair): Promise<Hex> {
  const { channelId } = await pair.alice.openChannel({
    partner: pair.bob.address,
    deposit: DEPOSIT,
    settleTimeout: SETTLE_TIMEOUT,
  });
  return channelId;
}

/** The withdraw message, both signatures in the participant-then-partner order the contract takes. */
async function cosigned(
  pair: ChannelPair,
  channelId: Hex,
  who: "alice" | "bob",
  totalWithdraw: bigint,
  expiresIn = 3600n,
) {
  const client = pair[who];
  const withdraw: Withdraw = {
    channelId,
    participant: client.address,
    totalWithdraw,
    expiration: (await client.chainTime()) + expiresIn,
  };
  const [ownKey, partnerKey] = who === "alice"
    ? [pair.aliceKey, pair.bobKey]
    : [pair.bobKey, pair.aliceKey];
  const domain = client.domain;
  return {
    ...withdraw,
    participantSignature: await signWithdraw(withdraw, {
      account: localEvmAccount(ownKey),
      domain,
    }),
    partnerSignature: await signWithdraw(withdraw, {
      account: localEvmAccount(partnerKey),
      domain,
    }),
  };
}

function verifierFor(pair: ChannelPair): ClaimVerifier {
  const { alice, bob } = pair;
  return new ClaimVerifier({
    chainId: pair.chain.chainId,
    tokenNetworkAddress: bob.tokenNetworkAddress,
    tokenAddress: bob.tokenAddress,
    peerAddress: alice.address,
    selfAddress: bob.address,
    readChannel: (id) => bob.getChannel(id),
  });
}

function signerFor(pair: ChannelPair, channelId: Hex, withdrawn = 0n): ClaimSigner {
  return aliceClaimSigner(pair, channelId, DEPOSIT, withdrawn);
}

async function withdrawnOf(client: TokenNetworkClient, channelId: Hex, who: Hex) {
  return (await client.getChannel(channelId)).participants[who.toLowerCase()].withdrawn;
}

Deno.test("anvil withdraw: both signatures pay the participant exactly, cumulatively", async () => {
  await using pair = await startChannelPair();
  const { alice, bob } = pair;
  const channelId = await openAliceChannel(pair);
  assertEquals(await alice.tokenBalance(), MINTED - DEPOSIT);

  const first = await cosigned(pair, channelId, "alice", 10_000_000n);
  // Anyone may submit: bob sends alice's withdraw.
  const tx = await bob.setTotalWithdraw(channelId, first);
  const receipt = await alice.publicClient.getTransactionReceipt({ hash: tx });
  assertEquals(receipt.status, "success");
  assertEquals(await alice.tokenBalance(), MINTED - DEPOSIT + 10_000_000n);
  assertEquals(await alice.tokenBalance(alice.tokenNetworkAddress), DEPOSIT - 10_000_000n);
  assertEquals(await withdrawnOf(alice, channelId, alice.address), 10_000_000n);

  // The total is cumulative: raising it to 12 M2M pays 2 M2M more.
  await alice.setTotalWithdraw(channelId, await cosigned(pair, channelId, "alice", 12_000_000n));
  assertEquals(await alice.tokenBalance(), MINTED - DEPOSIT + 12_000_000n);
  const channel = await alice.getChannel(channelId);
  assertEquals(channel.state, "opened");
  assertEquals(channel.participants[alice.address.toLowerCase()].deposit, DEPOSIT);
  assertEquals(channel.participants[alice.address.toLowerCase()].withdrawn, 12_000_000n);

  const withdraws = (await alice.channelEvents()).filter((e) => e.event === "withdraw");
  assertEquals(withdraws.map((e) => e.args.totalWithdraw), [10_000_000n, 12_000_000n]);
  assertEquals(withdraws.map((e) => String(e.args.participant)), [alice.address, alice.address]);
});

Deno.test("anvil withdraw: missing or wrong signatures, expired, replayed and beyond-deposit revert", async () => {
  await using pair = await startChannelPair();
  const { alice, bob } = pair;
  const channelId = await openAliceChannel(pair);
  const BOB_DEPOSIT = 10_000_000n;
  await bob.setTotalDeposit(channelId, BOB_DEPOSIT);
  const w = await cosigned(pair, channelId, "alice", 5_000_000n);
  const refusals: [string, Parameters<TokenNetworkClient["setTotalWithdraw"]>[1], string][] = [
    ["partner signature missing", { ...w, partnerSignature: "0x" }, "BadSignature"],
    ["participant signature missing", { ...w, participantSignature: "0x" }, "BadSignature"],
    // Alice signing twice: the partner's slot recovers to alice, not bob.
    ["partner slot signed by the participant", {
      ...w,
      partnerSignature: w.participantSignature,
    }, "BadSignature"],
    ["signatures swapped", {
      ...w,
      participantSignature: w.partnerSignature,
      partnerSignature: w.participantSignature,
    }, "BadSignature"],
    ["total changed after signing", { ...w, totalWithdraw: 6_000_000n }, "BadSignature"],
    ["participant changed after signing", { ...w, participant: bob.address }, "BadSignature"],
  ];
  for (const [what, options, reason] of refusals) {
    const err = await assertRejects(() => alice.setTotalWithdraw(channelId, options), ChainTxError);
    assertEquals(err.reason, reason, what);
  }
  const expired = await cosigned(pair, channelId, "alice", 5_000_000n, 60n);
  await increaseTime(pair.anvil.rpcUrl, 61);
  await assertRejects(
    () => alice.setTotalWithdraw(channelId, expired),
    ChainTxError,
    "WithdrawExpired",
  );
  await assertRejects(
    () => alice.setTotalWithdraw(channelId, { ...w, totalWithdraw: DEPOSIT + 1n }),
    ChainTxError,
    "WithdrawBeyondDeposit",
  );
  const beyond = await cosigned(pair, channelId, "alice", DEPOSIT + 1n);
  await assertRejects(
    () => alice.setTotalWithdraw(channelId, beyond),
    ChainTxError,
    "WithdrawBeyondDeposit",
  );
  // Each participant's withdrawals are bounded by its own deposit.
  await assertRejects(
    () =>
      bob.setTotalWithdraw(channelId, {
        ...w,
        participant: bob.address,
        totalWithdraw: BOB_DEPOSIT + 1n,
      }),
    ChainTxError,
    "WithdrawBeyondDeposit",
  );
  assertEquals(await withdrawnOf(alice, channelId, alice.address), 0n);
  assertEquals(await alice.tokenBalance(), MINTED - DEPOSIT);

  const fresh = await cosigned(pair, channelId, "alice", 5_000_000n);
  await alice.setTotalWithdraw(channelId, fresh);
  // Replaying the same message, or an older lower total, pays nothing more.
  await assertRejects(
    () => alice.setTotalWithdraw(channelId, fresh),
    ChainTxError,
    "WithdrawNotIncreased",
  );
  const lower = await cosigned(pair, channelId, "alice", 4_000_000n);
  await assertRejects(
    () => bob.setTotalWithdraw(channelId, lower),
    ChainTxError,
    "WithdrawNotIncreased",
  );
  assertEquals(await alice.tokenBalance(), MINTED - DEPOSIT + 5_000_000n);

  // Closed channels refuse withdrawals.
  const more = await cosigned(pair, channelId, "alice", 6_000_000n);
  await bob.closeChannel(channelId);
  await assertRejects(
    () => alice.setTotalWithdraw(channelId, more),
    ChainTxError,
    "WrongChannelState",
  );
});

Deno.test("anvil withdraw: close + settle after withdrawals pays deposit - withdrawn - transferred", async () => {
  await using pair = await startChannelPair();
  const { alice, bob } = pair;
  const channelId = await openAliceChannel(pair);
  const BOB_DEPOSIT = 20_000_000n;
  await bob.setTotalDeposit(channelId, BOB_DEPOSIT);
  const signer = signerFor(pair, channelId);
  const verifier = verifierFor(pair);
  let books = 0n;
  for (let i = 0; i < 50; i++) {
    const amount = BigInt(i % 7 + 1) * 1_000n;
    await verifier.accept(await signer.pay(amount), amount);
    books += amount;
  }
  // Bob co-signs a withdraw of 10 M2M for alice after checking it leaves her claims covered.
  const ALICE_W = 10_000_000n;
  verifier.noteWithdraw(channelId, ALICE_W);
  await signer.noteWithdraw(ALICE_W);
  await alice.setTotalWithdraw(channelId, await cosigned(pair, channelId, "alice", ALICE_W));
  // Bob (participant2) withdraws too, so both sides of the settle math move.
  const BOB_W = 3_000_000n;
  await bob.setTotalWithdraw(channelId, await cosigned(pair, channelId, "bob", BOB_W));
  for (let i = 0; i < 10; i++) {
    await verifier.accept(await signer.pay(2_500n), 2_500n);
    books += 2_500n;
  }
  const book = verifier.book(channelId)!;
  assertEquals(book.claimed, books);

  await bob.closeChannel(channelId, {
    nonce: book.nonce,
    transferredAmount: book.claimed,
    signature: book.signature!,
  });
  await increaseTime(pair.anvil.rpcUrl, Number(SETTLE_TIMEOUT) + 1);
  await bob.settleChannel(channelId);
  // Chain equals books to the unit: what each wallet holds now is mint - deposit + withdrawn +
  // settle payout.
  assertEquals(
    await alice.tokenBalance(),
    MINTED - DEPOSIT + ALICE_W + (DEPOSIT - ALICE_W - books),
  );
  assertEquals(
    await bob.tokenBalance(),
    MINTED - BOB_DEPOSIT + BOB_W + (BOB_DEPOSIT - BOB_W + books),
  );
  assertEquals(await alice.tokenBalance(alice.tokenNetworkAddress), 0n);
});

Deno.test("anvil withdraw: cooperative settle must count the withdrawals", async () => {
  await using pair = await startChannelPair();
  const { alice, bob } = pair;
  const channelId = await openAliceChannel(pair);
  const W = 10_000_000n;
  await alice.setTotalWithdraw(channelId, await cosigned(pair, channelId, "alice", W));
  const domain = alice.domain;
  const sign = async (balance1: bigint, balance2: bigint) => {
    const settle = {
      channelId,
      participant1: alice.address,
      balance1,
      participant2: bob.address,
      balance2,
    };
    return [
      await signCooperativeSettle(settle, { account: localEvmAccount(pair.aliceKey), domain }),
      await signCooperativeSettle(settle, { account: localEvmAccount(pair.bobKey), domain }),
    ] as const;
  };
  // Balances that ignore the withdraw would pay out tokens the channel no longer holds.
  const [ignore1, ignore2] = await sign(DEPOSIT - 1_234n, 1_234n);
  await assertRejects(
    () => bob.cooperativeSettle(channelId, DEPOSIT - 1_234n, 1_234n, ignore1, ignore2),
    ChainTxError,
    "BalancesDoNotAddUp",
  );
  const [sig1, sig2] = await sign(DEPOSIT - W - 1_234n, 1_234n);
  await bob.cooperativeSettle(channelId, DEPOSIT - W - 1_234n, 1_234n, sig1, sig2);
  assertEquals(await alice.tokenBalance(), MINTED - 1_234n);
  assertEquals(await bob.tokenBalance(), MINTED + 1_234n);
  assertEquals(await alice.tokenBalance(alice.tokenNetworkAddress), 0n);
});

Deno.test("anvil withdraw: claims beyond deposit - withdrawn are refused by signer and verifier", async () => {
  await using pair = await startChannelPair();
  const { alice } = pair;
  const channelId = await openAliceChannel(pair);
  const W = 30_000_000n;
  const CAP = DEPOSIT - W;
  const signer = signerFor(pair, channelId);
  const verifier = verifierFor(pair);
  await verifier.accept(await signer.pay(1_000n), 1_000n); // caches the channel (no withdraw yet)

  // The signer refuses to drop its cap below what it already signed.
  const greedy = signerFor(pair, channelId);
  await greedy.pay(DEPOSIT - W + 1n);
  await assertRejects(() => greedy.noteWithdraw(W), Error, "already claimed");
  assertEquals(greedy.withdrawn, 0n);

  await signer.noteWithdraw(W);
  assertEquals(signer.withdrawn, W);
  await assertRejects(() => signer.pay(CAP), ClaimBeyondDepositError, "minus 30000000 withdrawn");
  const atCap = await signer.pay(CAP - 1_000n);
  assertEquals(atCap.transferredAmount, CAP);

  // A claim past the cap signed by alice's key directly (a peer that ignores its own cap).
  const beyond = await signClaim({
    account: localEvmAccount(pair.aliceKey),
    chainId: pair.chain.chainId,
    tokenNetworkAddress: alice.tokenNetworkAddress,
    tokenAddress: alice.tokenAddress,
    channelId,
    nonce: 5n,
    transferredAmount: CAP + 1n,
  });

  // Noted before the withdraw is mined: the verifier refuses at once even though the chain
  // still shows no withdrawal.
  verifier.noteWithdraw(channelId, W);
  await assertRejects(
    () => verifier.accept(beyond, CAP),
    ClaimError,
    "beyond-deposit",
  );

  // A verifier told nothing learns it from the chain (re-read before refusing).
  await alice.setTotalWithdraw(channelId, await cosigned(pair, channelId, "alice", W));
  const unaware = verifierFor(pair);
  await unaware.accept(await signerFor(pair, channelId).pay(1_000n), 1_000n);
  await assertRejects(
    () => unaware.accept(beyond, CAP),
    ClaimError,
    "beyond-deposit",
  );
  // A claim exactly at the cap is accepted by both.
  await verifier.accept(atCap, CAP - 1_000n);
  assertEquals(verifier.book(channelId)!.claimed, CAP);
  // A resumed verifier (books from the channel file) keeps the cap.
  const resumed = new ClaimVerifier({
    chainId: pair.chain.chainId,
    tokenNetworkAddress: pair.bob.tokenNetworkAddress,
    tokenAddress: pair.bob.tokenAddress,
    peerAddress: alice.address,
    selfAddress: pair.bob.address,
    readChannel: (id) => pair.bob.getChannel(id),
    books: [{ channelId, nonce: 1n, claimed: 1_000n, forwarded: 1_000n, peerWithdrawn: W }],
  });
  await assertRejects(
    () => resumed.accept(beyond, CAP),
    ClaimError,
    "beyond-deposit",
  );
});
