/**
 * `turnpike providers [--kind K]`: who serves what on the town, from the providers'
 * announcements (each skill's name, kinds and price) and heartbeats (online while one has not
 * expired). `--kind` takes a kind number or a skill name. Text is a table, `--output csv` one
 * row per skill, `--output json` one object with every provider and the `network` field. The
 * providers come in the order of preference: trust (the profile's receipts and its roster's
 * assertions) and price (roles/requester/provider_ranking.ts).
 *
 * @module
 */
import { csvRow } from "../protocol/csv_row.ts";
import type { Command } from "commander";
import { onRoster } from "./gt_roster_flag.ts";
import { formatAssetAmount } from "../protocol/asset_amount.ts";
import {
  fetchProviderDirectory,
  type ProviderListing,
} from "../roles/requester/provider_directory.ts";
import { networkField, printNetworkLine } from "./network_line.ts";
import {
  addTownReadOptions,
  townReadError,
  type TownReadFlags,
  townReadTarget,
} from "./town_read.ts";
import { printJsonLine } from "./json_line.ts";
import { terminalText } from "./terminal_text.ts";
import { rosterTrust } from "./profile_trust.ts";
import { rankProviders } from "../roles/requester/provider_ranking.ts";

/** Options of `turnpike providers`. */
interface ProvidersFlags extends TownReadFlags {
  kind?: string;
  roster?: boolean;
}

/**
 * The providers with only the skills that serve `kind` (a kind number or a skill name); all of
 * them without one. Providers left with no skill are dropped.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { providersServing } from "./providers_command.ts";
 *
 * const providers = [{
 *   pubkey: "ab".repeat(32),
 *   name: "beta",
 *   online: true,
 *   skills: [{ name: "echo", kinds: [5601], price: "1" }, { name: "ocr", kinds: [5602], price: "2" }],
 * }];
 * assert.deepEqual(providersServing(providers, "5601")[0].skills.map((s) => s.name), ["echo"]);
 * assert.deepEqual(providersServing(providers, "translate"), []);
 * ```
 */
export function providersServing(
  providers: readonly ProviderListing[],
  kind: string | undefined,
): ProviderListing[] {
  if (kind === undefined) return [...providers];
  const number = /^\d+$/.test(kind) ? Number(kind) : undefined;
  return providers
    .map((p) => ({
      ...p,
      skills: p.skills.filter((s) =>
        number === undefined ? s.name === kind : s.kinds.includes(number)
      ),
    }))
    .filter((p) => p.skills.length > 0);
}

/**
 * A price as text: asset units when the scale is known, else base units.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { priceText } from "./providers_command.ts";
 *
 * assert.equal(priceText("100", { assetCode: "M2M", assetScale: 6 }), "0.0001 M2M");
 * ```
 */
export function priceText(
  price: string,
  asset: Pick<ProviderListing, "assetCode" | "assetScale">,
): string {
  if (asset.assetScale === undefined) return `${price} ${asset.assetCode ?? "base units"}`;
  return formatAssetAmount(BigInt(price), {
    assetCode: asset.assetCode ?? "",
    assetScale: asset.assetScale,
  }).trim();
}

/**
 * How long ago a unix time was, shortly: `12s`, `5m`, `3h`, `2d`; `never` without one.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { agoText } from "./providers_command.ts";
 *
 * const now = Math.floor(Date.now() / 1000);
 * assert.equal(agoText(now - 90, now), "1m");
 * ```
 */
export function agoText(atSec: number | undefined, nowSec: number): string {
  if (atSec === undefined) return "never";
  const s = Math.max(0, nowSec - atSec);
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m`;
  if (s < 86400) return `${Math.floor(s / 3600)}h`;
  return `${Math.floor(s / 86400)}d`;
}

/**
 * The table `providers` prints: one line per skill.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { providersTable } from "./providers_command.ts";
 *
 * const now = Math.floor(Date.now() / 1000);
 * const providers = [{
 *   pubkey: "ab".repeat(32),
 *   name: "beta",
 *   online: true,
 *   lastSeen: now - 90,
 *   skills: [{ name: "echo", kinds: [5601], price: "1" }],
 * }];
 * assert(providersTable(providers, now).some((line) => line.includes("beta")));
 * ```
 */
export function providersTable(
  providers: readonly ProviderListing[],
  nowSec: number,
  trust: ReadonlyMap<string, number> = new Map(),
): string[] {
  const rows = [["provider", "pubkey", "trust", "skill", "kinds", "price", "online", "seen"]];
  for (const p of providers) {
    for (const s of p.skills) {
      rows.push([
        p.name,
        p.pubkey.slice(0, 12),
        // This profile's receipts of the provider and its roster's word (docs/PROTOCOL.md).
        trust.has(p.pubkey) ? trust.get(p.pubkey)!.toFixed(1) : "-",
        s.agents
          ? `${s.name} (${s.agents.map((a) => a.name).join(", ")})`
          : s.models
          ? `${s.name} (${s.models.map((m) => m.name).join(", ")})`
          : s.name,
        s.kinds.join(" "),
        // The most a job costs; billed on delivery, the writes only as made (handler_bill.ts).
        s.bill !== undefined && s.bill.onDelivery > 0
          ? `${priceText(s.bill.skillPrice, p)} + writes (at most ${
            priceText(String(BigInt(s.price) - BigInt(s.bill.skillPrice)), p)
          })`
          : priceText(s.price, p),
        p.online ? "yes" : "no",
        agoText(p.lastSeen, nowSec),
      ]);
      // Each model preset's price, added to the skill's, and its tokens, billed on delivery.
      for (const m of s.models ?? []) {
        rows.push([
          "",
          "",
          "",
          terminalText(`  model ${m.name}`),
          "",
          `+ ${priceText(m.price, p)} + tokens (${m.inputPerMillion}/${m.outputPerMillion} per M)`,
          "",
          "",
        ]);
      }
      // Each preset's price, added to the skill's; its model paid by the provider out of it.
      for (const a of s.agents ?? []) {
        rows.push([
          "",
          "",
          "",
          terminalText(`  preset ${a.name}`),
          "",
          `+ ${priceText(a.price, p)}`,
          "",
          "",
        ]);
      }
    }
  }
  // Every cell is the provider's word (its kind 31990): its controls shown as text, then measured.
  for (const r of rows) r.forEach((c, i) => r[i] = terminalText(c));
  const widths = rows[0].map((_, i) => Math.max(...rows.map((r) => r[i].length)));
  return rows.map((r) => r.map((c, i) => c.padEnd(widths[i])).join("  ").trimEnd());
}

/**
 * The CSV form: a header, then one row per skill (kinds space-separated).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { providersCsv } from "./providers_command.ts";
 *
 * const providers = [{
 *   pubkey: "ab".repeat(32),
 *   name: "beta",
 *   online: true,
 *   skills: [{ name: "echo", kinds: [5601], price: "1" }],
 * }];
 * assert(providersCsv(providers).some((line) => line.includes("beta")));
 * ```
 */
export function providersCsv(providers: readonly ProviderListing[]): string[] {
  const lines = ["name,pubkey,skill,kinds,price,asset,scale,online,last_seen"];
  for (const p of providers) {
    for (const s of p.skills) {
      lines.push(csvRow([
        p.name,
        p.pubkey,
        s.name,
        s.kinds.join(" "),
        s.price,
        p.assetCode,
        p.assetScale,
        p.online,
        p.lastSeen,
      ]));
    }
  }
  return lines;
}

/**
 * Adds `providers` to the program.
 *
 * @example
 * ```ts
 * import { Command } from "commander";
 * registerProvidersCommand(new Command("turnpike"));
 * ```
 */
export function registerProvidersCommand(program: Command): void {
  addTownReadOptions(
    program.command("providers")
      .description("who serves what kind (skill), at what price, online or not")
      .option("--kind <kind>", "only the skills serving this kind number or skill name")
      .option("--roster", "only the providers on the profile's roster (`gt roster`)"),
  ).action(async (_o: unknown, cmd: Command) => {
    const opts = cmd.optsWithGlobals<ProvidersFlags>();
    const target = await townReadTarget(opts, cmd);
    printNetworkLine(target.network);
    const nowSec = Math.floor(Date.now() / 1000);
    const all = await fetchProviderDirectory({
      relayUrl: target.relayUrl,
      moreRelays: target.moreRelays,
      nowSec,
      onRelayFailure: (f) =>
        console.error(terminalText(`warning: town ${f.relayUrl} not read: ${f.error.message}`)),
    }).catch(
      (err) => {
        throw townReadError(err, target.relayUrl);
      },
    );
    const relays = [target.relayUrl, ...target.moreRelays];
    const listed = opts.roster ? await onRoster(all, { stateDir: target.stateDir, relays }) : all;
    const combined = await rosterTrust({
      stateDir: target.stateDir,
      relays,
      subjects: listed.map((p) => p.pubkey),
    });
    const trust = new Map(
      [...combined].filter(([, t]) => t.own.receipts > 0 || t.roster.length > 0)
        .map(([who, t]) => [who, t.rank]),
    );
    const providers = rankProviders(providersServing(listed, opts.kind), trust);
    if (opts.output === "json") {
      return printJsonLine("providers", {
        relayUrl: target.relayUrl,
        moreRelays: target.moreRelays,
        providers: providers.map((p) => ({ ...p, trust: trust.get(p.pubkey) ?? null })),
        network: networkField(target.network),
      });
    }
    const lines = opts.output === "csv"
      ? providersCsv(providers)
      : providersTable(providers, nowSec, trust);
    console.log(lines.join("\n"));
    if (opts.output !== "csv" && providers.length === 0) console.error("no providers");
  });
}
