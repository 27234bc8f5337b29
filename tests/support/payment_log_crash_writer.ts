/**
 * Test helper for the payment log crash test: appends entries to the payment log in
 * `Deno.args[0]` forever, printing each invoice id after `append` returned (fsynced).
 *
 * @module
 */
import { openPaymentLog } from "../../state/payments/payment_log.ts";

const log = await openPaymentLog({ stateDir: Deno.args[0] });
const encoder = new TextEncoder();
const run = crypto.randomUUID().slice(0, 8);
for (let i = 0;; i++) {
  const invoiceId = `${run}-${i}`;
  await log.append({
    ts: new Date().toISOString(),
    direction: "out",
    event: "fulfilled",
    jobId: "ab".repeat(32),
    invoiceId,
    amount: "10",
    asset: "USD",
    peer: "cd".repeat(32),
    fulfillment: "ef".repeat(32),
    reason: "x".repeat(i % 500),
  });
  Deno.stdout.writeSync(encoder.encode(invoiceId + "\n"));
}
