/**
 * The parts of a provider's invoice, in the event that carries it (docs/PROTOCOL.md "Who pays
 * for what"): `["bill", "<price>", "<writes>", "<blobs>"]` beside the `amount` tag of a
 * `payment-required` feedback (the deposit) or of a result (the delivery). `price` is the share
 * of the job's price (the skill's and, for an agent-task, the preset's), `writes` the provider's
 * events billed at the town's per-byte price, `blobs` its blobs at the town's blob price; they
 * add up to the amount. A requester keeps them with the payment (`wallet history`, a job's
 * `costs`); a tag that does not add up is not read.
 *
 * @module
 */

/** An invoice's parts, base units (decimal strings). */
export interface InvoiceParts {
  price: string;
  writes: string;
  blobs: string;
}

const UNITS = /^(0|[1-9][0-9]{0,19})$/;

/**
 * The tag of `parts`.
 *
 * @example
 * ```ts
 * import { billTag } from "./bill_tag.ts";
 * billTag({ price: "8000", writes: "8970", blobs: "0" }); // ["bill", "8000", "8970", "0"]
 * ```
 */
export function billTag(parts: InvoiceParts): string[] {
  return ["bill", parts.price, parts.writes, parts.blobs];
}

/**
 * The parts an event's `bill` tag gives for `amount`, or undefined (no tag, or one that does not
 * add up to it).
 *
 * @example
 * ```ts
 * import { readBillTag } from "./bill_tag.ts";
 * const tags = [["amount", "16970", "ilp:..."], ["bill", "8000", "8970", "0"]];
 * if (readBillTag(tags, 16970n)?.writes !== "8970") throw new Error();
 * if (readBillTag(tags, 17000n) !== undefined) throw new Error();
 * ```
 */
export function readBillTag(
  tags: readonly string[][],
  amount: bigint,
): InvoiceParts | undefined {
  const t = tags.find((t) => t[0] === "bill");
  if (t === undefined || t.length !== 4 || !t.slice(1).every((v) => UNITS.test(v))) {
    return undefined;
  }
  if (BigInt(t[1]) + BigInt(t[2]) + BigInt(t[3]) !== amount) return undefined;
  return { price: t[1], writes: t[2], blobs: t[3] };
}
