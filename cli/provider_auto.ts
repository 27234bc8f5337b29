/**
 * `job submit --provider auto`: the best-ranked online provider for the job's kind (and, for an
 * agent task, its `--agent` preset) whose price is within the bid and the spend policy's per-job
 * maximum, by trust and price (roles/requester/provider_ranking.ts; trust from the profile's
 * receipts and its roster's NIP-85 assertions, cli/profile_trust.ts). The pick is said before the
 * job is posted: a `pick` line with `--json`, a line on stderr without. When no offer is within
 * the bid, nothing is picked and `job submit`'s own check says why.
 *
 * @module
 */
import { nip19 } from "nostr-tools";
import { kindOfSkill, type ProviderListing } from "../roles/requester/provider_directory.ts";
import { parseAmount, resolveJobKind } from "../roles/requester/job_spec.ts";
import { precheckJob } from "../roles/requester/job_precheck.ts";
import { rankOffers } from "../roles/requester/provider_ranking.ts";
import { rosterTrust } from "./profile_trust.ts";
import { printJsonLine } from "./json_line.ts";
import { terminalText } from "./terminal_text.ts";

/** Options for {@linkcode autoProvider}. */
export interface AutoProviderOptions {
  /** The profile's state dir (its wallet, receipts). */
  stateDir: string;
  /** Its towns: the roster and its assertions are read there. */
  relays: string[];
  /** `--bid`, base units, as typed. */
  bid?: string;
  /** The spend policy's most paid for one job. */
  perJobMax?: bigint;
  /** `--agent`: an agent task's preset. */
  agent?: string;
  /** Print the `pick` line as JSON (else text on stderr). */
  json: boolean;
}

/**
 * The `--provider` list `auto` stands for: the one provider picked, or none.
 *
 * It reads the providers and trust from a town, so it has no example that runs here:
 * tests/e2e/trust_assertions_test.ts
 */
export async function autoProvider(
  kindText: string,
  directory: readonly ProviderListing[],
  o: AutoProviderOptions,
): Promise<string[]> {
  let kind: number;
  try {
    kind = resolveJobKind(kindText, (name) => kindOfSkill(directory, name));
  } catch {
    return []; // reported by `job submit` as it reports any unknown kind
  }
  const bid = o.bid === undefined ? undefined : parseAmount(o.bid, "--bid");
  const check = precheckJob(directory, { kind, bid, providers: [], agent: o.agent });
  if (!check.ok) return [];
  const limits = [bid, o.perJobMax].filter((x): x is bigint => x !== undefined);
  const within = check.offers.filter((offer) => limits.every((l) => offer.price <= l));
  if (within.length === 0) return [];
  const combined = await rosterTrust({
    stateDir: o.stateDir,
    relays: o.relays,
    subjects: [...new Set(within.map((offer) => offer.provider.pubkey))],
  });
  const trust = new Map([...combined].map(([who, t]) => [who, t.rank]));
  const [best] = rankOffers(within, trust);
  const pick = {
    provider: best.provider.pubkey,
    npub: nip19.npubEncode(best.provider.pubkey),
    name: best.provider.name,
    kind,
    skill: best.skill.name,
    ...(o.agent === undefined ? {} : { agent: o.agent }),
    price: String(best.price),
    trust: trust.get(best.provider.pubkey) ?? 0,
    candidates: within.length,
  };
  if (o.json) printJsonLine("pick", pick);
  else {
    console.error(terminalText(
      `provider: ${pick.name} (${pick.provider.slice(0, 12)}), trust ${pick.trust.toFixed(1)}, ` +
        `price ${pick.price}, best of ${pick.candidates}`,
    ));
  }
  return [best.provider.pubkey];
}
