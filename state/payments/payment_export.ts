/**
 * The payment log's entries as `turnpike export` writes them (docs/OPERATIONS.md): JSON (an array)
 * or CSV (RFC 4180, a header line first), each entry with its category spelled out (`job` for
 * entries written before categories existed).
 *
 * @module
 */
import { csvRow } from "../../protocol/csv_row.ts";
import { categoryOf, type PaymentEntry } from "./payment_log.ts";

const CSV_COLUMNS = [
  "ts",
  "direction",
  "event",
  "jobId",
  "invoiceId",
  "amount",
  "asset",
  "peer",
  "fulfillment",
  "reason",
  "category",
  "scale",
] as const;

/**
 * The entries as JSON (an array).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { paymentsJson } from "./payment_export.ts";
 *
 * const entry = { ts: "2026-11-02T10:00:00.000Z", direction: "out", event: "intent", jobId: "j1",
 *   invoiceId: "i1", amount: "100", asset: "USD", peer: "ab".repeat(32) } as const;
 * assert.equal(JSON.parse(paymentsJson([entry]))[0].category, "job");
 * ```
 */
export function paymentsJson(entries: readonly PaymentEntry[]): string {
  const full = entries.map((e) => ({ ...e, category: categoryOf(e) }));
  return JSON.stringify(full, null, 2) + "\n";
}

/**
 * The entries as CSV (RFC 4180, header line first).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { paymentsCsv } from "./payment_export.ts";
 *
 * assert.equal(paymentsCsv([]).split("\r\n")[0].split(",").length, 12); // the header alone
 * ```
 */
export function paymentsCsv(entries: readonly PaymentEntry[]): string {
  const rows = [csvRow(CSV_COLUMNS)];
  for (const e of entries) {
    const full = { ...e, category: categoryOf(e) };
    rows.push(csvRow(CSV_COLUMNS.map((c) => full[c])));
  }
  return rows.join("\r\n") + "\r\n";
}
