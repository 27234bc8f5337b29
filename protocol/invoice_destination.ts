/**
 * Whom an invoice pays: a requester pays a provider's invoice only when its destination is the
 * provider's announced ILP address (its kind 10032, `protocol/peer_info.ts`) or an address under
 * it. The invoice and the announcement are signed by the same key, but the invoice names any
 * destination it likes: without this rule a provider could send the requester's money to an
 * accomplice's account at the town, and the payment log would book it as paid to the provider
 * (docs/PROTOCOL.md, "Paying a provider").
 *
 * @module
 */

/** Why an invoice's destination is not paid. */
export type InvoiceDestinationRefusal =
  /** The provider announces no ILP address the requester could read. */
  | "no-announced-address"
  /** The destination is neither the announced address nor under it. */
  | "foreign-destination";

/** The decision: pay there, or refuse with a reason and a human detail. */
export type InvoiceDestinationDecision =
  | { pay: true }
  | { pay: false; reason: InvoiceDestinationRefusal; detail: string };

/**
 * Whether `address` is `prefix` or under it (`prefix` then a `.` segment boundary): `g.town.bob`
 * is under `g.town` but `g.townx` is not.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { isUnderIlpAddress } from "./invoice_destination.ts";
 *
 * assert.equal(isUnderIlpAddress("g.town.bob.0a1b", "g.town.bob"), true);
 * assert.equal(isUnderIlpAddress("g.town.bobby.0a1b", "g.town.bob"), false);
 * ```
 */
export function isUnderIlpAddress(address: string, prefix: string): boolean {
  return address === prefix || address.startsWith(`${prefix}.`);
}

/**
 * Decides whether an invoice's destination pays the provider that announced `announced`
 * (undefined: it announced none).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { checkInvoiceDestination } from "./invoice_destination.ts";
 *
 * assert.deepEqual(checkInvoiceDestination("g.town.bob.0a1b", "g.town.bob"), { pay: true });
 * const d = checkInvoiceDestination("g.town.mallory.0a1b", "g.town.bob");
 * assert.equal(d.pay ? "pay" : d.reason, "foreign-destination");
 * ```
 */
export function checkInvoiceDestination(
  destination: string,
  announced: string | undefined,
): InvoiceDestinationDecision {
  if (announced === undefined) {
    return {
      pay: false,
      reason: "no-announced-address",
      detail: `the provider announces no ILP address (kind 10032), so nothing tells whether ` +
        `${destination} is its own`,
    };
  }
  if (isUnderIlpAddress(destination, announced)) return { pay: true };
  return {
    pay: false,
    reason: "foreign-destination",
    detail: `invoice pays ${destination}, which is not under the provider's announced ILP ` +
      `address ${announced}`,
  };
}
