/**
 * `turnpike trust publish`: the profile's own trust in each counterparty, published on its towns
 * as NIP-85 assertions (kind 30382: `d` the counterparty, `rank` 0-100; docs/PROTOCOL.md "Trust
 * assertions (NIP-85)"), paid writes by the profile's node as its roster is (a provider profile's
 * `node up` when it runs: cli/trust_publish_node.ts). Only the profile's
 * own receipts are published, never what its roster said (a rank passed on would count twice in
 * a reader that follows both). A counterparty whose whole-number rank is already on the towns is
 * not sent again: the command reads its own assertions first.
 *
 * With them, its NIP-85 rank services (kind 10040, protocol/trust_provider_list.ts): the keys whose
 * kind 30382 assertions speak for this profile, `--service` each (default: the profile itself, so
 * a reader's client finds these assertions), sent when the towns' newest list differs.
 *
 * `--json`: an `asserted` line per assertion sent, a `services` line when the list was sent, then
 * a `published` line with the counts.
 *
 * @module
 */
import type { Command } from "commander";
import { nip19 } from "nostr-tools";
import { trustPublishNode } from "./trust_publish_node.ts";
import {
  addRequesterConnectionOptions,
  loadRequesterConfig,
  type RequesterCliOptions,
} from "./job_read_command.ts";
import { printJsonLine } from "./json_line.ts";
import { signedReceipts } from "./receipts_command.ts";
import { trustScores } from "../protocol/trust_score.ts";
import { readOwnAssertions, readOwnRankServices } from "../roles/requester/roster_assertions.ts";
import type { RankService } from "../protocol/trust_provider_list.ts";
import { recipientHex } from "./dm_command.ts";
import { changedRanks } from "../roles/receipts/trust_publication.ts";
import { readWalletFile, walletFilePath } from "../identity/wallet_file.ts";

/**
 * Adds `publish` under `trust`.
 *
 * @example
 * ```ts
 * import { Command } from "commander";
 * import { registerTrustPublishCommand } from "./trust_publish_command.ts";
 *
 * registerTrustPublishCommand(new Command("trust"));
 * ```
 */
export function registerTrustPublishCommand(trust: Command): void {
  addRequesterConnectionOptions(
    trust.command("publish").description(
      "publish this profile's trust in each counterparty as NIP-85 assertions (paid writes)",
    ).option(
      "--service <npub>",
      "a key whose rank assertions speak for this profile (NIP-85 kind 10040); repeat for more " +
        "(default: this profile)",
      (value: string, all: string[] = []) => [...all, value],
    ),
  ).action(async (_o: unknown, cmd: Command) => {
    const opts = cmd.optsWithGlobals<RequesterCliOptions & { service?: string[] }>();
    const config = await loadRequesterConfig(opts, cmd);
    const relays = [config.relayUrl, ...(config.moreTowns ?? []).map((t) => t.relayUrl)];
    const self = (await readWalletFile(walletFilePath(config.stateDir))).pubkey;
    const services: RankService[] = (opts.service ?? [self]).map((key) => ({
      pubkey: recipientHex(key),
      relay: config.relayUrl,
    }));
    const receipts = await signedReceipts(config.stateDir, opts);
    const scores = trustScores(receipts.map((s) => s.receipt), { nowMs: Date.now() });
    // What the towns hold already, both read at once.
    const [own, listed] = await Promise.all([
      readOwnAssertions(relays, self),
      readOwnRankServices(relays, self),
    ]);
    const published = new Map(own.map((a) => [a.subject, a.rank]));
    const ranks = new Map([...scores].map(([who, s]) => [who, s.rank]));
    const changed = changedRanks(ranks, published);
    const sameList = listed !== undefined &&
      listed.map((s) => s.pubkey).join() === services.map((s) => s.pubkey).join();
    const sent: Record<string, unknown>[] = [];
    let list: Record<string, unknown> | undefined;
    const actions = [
      ...(changed.length > 0 ? [{ do: "assert" as const, ranks: changed }] : []),
      ...(sameList ? [] : [{ do: "rank-services" as const, services }]),
    ];
    const call = await trustPublishNode(opts, config, cmd);
    for (const action of actions) {
      for await (const line of call({ op: "gt", action })) {
        if (line.type !== "gt") continue;
        if (action.do === "assert") sent.push(...line.asserted as Record<string, unknown>[]);
        else list = { services: line.services, event: line.event };
      }
    }
    const json = opts.output === "json";
    for (const a of sent) {
      const npub = nip19.npubEncode(String(a.subject));
      if (json) printJsonLine("asserted", { ...a, npub });
      else console.log(`${npub}  rank ${a.rank}  event ${String(a.event).slice(0, 12)}`);
    }
    if (list !== undefined) {
      const keys = services.map((s) => nip19.npubEncode(s.pubkey));
      if (json) printJsonLine("services", { ...list, npubs: keys });
      else console.log(`rank services (kind 10040): ${keys.join(", ")}`);
    }
    const counts = { sent: sent.length, unchanged: scores.size - sent.length, relays };
    if (json) printJsonLine("published", counts);
    else console.log(`${counts.sent} assertions sent, ${counts.unchanged} unchanged`);
  });
}
