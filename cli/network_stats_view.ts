/**
 * `turnpike stats --network [--since 1h]`: the town's traffic over a window (online providers,
 * jobs/min, success rate, p50/p95 request-to-result latency, top providers), read from the
 * relay, as text or one JSON object.
 *
 * @module
 */
import type { Command } from "commander";
import { fetchNetworkSnapshot, type NetworkSnapshot } from "../roles/requester/network_snapshot.ts";
import { parseDurationFlag } from "./duration_flag.ts";
import { networkField, printNetworkLine } from "./network_line.ts";
import { townReadError, type TownReadFlags, townReadTarget } from "./town_read.ts";
import { printJsonLine } from "./json_line.ts";
import { terminalText } from "./terminal_text.ts";

/** Flags of `stats --network`. */
export interface NetworkStatsFlags extends TownReadFlags {
  since?: string;
}

function pct(rate: number | null): string {
  return rate === null ? "-" : `${Math.round(rate * 100)}%`;
}

function secs(value: number | null): string {
  return value === null ? "-" : `${value}s`;
}

/**
 * The snapshot as text lines.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { networkStatsText } from "./network_stats_view.ts";
 * import { computeNetworkStats } from "../roles/requester/network_stats.ts";
 *
 * const now = Math.floor(Date.now() / 1000);
 * const stats = computeNetworkStats([], { sinceSec: now - 3600, untilSec: now, providers: [] });
 * const lines = networkStatsText({ providers: [], stats, truncated: false }, "1h");
 * assert.equal(lines[0], "providers   0 online of 0");
 * ```
 */
export function networkStatsText(snap: NetworkSnapshot, window: string): string[] {
  const s = snap.stats;
  const lines = [
    `providers   ${s.providersOnline} online of ${s.providersKnown}`,
    `jobs        ${s.jobs} in ${window}${
      snap.truncated ? " (at the read limit: more exist)" : ""
    }` +
    ` (${s.done} done${s.doneFailed > 0 ? `, ${s.doneFailed} of them reporting failure` : ""}, ` +
    `${s.failed} failed, ${s.open} open), ${s.jobsPerMin}/min`,
    `success     ${pct(s.successRate)}`,
    `latency     p50 ${secs(s.latencyP50Sec)}, p95 ${secs(s.latencyP95Sec)} (request to result)`,
  ];
  for (const t of s.topProviders) {
    lines.push(
      `  ${(t.name ?? "?").padEnd(16)} ${
        t.pubkey.slice(0, 12)
      }  ${t.done} done, ${t.failed} failed`,
    );
  }
  return lines;
}

/**
 * Runs `stats --network`: reads the town, prints text or one JSON object.
 *
 * It reads the town's events, so it has no example that runs here: tests/e2e/network_view_test.ts
 */
export async function printNetworkStats(opts: NetworkStatsFlags, cmd: Command): Promise<void> {
  const window = opts.since ?? "1h";
  const windowSec = parseDurationFlag(window, "--since");
  const target = await townReadTarget(opts, cmd);
  printNetworkLine(target.network);
  const snap = await fetchNetworkSnapshot({
    relayUrl: target.relayUrl,
    moreRelays: target.moreRelays,
    windowSec,
    onRelayFailure: (f) =>
      console.error(terminalText(`warning: town ${f.relayUrl} not read: ${f.error.message}`)),
  }).catch(
    (err) => {
      throw townReadError(err, target.relayUrl);
    },
  );
  if (opts.output === "json") {
    return printJsonLine("network-stats", {
      relayUrl: target.relayUrl,
      moreRelays: target.moreRelays,
      windowSec,
      ...snap.stats,
      truncated: snap.truncated,
      network: networkField(target.network),
    });
  }
  // Provider names are the providers' own words (their kind 31990).
  console.log(networkStatsText(snap, window).map((line) => terminalText(line)).join("\n"));
}
