/**
 * `job submit`'s deposit bound (docs/PROTOCOL.md "The deposit bound"): for a job with a bid to one
 * provider, the most the profile pays it before delivery, from its trust of it (its signed
 * receipts and its roster's NIP-85 assertions, cli/profile_trust.ts;
 * roles/requester/deposit_share.ts), added to the request as `["param", "deposit-max", "<units>"]`
 * and said in a `deposit-bound` line. With the default shares (100%: the bid bounds it already)
 * nothing is added and nothing is read.
 *
 * @module
 */
import { readWalletFile, walletFilePath } from "../identity/wallet_file.ts";
import { DEPOSIT_MAX_PARAM } from "../protocol/deposit_bound.ts";
import { trustScores } from "../protocol/trust_score.ts";
import { readReceipts } from "../roles/receipts/receipt_ledger.ts";
import { depositBound } from "../roles/requester/deposit_share.ts";
import type { JobSpec } from "../roles/requester/job_spec.ts";
import type { DepositShares } from "../config/deposit_share_settings.ts";
import { rosterTrust } from "./profile_trust.ts";
import { printJsonLine } from "./json_line.ts";

/** Options for {@linkcode addDepositBound}. */
export interface DepositBoundParamOptions {
  /** The profile's state dir (its wallet, its receipts). */
  stateDir: string;
  /** Its towns: the roster and its assertions are read there. */
  relays: string[];
  /** `[requester] deposit_share` and `deposit_share_trusted`. */
  shares: DepositShares;
  /** Print the line as JSON (else text on stderr). */
  json: boolean;
}

/**
 * Adds the bound to `spec` when it is below the bid; returns it (undefined when none).
 *
 * It reads the roster's trust from the profile's towns, so it has no example that runs here:
 * tests/e2e/agent_task_deposit_bound_test.ts
 */
export async function addDepositBound(
  spec: JobSpec,
  o: DepositBoundParamOptions,
): Promise<bigint | undefined> {
  const [provider] = spec.providers;
  if (spec.bid === undefined || spec.providers.length !== 1 || o.shares.floor >= 100) {
    return undefined;
  }
  const pubkey = await readWalletFile(walletFilePath(o.stateDir)).then((w) => w.pubkey, () => null);
  const receipts = pubkey === null
    ? []
    : (await readReceipts(o.stateDir, pubkey)).receipts.map((s) => s.receipt);
  const scores = trustScores(receipts, { nowMs: Date.now() });
  const trust = await rosterTrust({
    stateDir: o.stateDir,
    relays: o.relays,
    scores,
    subjects: [provider],
  });
  const rank = trust.get(provider)?.rank ?? 0;
  const bound = depositBound({ ...o.shares, bid: spec.bid, rank, receipts, provider });
  if (bound >= spec.bid) return undefined;
  spec.params = [
    ...spec.params.filter((p) => p.name !== DEPOSIT_MAX_PARAM),
    { name: DEPOSIT_MAX_PARAM, values: [String(bound)] },
  ];
  const line = { provider, trust: rank, bid: String(spec.bid), depositMax: String(bound) };
  if (o.json) printJsonLine("deposit-bound", line);
  else {
    console.error(
      `deposit: at most ${bound} of the bid ${spec.bid} before delivery (trust ${
        rank.toFixed(1)
      } of ${provider.slice(0, 12)})`,
    );
  }
  return bound;
}
