/**
 * A channel-less peer's rank, 0-100, from its history on the town's credit counts
 * (state/payments/credit_line.ts): what the town asserts of it when it publishes its trust
 * (docs/PROTOCOL.md "Trust assertions (NIP-85)"). With `span` the growth the operator allows
 * (`ceiling - floor`),
 *
 * ```
 * rank = 0                                  while in credit for longer than the grace
 *      = 100 * repaid / (repaid + span)     otherwise
 * ```
 *
 * @module
 */
import { type CreditLineTerms, type CreditStanding, inDefault } from "./credit_line.ts";

/**
 * The rank a standing gives (see the module doc).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { creditRank } from "./credit_rank.ts";
 *
 * const terms = { floor: 5_000n, ceiling: 20_000n, graceMs: 60_000 };
 * assert.equal(creditRank({ repaid: 15_000n, mark: 0n }, terms, 0), 50);
 * assert.equal(creditRank({ repaid: 15_000n, since: 0, mark: 0n }, terms, 120_000), 0);
 * ```
 */
export function creditRank(standing: CreditStanding, terms: CreditLineTerms, now: number): number {
  if (inDefault(standing, terms, now)) return 0;
  if (standing.repaid <= 0n) return 0;
  const span = terms.ceiling > terms.floor ? terms.ceiling - terms.floor : 1n;
  return 100 * Number(standing.repaid) / Number(standing.repaid + span);
}
