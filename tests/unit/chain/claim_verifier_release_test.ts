/**
 * Cover given back by a REJECT (chain/claim_verifier.ts `release`, on a process's own books,
 * state/channels/file_channel_book.ts) is never lost to another packet's claim being booked at
 * that moment: a town under load answers one packet while it books the next one's claim, and
 * the refused packet then counted as delivered (the payer paid on chain for a write the town
 * never stored). Real verifier, real signed claims; the chain read is a fixture.
 */
import { assertEquals } from "../../../harness/assert.ts";
import { ClaimVerifier } from "../../../chain/claim_verifier.ts";
import { signClaim } from "../../../chain/claim_signer.ts";
import { FileChannelBook } from "../../../state/channels/file_channel_book.ts";
import { localEvmAccount } from "../../../identity/local_evm_account.ts";
import { generateSecretKey } from "nostr-tools";
import type { OnChainChannel } from "../../../chain/token_network_client.ts";

const CHANNEL = `0x${"c1".repeat(32)}` as const;
const TOKEN_NETWORK = `0x${"a1".repeat(20)}` as const;
const TOKEN = `0x${"b1".repeat(20)}` as const;
const peer = localEvmAccount(generateSecretKey());
const self = localEvmAccount(generateSecretKey());

function channelOnChainFixture(): Promise<OnChainChannel> {
  return Promise.resolve({
    channelId: CHANNEL,
    state: "opened",
    participant1: peer.address,
    participant2: self.address,
    settleTimeout: 600n,
    settleAt: 0n,
    closer: `0x${"00".repeat(20)}`,
    participants: {
      [peer.address.toLowerCase()]: {
        deposit: 1_000_000n,
        transferredAmount: 0n,
        nonce: 0n,
        withdrawn: 0n,
      },
      [self.address.toLowerCase()]: {
        deposit: 0n,
        transferredAmount: 0n,
        nonce: 0n,
        withdrawn: 0n,
      },
    },
  });
}

function claim(nonce: bigint, transferredAmount: bigint) {
  return signClaim({
    account: peer,
    chainId: 31337,
    tokenNetworkAddress: TOKEN_NETWORK,
    tokenAddress: TOKEN,
    channelId: CHANNEL,
    nonce,
    transferredAmount,
  });
}

/** Lets `ticks` microtasks run: where in the booking of the next claim the release lands. */
async function afterTicks(ticks: number): Promise<void> {
  for (let i = 0; i < ticks; i++) await Promise.resolve();
}

Deno.test("claim verifier: a packet refused while the next packet's claim is booked is not counted as delivered, wherever the refusal lands", async () => {
  const lost: number[] = [];
  for (let ticks = 0; ticks < 16; ticks++) {
    const verifier = new ClaimVerifier({
      chainId: 31337,
      tokenNetworkAddress: TOKEN_NETWORK,
      tokenAddress: TOKEN,
      peerAddress: peer.address,
      selfAddress: self.address,
      readChannel: channelOnChainFixture,
    });
    await verifier.accept(await claim(1n, 10n), 10n); // packet 1, then refused
    const second = verifier.accept(await claim(2n, 20n), 10n); // packet 2, being booked
    await afterTicks(ticks);
    verifier.release(CHANNEL, 10n); // packet 1's REJECT
    await second;
    if (verifier.book(CHANNEL)!.forwarded !== 10n) lost.push(ticks);
    // The cover given back pays the next packet, which brings no claim.
    assertEquals((await verifier.accept(undefined, 10n)).book.forwarded, 20n);
  }
  assertEquals(lost, [], "refusals whose cover was lost, by where they landed (microtasks)");
});

Deno.test("file channel book: cover given back while an update decides is taken off what it decides, once", async () => {
  const books = new FileChannelBook([{
    channelId: CHANNEL,
    nonce: 1n,
    claimed: 30n,
    forwarded: 30n,
  }]);
  const seed = { channelId: CHANNEL, nonce: 0n, claimed: 0n, forwarded: 0n };
  let release: Promise<void> | undefined;
  const updated = await books.update(CHANNEL, seed, async (book) => {
    release = books.release(CHANNEL, 10n);
    await afterTicks(3);
    return { ...book, forwarded: book.forwarded + 5n };
  });
  await release;
  assertEquals([updated.forwarded, (await books.read(CHANNEL))?.forwarded], [25n, 25n]);
  await books.release(CHANNEL, 5n); // no update under way: at once
  assertEquals((await books.read(CHANNEL))?.forwarded, 20n);
});
