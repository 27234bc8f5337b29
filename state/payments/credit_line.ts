/**
 * A channel-less peer's credit line learned from its history on the town's own books
 * (docs/PROTOCOL.md "The credit line from history"). The pure rules both
 * credit stores apply under the same lock as a packet's take (state/payments/peer_credit.ts,
 * state/postgres/postgres_peer_credit.ts), so the line a packet is checked against is the one
 * its own count decided.
 *
 * The peer is **in credit** while it has spent (its packets and its payouts) more than the town
 * ever owed it. Going into credit opens an episode: `since` (when) and `mark` (what the town owed
 * it then, less its payouts). The episode closes when the town owes it its spending again
 * (earnings covered the use): the packets it spent from `mark` on are **repaid**, added to
 * `repaid`, unless the episode lasted longer than `graceMs`: a **default**, which sets `repaid`
 * to 0. While an episode is overdue the line is the floor at once, before it closes.
 *
 * ```
 * line = floor                                  while in credit for longer than the grace
 *      = min(ceiling, floor + repaid)           otherwise
 * ```
 *
 * @module
 */

/** What the town configured for a peer's line: its bounds and how long credit may stay used. */
export interface CreditLineTerms {
  /** A newcomer's line, and a defaulter's: base units. */
  floor: bigint;
  /** The most the line grows to: base units, at least `floor`. */
  ceiling: bigint;
  /** How long a peer may stay in credit before it is a default: ms. */
  graceMs: number;
}

/** What a take on a learned line is checked against. */
export interface CreditLineAsk {
  /** Everything the town ever owed the peer (its books' `owed`): added to the line. */
  owed: bigint;
  terms: CreditLineTerms;
  /** The clock (unix ms). */
  now: number;
}

/** A peer's history on the credit counts: see the module doc. */
export interface CreditStanding {
  /** Spent on packets in credit episodes that closed in time since the last default. */
  repaid: bigint;
  /** When the open credit episode began (unix ms); undefined: not in credit. */
  since?: number;
  /** What the town owed the peer less its payouts when the open episode began. */
  mark: bigint;
}

/** A peer's counts and standing, as a credit store keeps them. */
export interface CreditRow {
  /** Its packets and its payouts. */
  spent: bigint;
  /** Its payouts. */
  paid: bigint;
  standing: CreditStanding;
}

/** A newcomer's standing. */
export const NEW_STANDING: CreditStanding = { repaid: 0n, mark: 0n };

/**
 * The standing once an episode covered by `owed` is closed (repaid, or a default when it lasted
 * past the grace); the same standing when nothing closes.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 *
 * const terms = { floor: 1_000n, ceiling: 10_000n, graceMs: 60_000 };
 * const row = { spent: 3_000n, paid: 0n, standing: { repaid: 0n, since: 0, mark: 500n } };
 * // Owed 3,000 at 10 s: the 2,500 spent since it went into credit are repaid.
 * assert.equal(closeEpisode(row, { owed: 3_000n, terms, now: 10_000 }).repaid, 2500n);
 * // The same at 2 minutes: a default.
 * assert.equal(closeEpisode(row, { owed: 3_000n, terms, now: 120_000 }).repaid, 0n);
 * ```
 */
export function closeEpisode(row: CreditRow, ask: CreditLineAsk): CreditStanding {
  const { standing } = row;
  if (standing.since === undefined || row.spent > ask.owed) return standing;
  if (inDefault(standing, ask.terms, ask.now)) return { repaid: 0n, mark: 0n };
  const used = row.spent - row.paid - standing.mark;
  return { repaid: standing.repaid + (used > 0n ? used : 0n), mark: 0n };
}

/**
 * Whether a standing is a default: in credit for longer than the grace (see the module doc).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 *
 * const terms = { floor: 1_000n, ceiling: 10_000n, graceMs: 60_000 };
 * assert.equal(inDefault({ repaid: 0n, since: 0, mark: 0n }, terms, 120_000), true);
 * assert.equal(inDefault({ repaid: 0n, since: 0, mark: 0n }, terms, 60_000), false);
 * assert.equal(inDefault({ repaid: 0n, mark: 0n }, terms, 120_000), false);
 * ```
 */
export function inDefault(
  standing: CreditStanding,
  terms: Pick<CreditLineTerms, "graceMs">,
  now: number,
): boolean {
  return standing.since !== undefined && now - standing.since > terms.graceMs;
}

/**
 * The line a standing gives (see the module doc), before what the town owes is added.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 *
 * const terms = { floor: 1_000n, ceiling: 10_000n, graceMs: 60_000 };
 * assert.equal(creditLine({ repaid: 4_000n, mark: 0n }, terms, 0), 5000n);
 * assert.equal(creditLine({ repaid: 4_000n, since: 0, mark: 0n }, terms, 120_000), 1000n);
 * ```
 */
export function creditLine(standing: CreditStanding, terms: CreditLineTerms, now: number): bigint {
  if (inDefault(standing, terms, now)) return terms.floor;
  const grown = terms.floor + standing.repaid;
  return grown < terms.ceiling ? grown : terms.ceiling > terms.floor ? terms.ceiling : terms.floor;
}

/** What {@linkcode lineTake} decided. */
export interface LineTakeStep {
  /** The row after the take, or after the closing alone when the take is refused. */
  row: CreditRow;
  /** The limit the take was checked against: the line plus what the town owes. */
  limit: bigint;
  /** Whether the amount was counted. */
  taken: boolean;
}

/**
 * A take of `amount` on a learned line: closes a covered episode, checks the total against the
 * line plus `owed`, and opens an episode when the take puts the peer in credit.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 *
 * const ask = { owed: 0n, terms: { floor: 1_000n, ceiling: 10_000n, graceMs: 60_000 }, now: 5 };
 * const row = { spent: 0n, paid: 0n, standing: NEW_STANDING };
 * const step = lineTake(row, 600n, ask);
 * assert.deepEqual([step.taken, step.row.standing.since], [true, 5]);
 * assert.equal(lineTake(step.row, 600n, ask).taken, false);
 * ```
 */
export function lineTake(row: CreditRow, amount: bigint, ask: CreditLineAsk): LineTakeStep {
  const standing = closeEpisode(row, ask);
  const limit = creditLine(standing, ask.terms, ask.now) + ask.owed;
  const closed = { ...row, standing };
  if (row.spent + amount > limit) return { row: closed, limit, taken: false };
  const spent = row.spent + amount;
  const opens = standing.since === undefined && spent > ask.owed;
  return {
    row: {
      spent,
      paid: row.paid,
      standing: opens ? { ...standing, since: ask.now, mark: ask.owed - row.paid } : standing,
    },
    limit,
    taken: true,
  };
}
