/**
 * The trust this profile gives each counterparty, read from the receipts it already signed
 * (roles/receipts/receipt_ledger.ts, protocol/trust_score.ts): no passphrase, nothing signed, so a
 * listing (`providers`) can show it. A profile with no state dir or no receipts trusts no one yet.
 *
 * @module
 */
import type { Command } from "commander";
import { resolveStateDir } from "../config/state_dir.ts";
import { readWalletFile, walletFilePath } from "../identity/wallet_file.ts";
import { trustScores } from "../protocol/trust_score.ts";
import { readReceipts } from "../roles/receipts/receipt_ledger.ts";
import type { GlobalOptions } from "./global_options.ts";
import { explicitProfile } from "./settings_flags.ts";

/**
 * Each counterparty's rank (0-100) from the profile's signed receipts, by pubkey.
 *
 * @example
 * ```ts
 * import { Command } from "commander";
 * import { profileTrust } from "./profile_trust.ts";
 *
 * const trust = await profileTrust({ stateDir: "/home/me/.turnpike/alice" }, new Command());
 * console.log(trust.get("cd".repeat(32)) ?? "no receipts");
 * ```
 */
export async function profileTrust(
  opts: GlobalOptions,
  cmd: Command,
): Promise<Map<string, number>> {
  const stateDir = resolveStateDir({
    stateDir: opts.stateDir,
    profile: explicitProfile(opts, cmd),
  });
  const pubkey = await readWalletFile(walletFilePath(stateDir)).then((w) => w.pubkey, () => null);
  if (pubkey === null) return new Map();
  const { receipts } = await readReceipts(stateDir, pubkey);
  const scores = trustScores(receipts.map((s) => s.receipt), { nowMs: Date.now() });
  return new Map([...scores].map(([key, score]) => [key, score.rank]));
}
