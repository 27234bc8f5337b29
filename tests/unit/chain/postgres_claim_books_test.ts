/**
 * Claim books shared by a town's processes (state/postgres/postgres_claim_books.ts) on a real PostgreSQL
 * server: two verifiers, each with its own connections as two processes would have, charge one
 * channel at once and together never forward beyond its claim (the row lock; without it both
 * read the same `forwarded` and the cover is spent twice); a claim already held, or one below
 * the newest (it reached another process later), is charged as a packet without a claim; a
 * claim above it raises the book; a charged packet is in flight, delivered only once counted
 * (its FULFILL); a refused decision changes nothing; released value comes back;
 * a withdraw and a settle one process co-signed (the book's withdrawn total, `closing`) hold on
 * the other; every process lists the books written.
 *
 * The channel's on-chain state is given by `channelOnChainFixture` (a fixed answer, no chain:
 * the chain path is tested on anvil by tests/e2e/town_shared_channel_test.ts).
 */
import { assert, assertEquals, assertRejects } from "../../../harness/assert.ts";
import { freshDatabase } from "../../../harness/postgres_database.ts";
import { startPostgresServer } from "../../../state/postgres/postgres_server.ts";
import { openPostgresClaimBooks } from "../../../state/postgres/postgres_claim_books.ts";
import { ClaimVerifier } from "../../../chain/claim_verifier.ts";
import { signClaim } from "../../../chain/claim_signer.ts";
import { ClaimError } from "../../../protocol/payment_channel_claim.ts";
import type { OnChainChannel } from "../../../chain/token_network_client.ts";
import { localEvmAccount } from "../../../identity/local_evm_account.ts";
import { generateSecretKey } from "nostr-tools";

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

async function twoProcesses(url: string) {
  const books = [await openPostgresClaimBooks({ url }), await openPostgresClaimBooks({ url })];
  const verifiers = books.map((sharedBooks) =>
    new ClaimVerifier({
      chainId: 31337,
      tokenNetworkAddress: TOKEN_NETWORK,
      tokenAddress: TOKEN,
      peerAddress: peer.address,
      selfAddress: self.address,
      readChannel: channelOnChainFixture,
      sharedBooks,
      currentChannel: CHANNEL,
    })
  );
  return {
    books,
    verifiers,
    [Symbol.asyncDispose]: async () => {
      for (const b of books) await b.close();
    },
  };
}

Deno.test("shared claim books", async (t) => {
  await using pg = await startPostgresServer();

  await t.step(
    "two processes charging one channel at once never spend its cover twice; charged packets are in flight until delivered",
    async () => {
      await using p = await twoProcesses(await freshDatabase(pg.url));
      const first = await p.verifiers[0].accept(await claim(1n, 1_000n), 10n);
      assertEquals(first.newClaim, true);
      // 2 x 60 packets of 10 without a claim, from both processes at once: 99 fit in the claim.
      const outcomes = await Promise.allSettled(
        Array.from({ length: 120 }, (_, i) => p.verifiers[i % 2].accept(undefined, 10n)),
      );
      const accepted = outcomes.filter((o) => o.status === "fulfilled").length;
      const refused =
        outcomes.filter((o) =>
          o.status === "rejected" && o.reason instanceof ClaimError &&
          o.reason.reason === "not-covered"
        ).length;
      assertEquals(accepted, 99);
      assertEquals(refused, 21);
      const book = await p.books[1].read(CHANNEL);
      // Charged, not answered: in flight, nothing delivered yet (a kill now pays none of it).
      assertEquals([book?.forwarded, book?.inFlight, book?.claimed], [0n, 1_000n, 1_000n]);
      // FULFILLed packets move to delivered, whichever process counts them.
      for (let i = 0; i < 50; i++) await p.verifiers[i % 2].deliver(CHANNEL, 10n);
      const delivered = await p.books[0].read(CHANNEL);
      assertEquals([delivered?.forwarded, delivered?.inFlight], [500n, 500n]);
      await assertRejects(() => p.verifiers[1].accept(undefined, 10n), ClaimError, "not-covered");
      // Released value (a packet that was not fulfilled) is cover again, on the other process too.
      p.verifiers[0].release(CHANNEL, 10n);
      const deadline = Date.now() + 10_000;
      while ((await p.books[1].read(CHANNEL))?.inFlight !== 490n) {
        assert(Date.now() < deadline, "the release reaches the book");
        await new Promise((r) => setTimeout(r, 10));
      }
      await p.verifiers[1].accept(undefined, 10n);
    },
  );

  await t.step(
    "an old or repeated claim is charged without one; a newer one raises the book",
    async () => {
      await using p = await twoProcesses(await freshDatabase(pg.url));
      const c1 = await claim(1n, 100n);
      const c2 = await claim(2n, 300n);
      // c2 reaches process 1 first; c1 (signed before it) reaches process 0 after.
      const second = await p.verifiers[1].accept(c2, 200n);
      assertEquals(second.newClaim, true);
      const first = await p.verifiers[0].accept(c1, 100n);
      assertEquals(first.newClaim, false, "c1 carries nothing new: charged against c2");
      // The same claim again (a retry after a process died unanswered): no new claim either.
      await assertRejects(() => p.verifiers[0].accept(c2, 1n), ClaimError, "not-covered");
      const third = await p.verifiers[0].accept(await claim(3n, 301n), 1n);
      assertEquals(third.newClaim, true);
      const book = await p.books[0].read(CHANNEL);
      assertEquals([book?.nonce, book?.claimed, book?.inFlight], [3n, 301n, 301n]);
      // A lower nonce with a higher amount is still refused, and changes nothing.
      await assertRejects(
        async () => p.verifiers[1].accept(await claim(2n, 400n), 1n),
        ClaimError,
        "replayed-nonce",
      );
      assertEquals((await p.books[1].read(CHANNEL))?.claimed, 301n);
    },
  );

  await t.step("a refused decision rolls back: the book is as before", async () => {
    await using p = await twoProcesses(await freshDatabase(pg.url));
    const seed = { channelId: CHANNEL, nonce: 0n, claimed: 0n, forwarded: 0n };
    await p.books[0].update(CHANNEL, seed, (b) => ({ ...b, nonce: 1n, claimed: 5n }));
    await assertRejects(
      () =>
        p.books[1].update(CHANNEL, seed, () => {
          throw new ClaimError("not-covered", "refused");
        }),
      ClaimError,
      "refused",
    );
    assertEquals((await p.books[0].read(CHANNEL))?.claimed, 5n);
    assertEquals(await p.books[0].read(`0x${"d2".repeat(32)}`), undefined);
    assertEquals((await p.books[1].list()).map((b) => [b.channelId, b.claimed]), [[CHANNEL, 5n]]);
  });

  await t.step(
    "a withdraw or a settle co-signed on one process holds on the other",
    async () => {
      await using p = await twoProcesses(await freshDatabase(pg.url));
      await p.verifiers[1].accept(await claim(1n, 100n), 100n);
      // Process 0's desk co-signs a withdraw of 999,900 of the 1,000,000 deposit: the book says
      // so, and process 1 (which never heard of it) caps the next claim at what is left.
      const seed = { channelId: CHANNEL, nonce: 0n, claimed: 0n, forwarded: 0n };
      await p.books[0].update(CHANNEL, seed, (b) => ({ ...b, peerWithdrawn: 999_900n }));
      await assertRejects(
        async () => p.verifiers[1].accept(await claim(2n, 101n), 1n),
        ClaimError,
        "beyond-deposit",
      );
      await p.verifiers[1].accept(await claim(2n, 100n), 0n); // at the cap: still taken
      // Process 0's desk co-signs the settle: the book is closing for good, and process 1
      // refuses a packet with a claim or without one.
      await p.books[0].update(CHANNEL, seed, (b) => ({ ...b, closing: true }));
      await p.books[0].update(CHANNEL, seed, (b) => ({ ...b, closing: false }));
      assertEquals((await p.books[1].read(CHANNEL))?.closing, true, "never cleared");
      await assertRejects(
        async () => p.verifiers[1].accept(await claim(3n, 100n), 0n),
        ClaimError,
        "channel-not-open",
      );
      await assertRejects(() => p.verifiers[1].accept(undefined, 0n), ClaimError, "closing");
    },
  );
});
