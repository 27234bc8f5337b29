/**
 * A payee's invoices in a payout test: it fulfils the PREPAREs whose condition is one of its
 * secrets at the invoice's price, remembers what it fulfilled (its log, as a provider's would be),
 * shows those fulfillments when a town process asks about payments in doubt, and can hold its
 * FULFILLs back until a kill is done (the payment then in doubt on the killed process's books).
 * Shared by tests/e2e/town_shared_payouts_chaos_test.ts and
 * tests/e2e/town_shared_in_doubt_elsewhere_test.ts.
 *
 * @module
 */
import { sha256 } from "@noble/hashes/sha2.js";
import { bytesToHex } from "@noble/hashes/utils.js";
import type { IlpPrepare, IlpReply } from "../../protocol/ilp_packet.ts";

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
  /** While set, a FULFILL leaves only once this settles (a kill armed). */
  hold: Promise<void> | undefined;
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

  /** The BTP client's `onPrepare`: fulfils an invoice of its own at the price, else F02. */
  onPrepare = async (p: IlpPrepare): Promise<IlpReply> => {
    const key = bytesToHex(p.executionCondition);
    const secret = this.#secrets.get(key);
    if (secret && BigInt(p.amount) === this.#price) {
      this.fulfilled.add(key);
      if (this.hold) await this.hold;
      return { type: "fulfill", fulfillment: secret, data: new Uint8Array(0) };
    }
    return {
      type: "reject",
      code: "F02",
      triggeredBy: "",
      message: "no such invoice",
      data: new Uint8Array(0),
    };
  };

  /** The BTP client's `onInDoubt`: the fulfillments it gave of the conditions asked about. */
  onInDoubt = (conditions: string[]): Promise<string[]> =>
    Promise.resolve(conditions.flatMap((c) => {
      const key = c.toLowerCase();
      const secret = this.#secrets.get(key);
      return secret && this.fulfilled.has(key) ? [bytesToHex(secret)] : [];
    }));
}
