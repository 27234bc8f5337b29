/**
 * A payer's claim signer on its channel book (roles/channels/sent_book_signer.ts), next to
 * chain/claim_signer.ts ClaimSigner: resumed from the channel file's newest sent claim, the same
 * claims (nonces in call order, cumulative amounts, the same signatures' numbers) and the same
 * refusals (beyond the deposit less withdrawn, a withdrawal below the claims); each claim in the
 * file once `persist` resolves, and `persist` refusing a claim it did not sign.
 */
import { assertEquals, assertRejects } from "../../../../harness/assert.ts";
import { SentBookSigner } from "../../../../roles/channels/sent_book_signer.ts";
import { FileSentChannelBook } from "../../../../state/channels/file_sent_channel_book.ts";
import {
  ClaimBeyondDepositError,
  ClaimSigner,
  WithdrawBelowClaimsError,
} from "../../../../chain/claim_signer.ts";
import {
  channelFilePath,
  type ChannelRecord,
  readChannel,
  saveChannel,
} from "../../../../state/channels/channel_file.ts";
import { openSentClaimWriter } from "../../../../state/channels/channel_writer.ts";
import { localEvmAccount } from "../../../../identity/local_evm_account.ts";
import { generateSecretKey } from "nostr-tools";
import { fixtureChannelRecord } from "../../../support/channel_record_fixture.ts";

const CHANNEL = `0x${"c5".repeat(32)}` as const;
const account = localEvmAccount(generateSecretKey());

const record: ChannelRecord = fixtureChannelRecord({
  channelId: CHANNEL,
  tokenNetworkAddress: `0x${"a1".repeat(20)}`,
  tokenAddress: `0x${"b1".repeat(20)}`,
  selfAddress: account.address,
  peerAddress: `0x${"be".repeat(20)}`,
  deposit: 10_000n,
}, { sent: 500n, sentNonce: 4n, openedAt: "2026-01-01T00:00:00.000Z" });

Deno.test("sent book signer: ClaimSigner's claims and refusals, decided on the book, each in the file once persisted", async () => {
  const stateDir = await Deno.makeTempDir();
  try {
    await saveChannel(record, { stateDir, action: "open" });
    const book = new FileSentChannelBook([openSentClaimWriter({ stateDir, record })]);
    const signer = new SentBookSigner({ ...record, withdrawn: 0n, account, book });
    const reference = new ClaimSigner({
      ...record,
      account,
      nonce: record.sentNonce,
      transferred: record.sent,
    });
    assertEquals([signer.nonce, signer.transferred, signer.deposit], [4n, 500n, 10_000n]);

    // Five at once: consecutive nonces in call order, as the reference signs them.
    const amounts = [100n, 0n, 250n, 1n, 149n];
    const claims = await Promise.all(amounts.map((a) => signer.pay(a)));
    for (const [i, a] of amounts.entries()) {
      const want = await reference.pay(a);
      assertEquals(
        [claims[i].nonce, claims[i].transferredAmount, claims[i].channelId],
        [want.nonce, want.transferredAmount, want.channelId],
      );
    }
    assertEquals([signer.nonce, signer.transferred], [9n, 1_000n]);
    // In the file once persisted (the newest covers the ones before).
    for (const c of claims) await signer.persist(c);
    const file = await readChannel(channelFilePath(stateDir, CHANNEL));
    assertEquals([file.sentNonce, file.sent], [9n, 1_000n]);
    await assertRejects(() => signer.persist(claims[0]), RangeError);

    // The refusals: nothing signed.
    await assertRejects(() => signer.pay(-1n), RangeError);
    await assertRejects(() => signer.pay(9_001n), ClaimBeyondDepositError);
    await assertRejects(() => signer.noteWithdraw(9_001n), WithdrawBelowClaimsError);
    await signer.noteWithdraw(8_000n);
    assertEquals(signer.withdrawn, 8_000n);
    await assertRejects(() => signer.pay(1_001n), ClaimBeyondDepositError);
    await signer.noteDeposit(12_000n);
    await signer.noteDeposit(11_000n);
    assertEquals(signer.deposit, 12_000n);
    const last = await signer.pay(1_001n);
    assertEquals([last.nonce, last.transferredAmount], [10n, 2_001n]);
    await signer.persist(last);
    assertEquals((await readChannel(channelFilePath(stateDir, CHANNEL))).sentNonce, 10n);
  } finally {
    await Deno.remove(stateDir, { recursive: true });
  }
});
