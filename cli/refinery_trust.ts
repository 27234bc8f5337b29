/**
 * The trust the refinery's order reads of each provider (docs/AGENTS.md "The refinery"): the
 * combined rank `turnpike trust` and `providers` give (cli/profile_trust.ts `rosterTrust`: the
 * profile's signed receipts and its roster's NIP-85 assertions, docs/PROTOCOL.md "Trust
 * assertions (NIP-85)"), so a provider the Mayor's roster vouches for goes ahead of a stranger
 * while one only keys outside the roster speak for does not. A provider nothing speaks for ranks
 * 0, as in `providers`; a town that cannot be read leaves the receipts' part alone.
 *
 * @module
 */
import { rosterTrust } from "./profile_trust.ts";

/** Options for {@linkcode refineryTrust}. */
export interface RefineryTrustOptions {
  /** The profile's state dir (its wallet, its receipts). */
  stateDir: string;
  /** Its towns: the roster and its assertions are read there. */
  relays: string[];
  /** The providers of the results in the queue. */
  providers: string[];
}

/**
 * Each provider's combined rank (0-100), by pubkey.
 *
 * It reads the roster's assertions from the towns, so it has no example that runs here:
 * tests/e2e/refinery_roster_trust_test.ts
 */
export async function refineryTrust(o: RefineryTrustOptions): Promise<Map<string, number>> {
  if (o.providers.length === 0) return new Map();
  const combined = await rosterTrust({
    stateDir: o.stateDir,
    relays: o.relays,
    subjects: [...new Set(o.providers)],
  });
  return new Map([...combined].map(([who, t]) => [who, t.rank]));
}
