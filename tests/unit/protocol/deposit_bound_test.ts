/**
 * The deposit bound's param and refusal (protocol/deposit_bound.ts): what a requester declines
 * before paying when a provider asks more up front than the request allowed.
 */
import { assert, assertEquals } from "../../../harness/assert.ts";
import { depositMaxOf, depositOverBound, depositRefusal } from "../../../protocol/deposit_bound.ts";
import { formatIlpInvoice } from "../../../protocol/ilp_invoice.ts";

const invoice = (amount: bigint) =>
  formatIlpInvoice({
    destination: "g.town.provider",
    amount,
    assetCode: "USD",
    assetScale: 6,
    condition: "ab".repeat(32),
    expiresAt: new Date(Date.now() + 60_000),
    jobId: "cd".repeat(32),
  });
const bounded = [{ name: "deposit-max", values: ["10000"] }];

Deno.test("a deposit invoice over the request's deposit-max is declined with its code, one within it or without a bound is not", () => {
  const why = depositOverBound(invoice(17_800n), bounded);
  assert(why?.startsWith("deposit-over-bound: the deposit 17800 is over the 10000"), why);
  assertEquals(depositOverBound(invoice(10_000n), bounded), undefined);
  assertEquals(depositOverBound(invoice(17_800n), []), undefined);
  assertEquals(depositOverBound(invoice(17_800n), undefined), undefined);
});

Deno.test("a deposit-max that is not a base-unit amount is ignored, as an unknown param is", () => {
  assertEquals(depositMaxOf([["param", "deposit-max", "-5"]]), undefined);
  assertEquals(depositMaxOf([["param", "deposit-max", "1e6"]]), undefined);
  assertEquals(depositMaxOf([["param", "deposit-max", "0"]]), 0n);
  assertEquals(depositRefusal(1n, 0n)?.startsWith("deposit-over-bound"), true);
});
