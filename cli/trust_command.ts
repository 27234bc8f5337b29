/**
 * `turnpike trust [<npub>]`: a counterparty's trust from this profile's own receipts
 * (protocol/trust_score.ts, docs/PROTOCOL.md "Receipts and trust"), and the receipts behind it,
 * each with the evidence and the weight it gave; without an npub, every counterparty's score,
 * highest first. Receipts of jobs ended since the last ones are signed first, as `receipts` does.
 * `--json`: a `trust` line per counterparty, then (for one) a `receipt` line per receipt.
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
  type TrustScore,
  trustScores,
} from "../protocol/trust_score.ts";

/** Options of `turnpike trust`. */
type TrustFlags = GlobalOptions & PassphraseFlags;

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
  addReceiptSigningOptions(
    program
      .command("trust")
      .argument("[npub]", "the counterparty (npub or hex pubkey); all of them without one")
      .description(
        "a counterparty's trust from this profile's receipts, and the receipts behind it",
      ),
  ).action(async (npub: string | undefined, _opts: TrustFlags, cmd: Command) => {
    const opts = cmd.optsWithGlobals<TrustFlags>();
    const stateDir = await existingStateDir(opts, cmd);
    const json = outputFormat(opts) === "json";
    const who = npub === undefined ? undefined : recipientHex(npub);
    const nowMs = Date.now();
    const receipts = (await signedReceipts(stateDir, opts))
      .filter((s) => who === undefined || s.receipt.counterparty === who);
    const scores = [...trustScores(receipts.map((s) => s.receipt), { nowMs }).values()];
    if (who !== undefined && scores.length === 0) {
      scores.push({
        counterparty: who,
        rank: 0,
        positive: 0,
        negative: 0,
        receipts: 0,
        lastAtMs: 0,
      });
    }
    scores.sort((a, b) => b.rank - a.rank);
    const halfLifeDays = TRUST_HALF_LIFE_MS / 86_400_000;
    for (const s of scores) {
      if (json) {
        printJsonLine("trust", { ...s, npub: nip19.npubEncode(s.counterparty), halfLifeDays });
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
}

function scoreText(s: TrustScore): string {
  return `${nip19.npubEncode(s.counterparty)}  trust ${s.rank.toFixed(1)}  ` +
    `(+${s.positive.toFixed(2)} / -${s.negative.toFixed(2)} over ${s.receipts} receipts)`;
}
