/**
 * How a job's quote is billed (docs/PROTOCOL.md "Who pays for what", "Paid on delivery"). A skill
 * paid in full up front bills its whole quote then: the writes it budgets are reserved and
 * charged, since nothing is invoiced later. A skill paid on delivery bills what was used:
 *
 * - the **deposit**, up front: the price's deposit share (the compute the provider risks before
 *   anything is delivered) plus the `payment-required` feedback that carries its invoice;
 * - the **delivery**, with the result: the price's delivery share plus the writes the job
 *   actually made after the deposit (its `processing` and spend feedback, the result event as
 *   published, its blobs as stored), never more than the writes its quote reserved.
 *
 * The price is the skill's plus, for an agent-task, the preset's. An unused reserve is never
 * charged: it only bounds what a delivery may ask.
 *
 * @module
 */
import type { JobQuote } from "./provider_quote.ts";

/** Options for {@linkcode splitJobBill}. */
export interface JobBillOptions {
  /** The provider's quote for the job (protocol/provider_quote.ts). */
  quote: JobQuote;
  /** Added to the skill's price (an agent-task's preset price), base units. */
  extra: bigint;
  /** The share of the price taken on delivery, percent (0: all up front). */
  onDeliveryPercent: number;
}

/** A job's bill as admitted. */
export interface JobBill {
  /** The price: the skill's plus `extra`. */
  price: bigint;
  /** Billed up front. */
  deposit: bigint;
  /** Of the deposit, the writes it covers. */
  depositWrites: bigint;
  /** The price's share billed with the result (0: none). */
  deliveryShare: bigint;
  /** The most the delivery may add for writes and blobs (0 without a delivery). */
  writesReserved: bigint;
}

/**
 * A job's bill: what the deposit asks now and what the delivery may add.
 *
 * @example
 * ```ts
 * import { splitJobBill } from "./job_bill.ts";
 * const quote = { amount: 36840n, price: 5000n, writes: 28440n, blobs: 3400n, firstWrite: 7900n };
 * const bill = splitJobBill({ quote, extra: 5000n, onDeliveryPercent: 80 });
 * if (bill.deposit !== 2000n + 7900n || bill.deliveryShare !== 8000n) throw new Error();
 * if (bill.writesReserved !== 28440n - 7900n + 3400n) throw new Error();
 * ```
 */
export function splitJobBill(o: JobBillOptions): JobBill {
  const price = o.quote.price + o.extra;
  if (o.onDeliveryPercent <= 0) {
    const deposit = o.quote.amount + o.extra;
    return {
      price,
      deposit,
      depositWrites: o.quote.writes + o.quote.blobs,
      deliveryShare: 0n,
      writesReserved: 0n,
    };
  }
  const deliveryShare = price * BigInt(o.onDeliveryPercent) / 100n;
  const depositWrites = o.quote.firstWrite;
  return {
    price,
    deposit: price - deliveryShare + depositWrites,
    depositWrites,
    deliveryShare,
    writesReserved: o.quote.writes - depositWrites + o.quote.blobs,
  };
}

/** What a delivery invoice asks, and its parts. */
export interface DeliveryBill {
  /** The invoice's amount. */
  amount: bigint;
  /** The price's delivery share. */
  share: bigint;
  /** The writes billed (events at the town's per-byte price), capped by the reserve. */
  writes: bigint;
  /** The blobs billed (as stored, at the town's blob price), capped by the reserve. */
  blobs: bigint;
}

/**
 * The delivery invoice of a job paid on delivery: its share plus the writes made, within the
 * writes its quote reserved (blobs first, then events).
 *
 * @example
 * ```ts
 * import { billDelivery } from "./job_bill.ts";
 * const bill = billDelivery({ share: 16000n, writes: 21000n, blobs: 3n, writesReserved: 500000n });
 * if (bill.amount !== 37003n) throw new Error();
 * ```
 */
export function billDelivery(o: {
  share: bigint;
  writes: bigint;
  blobs: bigint;
  writesReserved: bigint;
}): DeliveryBill {
  const blobs = o.blobs < o.writesReserved ? o.blobs : o.writesReserved;
  const room = o.writesReserved - blobs;
  const writes = o.writes < room ? o.writes : room;
  return { amount: o.share + writes + blobs, share: o.share, writes, blobs };
}
