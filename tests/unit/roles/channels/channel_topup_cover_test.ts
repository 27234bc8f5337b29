/**
 * A claim that would pass the deposit waits for a top-up instead of failing
 * (roles/channels/channel_topup.ts `cover`, roles/channels/sent_book_signer.ts): it waits for the
 * top-up under way, or starts one at least as big as it needs; several such claims start one
 * top-up, and none is signed past the deposit the signer knows; only when no top-up can cover
 * it (daily cap, automatic top-up off, the payment's deadline) is it refused, with the reason.
 * The signer, its book and the channel file are the real ones; the chain is a stand-in whose
 * `setTotalDeposit` is held until the test lets it through (the contract call runs against
 * anvil in tests/e2e/channel_topup_wait_test.ts).
 */
import { assert, assertEquals, assertMatch, assertRejects } from "../../../../harness/assert.ts";
import { ClaimBeyondDepositError } from "../../../../chain/claim_signer.ts";
import { startChannelTopUp, TopUpRefusedError } from "../../../../roles/channels/channel_topup.ts";
import { SentBookSigner } from "../../../../roles/channels/sent_book_signer.ts";
import { resolveChannelPolicy } from "../../../../config/channel_policy.ts";
import { saveChannel } from "../../../../state/channels/channel_file.ts";
import { openSentClaimWriter } from "../../../../state/channels/channel_writer.ts";
import { FileSentChannelBook } from "../../../../state/channels/file_sent_channel_book.ts";
import { localEvmAccount } from "../../../../identity/local_evm_account.ts";
import { generateSecretKey } from "nostr-tools";
import { fixtureChannelRecord } from "../../../support/channel_record_fixture.ts";
import type { PaymentChannelClaim } from "../../../../protocol/payment_channel_claim.ts";

const account = localEvmAccount(generateSecretKey());

/** A chain whose deposit transactions wait for `release()`; `sent` resolves at the first. */
function heldChainStandIn() {
  const totals: bigint[] = [];
  let release!: () => void;
  const released = new Promise<void>((r) => release = r);
  let sent!: () => void;
  const firstSent = new Promise<void>((r) => sent = r);
  return {
    totals,
    release,
    firstSent,
    address: account.address,
    tokenBalance: () => Promise.resolve(1_000_000_000n),
    setTotalDeposit: async (_id: `0x${string}`, total: bigint) => {
      totals.push(total);
      sent();
      await released;
      return `0x${"ee".repeat(32)}` as `0x${string}`;
    },
  };
}

/** A channel of 0.01 M2M with `sent` claimed, its file, book, signer and keeper. */
async function payer(stateDir: string, sent: bigint, channels: Record<string, string>) {
  const record = fixtureChannelRecord({
    selfAddress: account.address,
    peerAddress: `0x${"44".repeat(20)}`,
    deposit: 10_000n,
  }, { sent, sentNonce: sent === 0n ? 0n : 1n });
  await saveChannel(record, { stateDir, action: "open" });
  const writer = openSentClaimWriter({ stateDir, record });
  const book = new FileSentChannelBook([writer]);
  const chain = heldChainStandIn();
  const policy = resolveChannelPolicy({
    table: { deposit: "0.01", topup_amount: "0.01", max_deposit: "1", ...channels },
    env: () => undefined,
  });
  const signer = new SentBookSigner({
    ...record,
    account,
    book,
    cover: (total, until) => keeper.cover(total, until),
  });
  const alerts: string[] = [];
  const keeper = startChannelTopUp({
    stateDir,
    policy,
    sent: writer,
    chain,
    signer,
    alert: (kind, message) => alerts.push(`${kind}: ${message}`),
  });
  /** Pays as a BtpClient does: signed, kept in the file, then the keeper's check. */
  const pay = async (amount: bigint, until?: number): Promise<PaymentChannelClaim> => {
    const claim = await signer.pay(amount, { until });
    await signer.persist(claim);
    keeper.check();
    return claim;
  };
  return { record, writer, chain, signer, keeper, pay, alerts };
}

async function inTempDir(prefix: string, body: (stateDir: string) => Promise<void>) {
  const stateDir = await Deno.makeTempDir({ prefix });
  try {
    await body(stateDir);
  } finally {
    await Deno.remove(stateDir, { recursive: true });
  }
}

Deno.test("top-up wait: claims past the deposit wait for the top-up under way, one top-up, none signed past the deposit", async () => {
  await inTempDir("topup_wait_", async (stateDir) => {
    const p = await payer(stateDir, 0n, { topup_below: "0.004", topup_daily_cap: "0.05" });
    // 3,000 left of 10,000, below 4,000: the keeper starts a top-up, held on chain.
    await p.pay(7_000n);
    await p.chain.firstSent;
    // Three more side by side: the first fits (9,000), the next two would pass the deposit.
    const settled: string[] = [];
    const claims = [2_000n, 2_000n, 2_000n].map((a, i) =>
      p.pay(a).then((c) => (settled.push(`claim ${i}`), c))
    );
    await claims[0];
    assertEquals(settled, ["claim 0"], "the two past the deposit wait for the top-up");
    assertEquals(p.signer.deposit, 10_000n);
    // The operator hears why a payment is slow (docs/OPERATIONS.md "A payment past the deposit").
    assertMatch(p.alerts.join("\n"), /topup-wait: .* waits for the top-up under way/);
    p.chain.release();
    const signed = await Promise.all(claims);
    assertEquals(signed.map((c) => c.transferredAmount), [9_000n, 11_000n, 13_000n]);
    assertEquals(signed.map((c) => c.nonce), [2n, 3n, 4n], "nonces in call order");
    assertEquals(p.chain.totals, [20_000n], "one top-up for the crossing");
    await p.keeper.idle();
    assertEquals(p.writer.record().deposit, 20_000n);
    assertEquals(p.writer.record().sent, 13_000n);
  });
});

Deno.test("top-up wait: a claim past the deposit with no top-up under way starts one big enough; two waiters start one", async () => {
  await inTempDir("topup_start_", async (stateDir) => {
    // 9,000 of 10,000 claimed; no check ran (the keeper has started nothing).
    const p = await payer(stateDir, 9_000n, { topup_below: "0.001", topup_daily_cap: "0.05" });
    const both = [p.pay(5_000n), p.pay(5_000n)];
    await p.chain.firstSent;
    p.chain.release();
    const signed = await Promise.all(both);
    assertEquals(signed.map((c) => c.transferredAmount), [14_000n, 19_000n]);
    assertEquals(p.chain.totals, [20_000n], "one top-up of topup_amount covers both");
    assertMatch(p.alerts.join("\n"), /topup-wait: .* waits for the top-up it started/);
    // A claim that needs more than topup_amount gets a top-up of what it needs.
    const big = await p.pay(25_000n);
    assertEquals(big.transferredAmount, 44_000n);
    assertEquals(p.chain.totals, [20_000n, 44_000n]);
    // Nothing is left: the keeper's check then tops up by topup_amount, within the cap.
    await p.keeper.idle();
    assertEquals(p.chain.totals, [20_000n, 44_000n, 54_000n]);
    assertEquals(p.signer.deposit, 54_000n);
  });
});

Deno.test("top-up wait: refused with the reason when no top-up can cover the claim (daily cap, auto off, deadline)", async () => {
  await inTempDir("topup_refused_", async (stateDir) => {
    // The daily cap of 0.01 is spent by the first top-up; the next crossing is refused.
    const capped = await payer(stateDir, 9_000n, { topup_below: "0.001", topup_daily_cap: "0.01" });
    capped.chain.release();
    await capped.pay(5_000n);
    assertEquals(capped.chain.totals, [20_000n]);
    const err = await assertRejects(() => capped.pay(7_000n), ClaimBeyondDepositError);
    assertMatch(
      err.message,
      /^cumulative claim 21000 would exceed the deposit 20000, and no top-up/,
    );
    assertMatch(err.why!, /daily cap of 0\.01 M2M is reached \(0\.01 M2M topped up today/);
    assert(err.cause instanceof TopUpRefusedError);
    assertEquals(err.cause.reason, "daily-cap");
    assertEquals([capped.signer.nonce, capped.signer.transferred], [2n, 14_000n], "nothing signed");
  });
  await inTempDir("topup_cap_left_", async (stateDir) => {
    // 0.005 of the cap left today, 0.006 needed: refused, nothing sent to the chain for it.
    const p = await payer(stateDir, 9_000n, { topup_below: "0.001", topup_daily_cap: "0.015" });
    p.chain.release();
    await p.pay(5_000n);
    const err = await assertRejects(() => p.pay(12_000n), ClaimBeyondDepositError);
    assertMatch(err.why!, /daily cap of 0\.015 M2M leaves 0\.005 M2M today, 0\.006 M2M needed/);
    assertEquals(p.chain.totals, [20_000n]);
  });
  await inTempDir("topup_off_", async (stateDir) => {
    const off = await payer(stateDir, 9_000n, { topup_below: "0" });
    const err = await assertRejects(() => off.pay(5_000n), ClaimBeyondDepositError);
    assertEquals((err.cause as TopUpRefusedError).reason, "auto-off");
    assertMatch(err.message, /automatic top-up is off/);
    assertEquals(off.chain.totals, []);
  });
  await inTempDir("topup_late_", async (stateDir) => {
    // The top-up is never mined while the payment may wait: refused at its deadline, and the
    // payments after it are not held up past theirs.
    const late = await payer(stateDir, 9_000n, { topup_below: "0.001", topup_daily_cap: "0.05" });
    const err = await assertRejects(
      () => late.pay(5_000n, Date.now()),
      ClaimBeyondDepositError,
    );
    assertEquals((err.cause as TopUpRefusedError).reason, "expired");
    const small = await late.pay(1_000n);
    assertEquals(small.transferredAmount, 10_000n, "one within the deposit still pays");
    late.chain.release();
    await late.keeper.idle();
    assertEquals(late.chain.totals, [20_000n], "the top-up went on");
  });
});
