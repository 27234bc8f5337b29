/**
 * A job payment in doubt, settled by its town's books (docs/PROTOCOL.md "The town's word on a
 * payment in doubt"). A requester killed after its payment's intent and before the PREPARE left,
 * or whose connection dropped with the PREPARE on it, cannot tell whether the provider was paid,
 * and the provider's own "not paid" is not proof (it could be paid twice by saying so). The town
 * the provider is a child of can: its books hold every paid packet it forwarded to that child
 * before the packet left. Once the PREPARE's expiry is past (no hop forwards or accepts it any
 * more), plus {@linkcode DOUBT_ASK_MARGIN_MS} for a forward's fsync under way, the requester asks
 * that town (`payment-owed` with the destination and the PREPARE's expiry,
 * protocol/payment_owed.ts; the town answers once that expiry is past on its own clock); an
 * answer `notOwed` means no money moved, and the invoice may be paid again.
 *
 * @module
 */
import type { IlpInvoice } from "../../protocol/ilp_invoice.ts";
import { sleep } from "../../protocol/backoff.ts";
import { askTownOwed } from "../town_client/owed_ask.ts";
import type { TownLink } from "./town_link.ts";

/** How long a job payment's PREPARE lives at most (roles/requester/job_payer.ts). */
export const JOB_PREPARE_LIFETIME_MS = 30_000;

/** How long after the PREPARE's expiry its town is asked. */
export const DOUBT_ASK_MARGIN_MS = 3_000;

/** How long between two questions when the town could not answer. */
const ASK_AGAIN_MS = 2_000;

/** Options for {@linkcode notForwardedByTown}. */
export interface NotForwardedOptions {
  /** The profile's town links. */
  links: () => readonly Pick<TownLink, "btp" | "townAddress">[];
  /** The invoice in doubt. */
  invoice: Pick<IlpInvoice, "condition" | "destination" | "expiresAt">;
  /** When its PREPARE was made (the intent's time: it left no sooner), unix ms. */
  sentAtMs: number;
  /** Least time an invoice must have left to be paid (protocol/spend_policy.ts). */
  minTimeLeftMs: number;
  /** Aborted when the node closes: nothing is asked then. */
  signal?: AbortSignal;
  /** Clock, unix ms (tests). Default `Date.now`. */
  now?: () => number;
}

/**
 * Waits for the PREPARE's expiry (plus the margin) and asks the town the invoice's destination is
 * a child of; its address when that town says it never forwarded the packet or refused it, so no
 * money moved; undefined otherwise: another answer (it may have been paid), no such town among
 * the profile's, a town that does not know the question, or no time left to pay the invoice.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { notForwardedByTown } from "./doubt_at_town.ts";
 *
 * // An invoice of no town of the profile: nobody to ask.
 * const town = await notForwardedByTown({
 *   links: () => [],
 *   invoice: { condition: "ab".repeat(32), destination: "g.elsewhere.beta", expiresAt: new Date() },
 *   sentAtMs: Date.now(),
 *   minTimeLeftMs: 2_000,
 * });
 * assert.equal(town, undefined);
 * ```
 */
export async function notForwardedByTown(
  options: NotForwardedOptions,
): Promise<string | undefined> {
  const { invoice, signal } = options;
  const now = options.now ?? Date.now;
  // The one town the destination is under (two that claim it: neither is asked).
  const under = options.links().filter((l) => invoice.destination.startsWith(`${l.townAddress}.`));
  if (under.length !== 1) return undefined;
  const [link] = under;
  const expiresAt = invoice.expiresAt.getTime();
  const payBy = expiresAt - options.minTimeLeftMs;
  const prepareExpiry = Math.min(expiresAt, options.sentAtMs + JOB_PREPARE_LIFETIME_MS);
  const payer = { to: invoice.destination, expiresAt: prepareExpiry };
  let at = prepareExpiry + DOUBT_ASK_MARGIN_MS;
  while (at < payBy && !signal?.aborted) {
    if (at > now()) await sleep(at - now(), signal);
    if (signal?.aborted) return undefined;
    let answer;
    try {
      answer = await askTownOwed(link.btp, [invoice.condition], { payer });
    } catch {
      // The town not reached now (its link reconnecting): asked again while time is left.
      at = now() + ASK_AGAIN_MS;
      continue;
    }
    if (answer === undefined) return undefined;
    if (answer.notOwed.includes(invoice.condition)) return link.townAddress;
    // In doubt at the town; asked again only when the town said the question came too soon
    // (its bucket, or the PREPARE's expiry not yet past on its clock).
    if (answer.retryAfterMs === undefined) return undefined;
    at = now() + answer.retryAfterMs;
  }
  return undefined;
}
