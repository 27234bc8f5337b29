/**
 * `turnpike trust [<npub>]`: a counterparty's trust from this profile's own receipts
 * (protocol/trust_score.ts, docs/PROTOCOL.md "Receipts and trust") and its roster's NIP-85
 * assertions (protocol/roster_trust.ts, "Trust assertions (NIP-85)"): both parts, and the
 * receipts behind the own one, each with the evidence and the weight it gave; without an npub,
 * every counterparty's score, highest first. Receipts of jobs ended since the last ones are signed
 * first, as `receipts` does. `--json`: a `trust` line per counterparty (`rank` the combined one,
 * `ownRank`, `roster`), then (for one) a `receipt` line per receipt. `trust publish` publishes the
 * own part (cli/trust_publish_command.ts).
 *
 * @module
 */
import type { Command } from "commander";
import { nip19 } from "nostr-tools";
import { type GlobalOptions, outputFormat } from "./global_options.ts";
import { existingStateDir } from "./state_dir_flags.ts";
import type { PassphraseFlags } from "./node_identity.ts";
import { recipientHex } from "./dm_command.ts";
import { printJsonLine } from "./json_line.ts";
import { addReceiptSigningOptions, signedReceipts } from "./receipts_command.ts";
import {
  receiptEvidence,
  receiptWeight,
  TRUST_HALF_LIFE_MS,
  trustScores,
} from "../protocol/trust_score.ts";
import type { CombinedTrust } from "../protocol/roster_trust.ts";
import { addTownReadOptions, type TownReadFlags, townReadTarget } from "./town_read.ts";
import { rosterTrust } from "./profile_trust.ts";
import { registerTrustPublishCommand } from "./trust_publish_command.ts";
import { terminalText } from "./terminal_text.ts";

/** Options of `turnpike trust`. */
type TrustFlags = GlobalOptions & PassphraseFlags & TownReadFlags;

/**
 * Adds `trust` to the program.
 *
 * @example
 * ```ts
 * import { Command } from "commander";
 * import { registerTrustCommand } from "./trust_command.ts";
 *
 * registerTrustCommand(new Command("turnpike"));
 * ```
 */
export function registerTrustCommand(program: Command): void {
  const trust = addTownReadOptions(addReceiptSigningOptions(
    program
      .command("trust")
      .argument("[npub]", "the counterparty (npub or hex pubkey); all of them without one")
      .description(
        "a counterparty's trust from this profile's receipts and its roster's assertions",
      ),
  )).action(async (npub: string | undefined, _opts: TrustFlags, cmd: Command) => {
    const opts = cmd.optsWithGlobals<TrustFlags>();
    const stateDir = await existingStateDir(opts, cmd);
    const json = outputFormat(opts) === "json";
    const who = npub === undefined ? undefined : recipientHex(npub);
    const nowMs = Date.now();
    const all = await signedReceipts(stateDir, opts);
    const receipts = all.filter((s) => who === undefined || s.receipt.counterparty === who);
    const unread = (err: Error) =>
      console.error(terminalText(`warning: the roster's assertions not read: ${err.message}`));
    // A profile with no town to read (no settings for one) still has its own receipts' part.
    const relays = await townReadTarget(opts, cmd).then(
      (t) => [t.relayUrl, ...t.moreRelays],
      (err) => (unread(err), []),
    );
    const combined = await rosterTrust({
      stateDir,
      relays,
      scores: trustScores(all.map((s) => s.receipt), { nowMs }),
      subjects: who === undefined ? undefined : [who],
      onUnread: relays.length === 0 ? undefined : unread,
    });
    const scores = [...combined.values()].sort((a, b) => b.rank - a.rank);
    const halfLifeDays = TRUST_HALF_LIFE_MS / 86_400_000;
    for (const s of scores) {
      if (json) {
        printJsonLine("trust", {
          ...s.own,
          rank: s.rank,
          ownRank: s.own.rank,
          roster: s.roster.map((v) => ({ ...v, npub: nip19.npubEncode(v.author) })),
          npub: nip19.npubEncode(s.counterparty),
          halfLifeDays,
        });
      } else console.log(scoreText(s));
    }
    if (who === undefined) {
      if (!json && scores.length === 0) console.log("no receipts yet");
      return;
    }
    for (const { id, receipt: r } of receipts) {
      const evidence = receiptEvidence(r);
      const weight = Math.round(receiptWeight(r, nowMs) * 1000) / 1000;
      if (json) printJsonLine("receipt", { id, ...r, evidence, weight });
      else {
        console.log(
          `  ${new Date(r.endedAtMs).toISOString().slice(0, 19)}Z  ${r.job.slice(0, 12)}  ` +
            `${r.side} ${r.outcome}  evidence ${evidence}  weight ${weight}`,
        );
      }
    }
  });
  registerTrustPublishCommand(trust);
}

function scoreText(s: CombinedTrust): string {
  const roster = s.roster.map((v) =>
    `${nip19.npubEncode(v.author).slice(0, 16)}... says ${v.rank} (weight ${v.weight}` +
    `${v.via === undefined ? "" : `, via ${nip19.npubEncode(v.via).slice(0, 16)}...`})`
  );
  return `${nip19.npubEncode(s.counterparty)}  trust ${s.rank.toFixed(1)}  ` +
    `(own ${s.own.rank.toFixed(1)}: +${s.own.positive.toFixed(2)} / ` +
    `-${s.own.negative.toFixed(2)} over ${s.own.receipts} receipts; ` +
    `roster: ${roster.length === 0 ? "none" : roster.join(", ")})`;
}
