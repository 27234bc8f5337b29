import { assert, assertEquals } from "../../../harness/assert.ts";
import {
  decideSpend,
  MIN_INVOICE_TIME_LEFT_MS,
  type SpendRequest,
} from "../../../protocol/spend_policy.ts";

const P = "ab".repeat(32);
const base: SpendRequest = {
  invoiceId: "inv1",
  amount: 500n,
  asset: "USD",
  provider: P,
  bid: 600n,
  paidForJob: 0n,
  spentTodayProvider: 0n,
  spentToday: 0n,
  alreadyAttempted: false,
  nowMs: 1_000,
};

const reason = (d: ReturnType<typeof decideSpend>) => d.pay ? "pay" : d.reason;

Deno.test("spend policy: pays within bid and caps", () => {
  assertEquals(decideSpend({ perJobMax: 500n, dailyCap: 500n, perProviderDailyCap: 500n }, base), {
    pay: true,
  });
});

Deno.test("spend policy: each refusal reason", () => {
  const cases: [Parameters<typeof decideSpend>[0], Partial<SpendRequest>, string][] = [
    [{}, { alreadyAttempted: true }, "already-attempted"],
    [{}, { amount: 0n }, "invalid-amount"],
    [{}, { expectedAsset: "EUR" }, "asset-mismatch"],
    [{}, { expiresAtMs: 1_000 }, "expired"],
    [{ allowlist: ["cd".repeat(32)] }, {}, "provider-not-allowed"],
    [{}, { bid: undefined }, "no-bid"],
    [{}, { paidForJob: 101n }, "over-bid"],
    [{ perJobMax: 499n }, {}, "over-job-max"],
    [{ perProviderDailyCap: 1000n }, { spentTodayProvider: 501n }, "over-provider-cap"],
    [{ dailyCap: 1000n }, { spentToday: 501n }, "over-daily-cap"],
  ];
  for (const [policy, change, want] of cases) {
    assertEquals(reason(decideSpend(policy, { ...base, ...change })), want, want);
  }
});

Deno.test("spend policy: exact limits pay, allowlisted provider pays, no bid when allowed", () => {
  assertEquals(reason(decideSpend({}, { ...base, paidForJob: 100n })), "pay");
  assertEquals(reason(decideSpend({ allowlist: [P] }, base)), "pay");
  assertEquals(reason(decideSpend({ allowWithoutBid: true }, { ...base, bid: undefined })), "pay");
  assertEquals(reason(decideSpend({}, { ...base, expiresAtMs: 1_001 })), "pay");
});

Deno.test("spend policy: refusal carries a detail", () => {
  const d = decideSpend({ dailyCap: 10n }, base);
  assertEquals(d.pay ? "" : d.detail, "total 500 would exceed the daily cap 10");
});

Deno.test("spend policy: an invoice that leaves less than the least time to pay is refused", () => {
  const at = (leftMs: number, minTimeLeftMs = MIN_INVOICE_TIME_LEFT_MS) =>
    decideSpend({}, { ...base, expiresAtMs: base.nowMs + leftMs, minTimeLeftMs });
  assertEquals(at(1), {
    pay: false,
    reason: "expired",
    detail: "invoice expires in 1 ms, too soon to pay",
  });
  assertEquals(reason(at(MIN_INVOICE_TIME_LEFT_MS - 1)), "expired");
  assertEquals(reason(at(MIN_INVOICE_TIME_LEFT_MS)), "pay");
  assertEquals(reason(at(1, 0)), "pay", "without a least time only an expired invoice is refused");
  assert(MIN_INVOICE_TIME_LEFT_MS >= 1_000, "long enough for a round trip through a busy town");
});

Deno.test("spend policy: a deposit in its job's last moments is refused too-late, up to them it pays", () => {
  const deposit = { timesOutAtMs: 10_000, payBy: 9_000 };
  assertEquals(reason(decideSpend({}, { ...base, deposit, nowMs: 9_000 })), "pay");
  const late = decideSpend({}, { ...base, deposit, nowMs: 9_400 });
  assertEquals(reason(late), "too-late");
  assert(!late.pay && late.detail.startsWith("the job times out in 1 s"), JSON.stringify(late));
});
