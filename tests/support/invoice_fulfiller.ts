/**
 * A payee's invoices in a payout test: it fulfils the PREPAREs whose condition is one of its
 * secrets at the invoice's price, remembers what it fulfilled (its log, as a provider's would be),
 * shows those fulfillments (with the expiry of the PREPARE each fulfilled) when a town process asks
 * about payments in doubt, and can hold its FULFILLs back until a kill is done (the payment then
 * in doubt on the killed process's books). Like a provider it fulfills an invoice once, and never
 * a PREPARE that expired (roles/provider/payments/payment_desk.ts).
 * Shared by tests/e2e/town_shared_payouts_chaos_test.ts and
 * tests/e2e/town_shared_in_doubt_elsewhere_test.ts.
 *
 * @module
 */
import { sha256 } from "@noble/hashes/sha2.js";
import { bytesToHex } from "@noble/hashes/utils.js";
import type { IlpPrepare, IlpReply } from "../../protocol/ilp_packet.ts";
import type { InDoubtProof } from "../../protocol/payment_in_doubt.ts";

/**
 * The payee's side of invoices paid at `price`.
 *
 * @example
 * ```ts
 * import { assertEquals } from "../../harness/assert.ts";
 * import { InvoiceFulfiller } from "./invoice_fulfiller.ts";
 * const payee = new InvoiceFulfiller(2_500n);
 * const condition = payee.invoice();
 * const reply = await payee.onPrepare({
 *   destination: "test.town.beta",
 *   amount: "2500",
 *   executionCondition: condition,
 *   expiresAt: new Date(Date.now() + 30_000),
 *   data: new Uint8Array(0),
 * });
 * assertEquals(reply.type, "fulfill");
 * assertEquals(payee.fulfilled.size, 1);
 * ```
 */
export class InvoiceFulfiller {
  /** The conditions (lower-case hex) of the invoices it fulfilled. */
  readonly fulfilled = new Set<string>();
  /** The conditions (lower-case hex) of the PREPAREs that reached it, answered or not. */
  readonly arrived = new Set<string>();
  /** While set, a FULFILL leaves only once this settles (a kill armed). */
  hold: Promise<void> | undefined;
  /** While set, a PREPARE is looked at only once this settles (an expired one is then refused). */
  pause: Promise<void> | undefined;
  /** Per condition fulfilled, the expiry of the PREPARE fulfilled (ms). */
  readonly #paidExpiry = new Map<string, number>();
  readonly #price: bigint;
  readonly #secrets = new Map<string, Uint8Array>();

  constructor(price: bigint) {
    this.#price = price;
  }

  /** A new invoice: its condition, to be paid at the price. */
  invoice(): Uint8Array {
    const secret = crypto.getRandomValues(new Uint8Array(32));
    const condition = sha256(secret);
    this.#secrets.set(bytesToHex(condition), secret);
    return condition;
  }

  /**
   * The BTP client's `onPrepare`: fulfils an invoice of its own at the price, once, before its
   * PREPARE's expiry; else a reject.
   */
  onPrepare = async (p: IlpPrepare): Promise<IlpReply> => {
    const key = bytesToHex(p.executionCondition);
    this.arrived.add(key);
    if (this.pause) await this.pause;
    const secret = this.#secrets.get(key);
    if (secret && this.fulfilled.has(key)) return reject("F99", "invoice already paid");
    if (Date.now() >= p.expiresAt.getTime()) return reject("R00", "the packet expired");
    if (secret && BigInt(p.amount) === this.#price) {
      this.fulfilled.add(key);
      this.#paidExpiry.set(key, p.expiresAt.getTime());
      if (this.hold) await this.hold;
      return { type: "fulfill", fulfillment: secret, data: new Uint8Array(0) };
    }
    return reject("F02", "no such invoice");
  };

  /**
   * The BTP client's `onInDoubt`: the fulfillments it gave of the conditions asked about, each
   * with its PREPARE's expiry.
   */
  onInDoubt = (conditions: string[]): Promise<InDoubtProof[]> =>
    Promise.resolve(conditions.flatMap((c) => {
      const key = c.toLowerCase();
      const secret = this.#secrets.get(key);
      const expiresAt = this.#paidExpiry.get(key);
      return secret && expiresAt !== undefined
        ? [{ fulfillment: bytesToHex(secret), expiresAt: new Date(expiresAt).toISOString() }]
        : [];
    }));
}

function reject(code: string, message: string): IlpReply {
  return { type: "reject", code, triggeredBy: "", message, data: new Uint8Array(0) };
}
