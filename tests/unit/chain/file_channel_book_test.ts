/**
 * A process's own channel books (state/channels/file_channel_book.ts), the file backend of
 * state/channels/channel_book.ts: resumed from a channel file's `received*` fields and written back the
 * same way (the file format unchanged), updates one after the other, a refused decision
 * changing nothing, released value coming back at once; and a claim verifier on them
 * (chain/claim_verifier.ts without shared books) refusing a replayed claim, charging packets
 * without a claim to the newest and giving released cover back. A close takes a shared book's
 * newer claim into the record as the file backend writes it, and an older one not at all.
 */
import { assertEquals, assertRejects } from "../../../harness/assert.ts";
import {
  FileChannelBook,
  recordClaimBook,
  recordWithClaimBook,
} from "../../../state/channels/file_channel_book.ts";
import {
  type ChannelRecord,
  encodeChannelToml,
  parseChannelToml,
} from "../../../state/channels/channel_file.ts";
import { ClaimVerifier } from "../../../chain/claim_verifier.ts";
import { signClaim } from "../../../chain/claim_signer.ts";
import { ClaimError } from "../../../protocol/payment_channel_claim.ts";
import type { OnChainChannel } from "../../../chain/token_network_client.ts";
import { localEvmAccount } from "../../../identity/local_evm_account.ts";
import { generateSecretKey } from "nostr-tools";
import { withBookClaim } from "../../../roles/channels/channel_chain_sync.ts";
import { fixtureChannelRecord } from "../../support/channel_record_fixture.ts";

const CHANNEL = `0x${"c1".repeat(32)}` as const;
const TOKEN_NETWORK = `0x${"a1".repeat(20)}` as const;
const TOKEN = `0x${"b1".repeat(20)}` as const;
const peer = localEvmAccount(generateSecretKey());
const self = localEvmAccount(generateSecretKey());

const record: ChannelRecord = fixtureChannelRecord({
  channelId: CHANNEL,
  tokenNetworkAddress: TOKEN_NETWORK,
  tokenAddress: TOKEN,
  selfAddress: self.address,
  peerAddress: peer.address,
  deposit: 0n,
}, { peerDeposit: 1_000_000n, openedAt: "2026-01-01T00:00:00.000Z" });

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

Deno.test("file channel book: a channel file's claim in, the same fields out", () => {
  const signature = `0x${"5".repeat(130)}` as const;
  const file = parseChannelToml(encodeChannelToml({
    ...record,
    received: 300n,
    receivedNonce: 2n,
    receivedSignature: signature,
    peerWithdrawn: 7n,
  }));
  // An older file without received_forwarded: everything claimed was forwarded.
  const book = recordClaimBook(file);
  assertEquals(book, {
    channelId: CHANNEL,
    nonce: 2n,
    claimed: 300n,
    signature,
    forwarded: 300n,
    peerWithdrawn: 7n,
  });
  const credit = recordWithClaimBook(
    file,
    { ...book, nonce: 3n, claimed: 400n, forwarded: 450n },
    false,
  );
  assertEquals([credit.received, credit.receivedNonce, credit.receivedForwarded], [400n, 3n, 450n]);
  // Behind the claims: the claimed total, unless the exact amount is asked for.
  const behind = { ...book, forwarded: 250n };
  assertEquals(recordWithClaimBook(file, behind, false).receivedForwarded, 300n);
  assertEquals(recordWithClaimBook(file, behind, true).receivedForwarded, 250n);
});

Deno.test("file channel book: updates in order, a refusal changes nothing, releases at once", async () => {
  const seed = { channelId: CHANNEL, nonce: 0n, claimed: 0n, forwarded: 0n };
  const books = new FileChannelBook();
  assertEquals(books.shared, false);
  assertEquals(await books.read(CHANNEL), undefined);
  const slow = books.update(CHANNEL, seed, async (b) => {
    await new Promise((r) => setTimeout(r, 20));
    return { ...b, nonce: 1n, claimed: 100n };
  });
  const next = books.update(CHANNEL, seed, (b) => ({ ...b, forwarded: b.forwarded + b.claimed }));
  assertEquals((await slow).forwarded, 0n);
  assertEquals((await next).forwarded, 100n, "the second update saw the first");
  await assertRejects(
    () =>
      books.update(CHANNEL, seed, () => {
        throw new ClaimError("not-covered", "refused");
      }),
    ClaimError,
    "refused",
  );
  await books.release(CHANNEL, 30n);
  assertEquals((await books.read(CHANNEL))?.forwarded, 70n);
  await books.release(CHANNEL, 300n);
  assertEquals((await books.list()).map((b) => [b.claimed, b.forwarded]), [[100n, 0n]]);
});

Deno.test("file channel book: a verifier on a process's own books", async () => {
  const verifier = new ClaimVerifier({
    chainId: 31337,
    tokenNetworkAddress: TOKEN_NETWORK,
    tokenAddress: TOKEN,
    peerAddress: peer.address,
    selfAddress: self.address,
    readChannel: channelOnChainFixture,
  });
  await assertRejects(() => verifier.accept(undefined, 5n), ClaimError, "no claim received yet");
  const c1 = await claim(1n, 100n);
  assertEquals((await verifier.accept(c1, 60n)).newClaim, true);
  await assertRejects(() => verifier.accept(c1, 1n), ClaimError, "replayed-nonce");
  assertEquals((await verifier.accept(undefined, 40n)).book.forwarded, 100n);
  await assertRejects(() => verifier.accept(undefined, 1n), ClaimError, "not-covered");
  verifier.release(CHANNEL, 40n);
  assertEquals(verifier.book(CHANNEL)?.forwarded, 60n);
  const charged = await verifier.accept(undefined, 40n);
  assertEquals([charged.newClaim, charged.book.forwarded], [false, 100n]);
});

Deno.test("file channel book: a shared book's newer claim goes into the record as the file backend writes it, an older one not at all", () => {
  const held = { ...record, received: 500n, receivedNonce: 5n, receivedForwarded: 400n };
  const newer = {
    channelId: CHANNEL,
    nonce: 7n,
    claimed: 900n,
    signature: `0x${"11".repeat(65)}` as const,
    forwarded: 700n,
  };
  const next = withBookClaim(held, newer);
  assertEquals(next, recordWithClaimBook(held, newer, true));
  assertEquals(
    [next.received, next.receivedNonce, next.receivedSignature, next.receivedForwarded],
    [900n, 7n, newer.signature, 700n],
  );
  assertEquals(withBookClaim(held, { ...newer, nonce: 4n }), held);
  assertEquals(withBookClaim(held, { ...newer, nonce: 5n, forwarded: 400n }), held);
  assertEquals(withBookClaim(held, undefined), held);
  assertEquals(withBookClaim(held, { ...newer, nonce: 5n }).receivedForwarded, 700n);
});
