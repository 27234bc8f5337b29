/**
 * The town-debt guard (roles/provider/payments/town_debt.ts) over a provider's real job store,
 * payment log and payout channel file: what the provider earned all-time against every claim the
 * town's payout channel kept, past the payment log's 30 days.
 */
import { assertEquals, assertStringIncludes } from "../../../../harness/assert.ts";
import { refundInvoiceId } from "../../../../protocol/job_refund.ts";
import { PAYOUT_CHANNEL_LABEL } from "../../../../roles/channels/payout_receiver.ts";
import { TownDebtGuard } from "../../../../roles/provider/payments/town_debt.ts";
import { type ChannelRecord, saveChannel } from "../../../../state/channels/channel_file.ts";
import type { ProviderJobRecord } from "../../../../state/jobs/provider_job_record.ts";
import {
  openProviderJobStore,
  type ProviderJobStore,
} from "../../../../state/jobs/provider_job_store.ts";
import { openPaymentLog, type PaymentEntry } from "../../../../state/payments/payment_log.ts";

const DAY_MS = 86_400_000;
const CUSTOMER = "c".repeat(64);

/** A job paid `amount` through the town `daysAgo` days ago: its record and income row. */
async function paid(store: ProviderJobStore, n: number, amount: bigint, daysAgo: number) {
  const ts = new Date(Date.now() - daysAgo * DAY_MS).toISOString();
  const id = n.toString(16).padStart(64, "0");
  const record: ProviderJobRecord = {
    id,
    kind: 5100,
    customer: CUSTOMER,
    skill: "echo",
    status: "published",
    price: String(amount),
    requestToon: "",
    encrypted: false,
    admittedAt: ts,
    updatedAt: ts,
    attempts: 1,
    paidAt: ts,
  };
  const income: PaymentEntry = {
    ts,
    direction: "in",
    event: "fulfilled",
    jobId: id,
    invoiceId: `inv-${n}`,
    amount: String(amount),
    asset: "USD",
    peer: CUSTOMER,
    category: "job",
  };
  await store.put(record, { income });
  return income;
}

/** The town's payout channel, its newest claim kept covering `received`. */
async function payoutChannel(stateDir: string, received: bigint): Promise<void> {
  const record: ChannelRecord = {
    channelId: `0x${"ab".repeat(32)}`,
    chain: "evm:base:31337",
    chainId: 31337,
    network: "local",
    tokenNetworkAddress: `0x${"11".repeat(20)}`,
    tokenAddress: `0x${"22".repeat(20)}`,
    tokenSymbol: "USD",
    tokenDecimals: 6,
    selfAddress: `0x${"33".repeat(20)}`,
    peerAddress: `0x${"44".repeat(20)}`,
    peerLabel: PAYOUT_CHANNEL_LABEL,
    status: "open",
    deposit: 0n,
    peerDeposit: 10_000n,
    withdrawn: 0n,
    peerWithdrawn: 0n,
    sent: 0n,
    sentNonce: 0n,
    received,
    receivedNonce: 1n,
    settleTimeout: 60n,
    settleAt: 0n,
    openedAt: new Date(Date.now() - 60 * DAY_MS).toISOString(),
    warnPercent: 20,
  };
  await saveChannel(record, { stateDir, action: "open" });
}

/** A guard over the state dir as a (re)started provider opens it. */
async function guardOf(stateDir: string, limit: bigint) {
  const store = await openProviderJobStore({ stateDir });
  const payments = await openPaymentLog({ stateDir });
  const alerts: string[] = [];
  const guard = new TownDebtGuard({
    stateDir,
    limit,
    income: () => store.income,
    payments: () => payments,
    alert: (_kind, message) => alerts.push(message),
  });
  return { store, payments, guard, alerts };
}

Deno.test("town debt: income older than the payment log's 30 days still counts against every claim kept", async () => {
  const stateDir = await Deno.makeTempDir();
  try {
    const setup = await openProviderJobStore({ stateDir });
    // Forty days ago the town paid its providers all it owed: 1,000 earned, 1,000 claimed.
    await paid(setup, 1, 600n, 40);
    await paid(setup, 2, 400n, 35);
    await payoutChannel(stateDir, 1_000n);
    // Since then it paid nothing: 500 earned this week, owed.
    await paid(setup, 3, 500n, 2);
    setup.close();
    const { store, guard, alerts } = await guardOf(stateDir, 100n);
    const refusal = await guard.refusal();
    assertStringIncludes(
      refusal ?? "not refused",
      "owes this provider 500 unclaimed (earned 1500, claimed 1000), over its limit 100",
    );
    assertEquals(alerts.length, 1);
    store.close();
  } finally {
    await Deno.remove(stateDir, { recursive: true });
  }
});

Deno.test("town debt: a refund paid is taken from the earnings, a requester's own payments are not", async () => {
  const stateDir = await Deno.makeTempDir();
  try {
    const setup = await openProviderJobStore({ stateDir });
    const deposit = await paid(setup, 1, 300n, 45);
    await paid(setup, 2, 200n, 1);
    // The first job's deposit refunded (its row), 44 days ago.
    const refunded = {
      ...deposit,
      ts: new Date(Date.now() - 44 * DAY_MS).toISOString(),
      direction: "out" as const,
      invoiceId: refundInvoiceId(deposit.jobId),
      fulfillment: "ef".repeat(32),
    };
    setup.income.refund(refunded);
    assertEquals(setup.income.earnings(), 200n);
    setup.close();
    // The same profile also buys work: its payment to another provider, a refund it took.
    const log = await openPaymentLog({ stateDir });
    const bought = {
      ts: new Date().toISOString(),
      direction: "out" as const,
      event: "fulfilled" as const,
      jobId: "d".repeat(64),
      invoiceId: "bought",
      amount: "900",
      asset: "USD",
      peer: "e".repeat(64),
      category: "job" as const,
    };
    await log.append(bought);
    await log.append({
      ...bought,
      direction: "in",
      invoiceId: refundInvoiceId(bought.jobId),
      amount: "50",
    });
    await payoutChannel(stateDir, 150n);
    const { store, guard } = await guardOf(stateDir, 49n);
    assertStringIncludes((await guard.refusal())!, "owes this provider 50 unclaimed (earned 200");
    store.close();
    const { store: again, guard: looser } = await guardOf(stateDir, 50n);
    assertEquals(await looser.refusal(), undefined);
    again.close();
  } finally {
    await Deno.remove(stateDir, { recursive: true });
  }
});

Deno.test("town debt: an older turnpike's income lines in the payment log count where no row holds them", async () => {
  const stateDir = await Deno.makeTempDir();
  try {
    const setup = await openProviderJobStore({ stateDir });
    const row = await paid(setup, 1, 100n, 3);
    setup.close();
    const log = await openPaymentLog({ stateDir });
    const line = {
      ...row,
      ts: new Date(Date.now() - 5 * DAY_MS).toISOString(),
      jobId: "9".repeat(64),
      invoiceId: "older-line",
      amount: "70",
    };
    await log.append(line); // written before income rows were
    const taken = { ...line, jobId: "8".repeat(64), invoiceId: "taken-back", amount: "40" };
    await log.append(taken);
    await log.append({ ...taken, event: "reversed" }); // its town did not owe it
    const { store, guard } = await guardOf(stateDir, 0n);
    assertStringIncludes((await guard.refusal())!, "owes this provider 170 unclaimed");
    store.close();
  } finally {
    await Deno.remove(stateDir, { recursive: true });
  }
});
