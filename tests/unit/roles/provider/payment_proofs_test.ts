/**
 * The proofs a provider shows a town that lost its answers (roles/provider/payments/
 * payment_proofs.ts): a payment older than the payment log's 30 days is proven by its income row.
 */
import { assertEquals } from "../../../../harness/assert.ts";
import { sha256 } from "@noble/hashes/sha2.js";
import { bytesToHex } from "@noble/hashes/utils.js";
import { fulfillmentsAmong } from "../../../../roles/provider/payments/payment_proofs.ts";
import { openProviderJobStore } from "../../../../state/jobs/provider_job_store.ts";
import { openPaymentLog } from "../../../../state/payments/payment_log.ts";
import { reversalOf } from "../../../../state/payments/income_reversals.ts";

Deno.test("payment proofs: a payment taken before the payment log's days is proven by its income row, with its PREPARE's expiry; one taken back is not", async () => {
  const stateDir = await Deno.makeTempDir();
  try {
    const store = await openProviderJobStore({ stateDir });
    const then = new Date(Date.now() - 40 * 86_400_000).toISOString();
    const proofs: { fulfillment: string; expiresAt: string }[] = [];
    const conditions: string[] = [];
    for (const n of [1, 2]) {
      const fulfillment = crypto.getRandomValues(new Uint8Array(32));
      const condition = bytesToHex(sha256(fulfillment));
      const id = String(n).repeat(64);
      const income = {
        ts: then,
        direction: "in" as const,
        event: "fulfilled" as const,
        jobId: id,
        invoiceId: condition,
        amount: "100",
        asset: "USD",
        peer: "c".repeat(64),
        fulfillment: bytesToHex(fulfillment),
        // The PREPARE's expiry, kept with the income: which packet of the condition was paid.
        expiresAt: new Date(Date.parse(then) + 30_000 + n).toISOString(),
        category: "job" as const,
      };
      await store.put({
        id,
        kind: 5100,
        customer: "c".repeat(64),
        skill: "echo",
        status: "published",
        price: "100",
        requestToon: "",
        encrypted: false,
        admittedAt: then,
        updatedAt: then,
        attempts: 1,
        paidAt: then,
      }, { income });
      proofs.push({ fulfillment: income.fulfillment, expiresAt: income.expiresAt });
      conditions.push(condition);
      if (n === 2) await store.reverseIncome(reversalOf(income, then));
    }
    const log = await openPaymentLog({ stateDir });
    const asked = [...conditions, "00".repeat(32)];
    assertEquals(fulfillmentsAmong(log.entries(), asked), [], "the log's days hold none");
    const rows = (c: string) => store.income.standingEntries(c);
    assertEquals(fulfillmentsAmong(log.entries(), asked, rows), [proofs[0]]);
    store.close();
  } finally {
    await Deno.remove(stateDir, { recursive: true });
  }
});
