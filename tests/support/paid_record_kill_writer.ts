/**
 * Test helper of tests/unit/roles/provider/paid_record_income_test.ts: a payment desk on the
 * state dir `Deno.args[0]` admits one job and is paid for it, and the process SIGKILLs itself
 * at `Deno.args[1]`:
 *
 * - `between`: once the job's `paid` record is written and before its income is: at the income
 *   row's insert or the income line's append, whichever the desk reaches;
 * - `answered`: once the desk answered FULFILL, nothing flushed or closed;
 * - `reversal-between`: once answered, its income is taken back (the town does not owe it,
 *   `ProviderJobStore.reverseIncome`, the record back to `invoiced`): killed inside that
 *   transaction, after the reversal row's insert and at the record's;
 * - `reversed`: once that reversal resolved.
 *
 * It prints the job's id first.
 *
 * @module
 */
import { hexToBytes } from "@noble/hashes/utils.js";
import { StatementSync } from "node:sqlite";
import { parseIlpInvoice } from "../../protocol/ilp_invoice.ts";
import { type PaymentEntry, PaymentLog } from "../../state/payments/payment_log.ts";
import { reversalOf } from "../../state/payments/income_reversals.ts";
import { openTestDesk } from "./payment_desk_harness.ts";

const [stateDir, killAt] = Deno.args;
const kill = () => Deno.kill(Deno.pid, "SIGKILL");
if (killAt === "between") {
  const run = StatementSync.prototype.run;
  StatementSync.prototype.run = function (this: StatementSync, ...args: unknown[]) {
    if (this.sourceSQL.startsWith("INSERT INTO income")) kill();
    return Reflect.apply(run, this, args);
  } as typeof run;
  const append = PaymentLog.prototype.append;
  PaymentLog.prototype.append = function (this: PaymentLog, entry: PaymentEntry) {
    if (entry.direction === "in") kill();
    return append.call(this, entry);
  };
}
const t = await openTestDesk(stateDir);
const now = new Date().toISOString();
const billed = await t.admit({
  id: "e".repeat(64),
  kind: 5601,
  customer: "c".repeat(64),
  skill: "echo",
  price: "100",
  status: "admitted",
  requestToon: "",
  encrypted: false,
  attempts: 0,
  admittedAt: now,
  updatedAt: now,
});
console.log(billed.id);
const invoice = parseIlpInvoice(billed.invoice!);
const reply = await t.desk.onPrepare({
  amount: "100",
  expiresAt: new Date(Date.now() + 30_000),
  executionCondition: hexToBytes(invoice.condition),
  destination: invoice.destination,
  data: new Uint8Array(),
});
if (reply.type === "fulfill" && (killAt === "reversal-between" || killAt === "reversed")) {
  const record = t.store.get(billed.id)!;
  const income = t.payments.entries().find((e) => e.jobId === billed.id)!;
  const { paidAt: _paidAt, ...unpaid } = record;
  if (killAt === "reversal-between") {
    const get = StatementSync.prototype.get;
    StatementSync.prototype.get = function (this: StatementSync, ...args: unknown[]) {
      if (this.sourceSQL.startsWith("INSERT INTO provider_jobs")) kill();
      return Reflect.apply(get, this, args);
    } as typeof get;
  }
  const reversal = reversalOf(income, new Date().toISOString());
  if (await t.store.reverseIncome(reversal, { ...unpaid, status: "invoiced" })) kill();
  console.error(`not reversed (or not killed inside the reversal): ${JSON.stringify(income)}`);
  Deno.exit(1);
}
if (reply.type === "fulfill") kill();
console.error(`not fulfilled: ${JSON.stringify(reply)}`);
Deno.exit(1);
