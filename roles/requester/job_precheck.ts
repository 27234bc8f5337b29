/**
 * The check `job submit` makes before it pays anything: is an online provider serving the job's
 * kind at a price within the bid? If not, the job would wait for its timeout with nobody to take
 * it, so it is refused with who serves the kind and at what price. The announced price is the
 * skill's; a provider's quote adds its own writes for the job, so passing this check is
 * necessary, not sufficient (the provider's `payment-required` says the rest).
 *
 * @module
 */
import { jobNameFromKind } from "../../protocol/job_kind_names.ts";
import { type KindOffer, offersFor, type ProviderListing } from "./provider_directory.ts";

/** What the check found. */
export type PrecheckOutcome =
  | { ok: true; offers: KindOffer[] }
  | {
    ok: false;
    code: "no-provider" | "bid-below-price";
    message: string;
    suggestion: string;
    /** Figures to act on: `price` (the cheapest online), `bid`, `provider`, `skill`. */
    fields: Record<string, string>;
  };

/** Options for {@linkcode precheckJob}. */
export interface PrecheckOptions {
  kind: number;
  /** Most paid to the provider; absent: any price. */
  bid?: bigint;
  /**
   * The spend policy's most paid for one job (`--max-per-job`); absent: no cap. A price above it
   * is refused as one above the bid: the node would refuse to pay it after the request's write
   * was paid.
   */
  maxPerJob?: bigint;
  /** Only these providers (the job's `p` tags); empty: any. */
  providers: readonly string[];
  /**
   * An agent-task's preset (its `agent` param): only skills that announce it are offers, each at
   * its price plus the preset's (docs/PROTOCOL.md "agent-task (kind 5603)").
   */
  agent?: string;
}

/**
 * Checks a job against the providers the town knows.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { precheckJob } from "./job_precheck.ts";
 *
 * const skills = [{ name: "ci-run", kinds: [5600], price: "5000" }];
 * const directory = [{ pubkey: "ab".repeat(32), name: "mayor", skills, online: true }];
 * const check = precheckJob(directory, { kind: 5600, bid: 100000n, providers: [] });
 * assert.equal(check.ok, true);
 * const low = precheckJob(directory, { kind: 5600, bid: 10n, providers: [] });
 * assert.equal(low.ok ? "" : low.code, "bid-below-price");
 * ```
 */
export function precheckJob(
  directory: readonly ProviderListing[],
  o: PrecheckOptions,
): PrecheckOutcome {
  const what = describeKind(o.kind);
  const chosen = (p: ProviderListing) => o.providers.length === 0 || o.providers.includes(p.pubkey);
  const offers = withPreset(offersFor(directory.filter(chosen), o.kind), o.agent);
  if (offers.length === 0) {
    const offline = directory.filter((p) =>
      chosen(p) && p.skills.some((s) => s.kinds.includes(o.kind))
    );
    return {
      ok: false,
      code: "no-provider",
      message: `no online provider serves ${what}` +
        (o.agent === undefined ? "" : ` with the agent preset ${JSON.stringify(o.agent)}`) +
        (o.providers.length > 0 ? " among the --provider ones" : ""),
      suggestion: (offline.length > 0
        ? `${
          offline.map((p) => `${p.name} (${p.pubkey.slice(0, 12)})`).join(", ")
        } serve it but are offline; `
        : "") + "`turnpike providers` lists who serves what; --force posts the job anyway",
      fields: { kind: String(o.kind), offline: String(offline.length) },
    };
  }
  const cheapest = offers[0];
  // The cap that binds: the bid, or the per-job maximum when it is lower.
  const capped = o.maxPerJob !== undefined && (o.bid === undefined || o.maxPerJob < o.bid);
  const limit = capped ? o.maxPerJob : o.bid;
  if (limit !== undefined && cheapest.price > limit) {
    const preset = o.agent === undefined ? "" : ` and its preset ${o.agent}`;
    const who = `${cheapest.provider.name} (${cheapest.provider.pubkey.slice(0, 12)}) serves it ` +
      `with ${cheapest.skill.name}${preset} from ${cheapest.price}`;
    return {
      ok: false,
      code: "bid-below-price",
      message: capped
        ? `--max-per-job ${o.maxPerJob} is below every online provider's price for ${what}`
        : `the bid ${o.bid} is below every online provider's price for ${what}`,
      suggestion: capped
        ? `${who}: raise --max-per-job (max_per_job) to at least that`
        : `${who}: raise --bid to at least that`,
      fields: {
        kind: String(o.kind),
        ...(o.bid === undefined ? {} : { bid: String(o.bid) }),
        ...(o.maxPerJob === undefined ? {} : { maxPerJob: String(o.maxPerJob) }),
        price: String(cheapest.price),
        provider: cheapest.provider.pubkey,
        skill: cheapest.skill.name,
        ...(o.agent === undefined ? {} : { agent: o.agent }),
      },
    };
  }
  return { ok: true, offers };
}

/** The offers whose skill announces the preset `agent`, each priced with it; all without one. */
function withPreset(offers: KindOffer[], agent: string | undefined): KindOffer[] {
  if (agent === undefined) return offers;
  const priced: KindOffer[] = [];
  for (const offer of offers) {
    const preset = offer.skill.agents?.find((a) => a.name === agent);
    if (preset !== undefined) priced.push({ ...offer, price: offer.price + BigInt(preset.price) });
  }
  return priced.sort((a, b) => (a.price < b.price ? -1 : a.price > b.price ? 1 : 0));
}

function describeKind(kind: number): string {
  const name = jobNameFromKind(kind);
  return name === undefined ? `kind ${kind}` : `kind ${kind} (${name})`;
}
