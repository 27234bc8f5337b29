import { localEvmAccount } from "../../identity/local_evm_account.ts";
/**
 * The receiving side rejects bad claims with a precise reason and forwards nothing: tampered
 * claim, replayed nonce, another chain, another contract, beyond the deposit, not covered,
 * credit limit, a channel that is closed. Real anvil, real contracts.
 */
import { assertEquals, assertRejects } from "../../harness/assert.ts";
import { type ChannelPair, startChannelPair } from "../../harness/anvil_channel_pair.ts";
import { signClaim } from "../../chain/claim_signer.ts";
import { type ClaimBook, ClaimVerifier } from "../../chain/claim_verifier.ts";
import { ClaimError, decodeClaim, encodeClaim } from "../../protocol/payment_channel_claim.ts";
import { deployContracts } from "../../chain/anvil.ts";

const DEPOSIT = 1_000_000n;

async function setup(pair: ChannelPair, creditLimit = 0n) {
  const { alice, bob } = pair;
  const { channelId } = await alice.openChannel({
    partner: bob.address,
    deposit: DEPOSIT,
    settleTimeout: 600n,
  });
  const verifier = new ClaimVerifier({
    chainId: pair.chain.chainId,
    tokenNetworkAddress: bob.tokenNetworkAddress,
    tokenAddress: bob.tokenAddress,
    peerAddress: alice.address,
    selfAddress: bob.address,
    readChannel: (id) => bob.getChannel(id),
    creditLimit,
  });
  const base = {
    account: localEvmAccount(pair.aliceKey),
    chainId: pair.chain.chainId,
    tokenNetworkAddress: alice.tokenNetworkAddress,
    tokenAddress: alice.tokenAddress,
    channelId,
  };
  return { channelId, verifier, base };
}

async function rejected(
  verifier: ClaimVerifier,
  claim: Parameters<ClaimVerifier["accept"]>[0],
  amount: bigint,
  reason: string,
): Promise<void> {
  const err = await assertRejects(() => verifier.accept(claim, amount), ClaimError, reason);
  assertEquals((err as ClaimError).reason, reason);
}

function same(a: ClaimBook | undefined, b: ClaimBook | undefined): void {
  assertEquals(a, b, "a rejected claim changes nothing");
}

Deno.test("claim rejections: each with its reason, nothing forwarded", async () => {
  await using pair = await startChannelPair();
  const { channelId, verifier, base } = await setup(pair);
  await rejected(verifier, undefined, 10n, "not-covered");
  await verifier.accept(await signClaim({ ...base, nonce: 1n, transferredAmount: 100n }), 100n);
  const before = verifier.book(channelId);

  // Tampered: amount raised after signing (through the wire codec, as a peer would send it).
  const good = await signClaim({ ...base, nonce: 2n, transferredAmount: 200n });
  const tampered = decodeClaim(
    new TextDecoder().decode(encodeClaim(good)).replace(
      '"transferredAmount":"200"',
      '"transferredAmount":"900"',
    ),
  );
  await rejected(verifier, tampered, 800n, "bad-signature");
  // Signed by someone else (bob signs a claim on alice's channel).
  await rejected(
    verifier,
    await signClaim({
      ...base,
      account: localEvmAccount(pair.bobKey),
      nonce: 2n,
      transferredAmount: 200n,
    }),
    100n,
    "bad-signature",
  );
  same(verifier.book(channelId), before);

  // Replayed nonce: the accepted claim again, and an older nonce with more money.
  await rejected(
    verifier,
    await signClaim({ ...base, nonce: 1n, transferredAmount: 100n }),
    1n,
    "replayed-nonce",
  );
  await verifier.accept(good, 100n);
  await rejected(verifier, good, 0n, "replayed-nonce");
  await rejected(
    verifier,
    await signClaim({ ...base, nonce: 3n, transferredAmount: 150n }),
    0n,
    "amount-decreased",
  );
  const mid = verifier.book(channelId);

  // Another chain, another contract, another token.
  await rejected(
    verifier,
    await signClaim({ ...base, chainId: 84532, nonce: 9n, transferredAmount: 300n }),
    100n,
    "wrong-chain",
  );
  const other = await deployContracts({ rpcUrl: pair.anvil.rpcUrl });
  await rejected(
    verifier,
    await signClaim({
      ...base,
      tokenNetworkAddress: other.tokenNetworkAddress,
      nonce: 9n,
      transferredAmount: 300n,
    }),
    100n,
    "wrong-contract",
  );
  await rejected(
    verifier,
    await signClaim({
      ...base,
      tokenAddress: other.tokenAddress,
      nonce: 9n,
      transferredAmount: 300n,
    }),
    100n,
    "wrong-token",
  );
  // A channel id that does not exist on chain.
  await rejected(
    verifier,
    await signClaim({
      ...base,
      channelId: `0x${"ab".repeat(32)}`,
      nonce: 9n,
      transferredAmount: 300n,
    }),
    100n,
    "unknown-channel",
  );

  // Beyond the deposit.
  await rejected(
    verifier,
    await signClaim({ ...base, nonce: 9n, transferredAmount: DEPOSIT + 1n }),
    100n,
    "beyond-deposit",
  );
  // A valid claim that does not cover the packet.
  await rejected(
    verifier,
    await signClaim({ ...base, nonce: 9n, transferredAmount: 300n }),
    101n,
    "not-covered",
  );
  // A packet without a claim beyond the cover.
  await rejected(verifier, undefined, 1n, "not-covered");
  same(verifier.book(channelId), mid);
  assertEquals(verifier.book(channelId)!.forwarded, 200n);
});

Deno.test("claim rejections: credit limit bounds unclaimed forwarding; closed channel refused", async () => {
  await using pair = await startChannelPair();
  const { channelId, verifier, base } = await setup(pair, 50n);
  await verifier.accept(await signClaim({ ...base, nonce: 1n, transferredAmount: 100n }), 100n);
  const r = await verifier.accept(undefined, 50n);
  assertEquals(r.credit, 50n);
  await rejected(verifier, undefined, 1n, "credit-limit-exceeded");
  assertEquals(verifier.book(channelId)!.forwarded, 150n);
  verifier.release(channelId, 50n);
  assertEquals((await verifier.accept(undefined, 50n)).credit, 50n);

  await pair.alice.closeChannel(channelId);
  verifier.invalidate(channelId);
  await rejected(
    verifier,
    await signClaim({ ...base, nonce: 2n, transferredAmount: 300n }),
    100n,
    "channel-not-open",
  );
});
