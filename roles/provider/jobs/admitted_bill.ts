/**
 * A job's bill (protocol/job_bill.ts) as its provider record keeps it, and the admit log's line
 * that says it: every figure the line names adds up to the one before it.
 *
 * @module
 */
import type { JobBill } from "../../../protocol/job_bill.ts";
import type { ProviderJobRecord } from "../../../state/jobs/provider_job_record.ts";

/** The record's fields of a bill. */
export type BillFields = Pick<
  ProviderJobRecord,
  "price" | "deliveryPrice" | "depositWrites" | "writesReserved"
>;

/**
 * The record's fields of `bill`: `price` the deposit, `deliveryPrice` the delivery's share of
 * the price (until the delivery is billed), the writes reserved for the delivery.
 *
 * @example
 * ```ts
 * import { billFields } from "./admitted_bill.ts";
 * const fields = billFields({ price: 40000n, deposit: 15900n, depositWrites: 7900n,
 *   deliveryShare: 32000n, writesReserved: 400000n });
 * if (fields.price !== "15900" || fields.deliveryPrice !== "32000") throw new Error();
 * ```
 */
export function billFields(bill: JobBill): BillFields {
  return {
    price: String(bill.deposit),
    depositWrites: String(bill.depositWrites),
    ...(bill.deliveryShare > 0n
      ? { deliveryPrice: String(bill.deliveryShare), writesReserved: String(bill.writesReserved) }
      : { deliveryPrice: undefined, writesReserved: undefined }),
  };
}

/**
 * The admit line's bill: `deposit D (price share S + writes W)`, and for a job paid on delivery
 * `, delivery S2 + the writes made (at most R reserved)`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { admitParts } from "./admitted_bill.ts";
 *
 * assert.equal(
 *   admitParts({ price: "15900", depositWrites: "7900", deliveryPrice: "32000", writesReserved: "400000" }),
 *   "deposit 15900 (price share 8000 + writes 7900), on delivery 32000 + the writes made " +
 *     "(at most 400000 reserved)",
 * );
 * ```
 */
export function admitParts(record: BillFields): string {
  const writes = BigInt(record.depositWrites ?? "0");
  const deposit = `deposit ${record.price} (price share ${
    BigInt(record.price) - writes
  } + writes ${writes})`;
  if (record.deliveryPrice === undefined) return deposit;
  return `${deposit}, on delivery ${record.deliveryPrice} + the writes made ` +
    `(at most ${record.writesReserved ?? "0"} reserved)`;
}
