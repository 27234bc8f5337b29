/**
 * The share of the town-wide limits one process of a town on several processes enforces
 * (docs/OPERATIONS.md, "A town on several machines"). Limits a process counts in memory (SPSP
 * answers per minute, failed BTP auths per address, connections per address) would let a
 * client that reaches every process multiply them by the number of processes: each process
 * therefore enforces its share, the limit divided by the processes the operator declared
 * (`[store] processes`), so the town as a whole never allows more than the configured limit.
 * A client that reaches only one process gets that share. On a PostgreSQL store they are held
 * town-wide in the database instead: the SPSP limits per account and in total and failed BTP
 * auths in rate buckets (state/postgres/postgres_rate_buckets.ts, roles/town/shared_auth_failures.ts),
 * connections per address as live counts (state/postgres/postgres_connection_counts.ts). The SPSP and
 * connection shares here apply only while the database cannot be reached.
 *
 * @module
 */
import type { TownLimits } from "../../config/town_limits.ts";

/** The limits counted per process that a client reaching every process could multiply. */
export const TOWN_WIDE_LIMITS = [
  "spspTotalPerMinute",
  "spspPerAccountPerMinute",
  "btpAuthFailuresPerMinute",
  "maxConnectionsPerAddress",
] as const satisfies readonly (keyof TownLimits)[];

/**
 * `limits` with each town-wide limit divided by `processes` (rounded down, at least 1).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { shareOfTownLimits } from "./town_share.ts";
 * import { DEFAULT_TOWN_LIMITS } from "../../config/town_limits.ts";
 *
 * const share = shareOfTownLimits({ ...DEFAULT_TOWN_LIMITS, btpAuthFailuresPerMinute: 5 }, 3);
 * assert.equal(share.btpAuthFailuresPerMinute, 1); // 5 / 3, rounded down
 * ```
 */
export function shareOfTownLimits(limits: TownLimits, processes: number): TownLimits {
  if (processes <= 1) return limits;
  const out = { ...limits };
  for (const name of TOWN_WIDE_LIMITS) {
    out[name] = Math.max(1, Math.floor(limits[name] / processes));
  }
  return out;
}
