/**
 * A counterparty's trust from this profile's own receipts and its roster's word
 * (docs/PROTOCOL.md "Trust assertions (NIP-85)"). The own score (protocol/trust_score.ts) is
 * `100 * P / (P + N + K)`, `K` the weight of the evidence a newcomer lacks. An assertion (NIP-85
 * kind 30382, protocol/trust_assertion.ts) from a key on the roster counts as
 * {@linkcode ASSERTION_WEIGHT} weight of evidence at its rank: `w * r / 100` positive, the rest
 * negative; all of them together weigh at most {@linkcode ROSTER_WEIGHT_CAP} (`K`), shared
 * equally when more speak. The roster's word fills the place of the missing evidence, so
 *
 *     rank = 100 * (P + sum(w_i * r_i / 100)) / (P + N + K)
 *
 * A newcomer no receipt speaks for ranks what one roster key says at half its rank, what two or
 * more say at their mean; as the profile's own receipts grow, their part shrinks as `K` does
 * against `P + N`. An assertion from a key not on the roster, or from the profile itself, or
 * about another subject is ignored entirely.
 *
 * @module
 */
import { TRUST_PRIOR_WEIGHT, type TrustScore } from "./trust_score.ts";
import type { TrustAssertion } from "./trust_assertion.ts";

/** What one roster key's assertion weighs, in free jobs' worth of evidence. */
export const ASSERTION_WEIGHT = 4;
/** What all roster keys' assertions weigh at most: the prior's weight. */
export const ROSTER_WEIGHT_CAP = TRUST_PRIOR_WEIGHT;

/** One roster key's word as counted. */
export interface RosterVoice {
  author: string;
  /** Its asserted rank, 0-100. */
  rank: number;
  /** The weight it was given. */
  weight: number;
  /** The service that said it for `author` (its kind 10040), when not `author` itself. */
  via?: string;
}

/** A counterparty's trust from both parts. */
export interface CombinedTrust {
  counterparty: string;
  /** 0-100, one decimal. */
  rank: number;
  /** The profile's own score from its receipts. */
  own: TrustScore;
  /** The roster's assertions counted, by author. */
  roster: RosterVoice[];
}

/** Options for {@linkcode combineTrust}. */
export interface CombineTrustOptions {
  /** The profile's roster: the only authors counted. */
  roster: ReadonlySet<string>;
  /** The profile's own pubkey: its own assertions are its receipts, counted once. */
  self?: string;
}

/**
 * The combined trust of `own.counterparty`; see the module doc.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { combineTrust } from "./roster_trust.ts";
 *
 * const [x, bob] = ["cd".repeat(32), "ef".repeat(32)];
 * const own = { counterparty: x, rank: 0, positive: 0, negative: 0, receipts: 0, lastAtMs: 0 };
 * const said = [{ author: bob, subject: x, rank: 60, createdAt: 0 }];
 * assert(combineTrust(own, said, { roster: new Set([bob]) }).rank === 30);
 * assert(combineTrust(own, said, { roster: new Set() }).rank === 0);
 * ```
 */
export function combineTrust(
  own: TrustScore,
  assertions: readonly TrustAssertion[],
  o: CombineTrustOptions,
): CombinedTrust {
  // The newest word of each roster author about this subject, and nothing else.
  const newest = new Map<string, TrustAssertion>();
  for (const a of assertions) {
    if (a.subject !== own.counterparty || !o.roster.has(a.author) || a.author === o.self) continue;
    const seen = newest.get(a.author);
    if (seen === undefined || seen.createdAt < a.createdAt) newest.set(a.author, a);
  }
  const n = newest.size;
  const weight = n === 0 ? 0 : Math.min(ASSERTION_WEIGHT, ROSTER_WEIGHT_CAP / n);
  const roster = [...newest.values()].map((a) => ({
    author: a.author,
    rank: a.rank,
    weight,
    ...(a.via === undefined ? {} : { via: a.via }),
  }));
  const vouched = roster.reduce((s, v) => s + v.weight * v.rank / 100, 0);
  const rank = 100 * (own.positive + vouched) /
    (own.positive + own.negative + TRUST_PRIOR_WEIGHT);
  return { counterparty: own.counterparty, rank: Math.round(rank * 10) / 10, own, roster };
}

/**
 * An empty own score: a counterparty this profile has no receipt of.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { noReceiptsScore } from "./roster_trust.ts";
 *
 * assert(noReceiptsScore("cd".repeat(32)).rank === 0);
 * ```
 */
export function noReceiptsScore(counterparty: string): TrustScore {
  return { counterparty, rank: 0, positive: 0, negative: 0, receipts: 0, lastAtMs: 0 };
}
