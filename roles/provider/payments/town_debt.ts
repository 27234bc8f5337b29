/**
 * What a town owes this provider (docs/OPERATIONS.md "Paying providers"): what the provider earned
 * for its jobs, all-time (its income rows: payments taken less those taken back and the deposits
 * refunded, state/payments/provider_earnings.ts), less what the town's payout claims kept in its
 * channel files cover (roles/channels/payout_receiver.ts), also all-time. Past the provider's own
 * limit (`[provider] max_town_debt`) it alerts and refuses new jobs paid through that town: a town
 * that does not pay loses its providers, not the providers their money.
 *
 * Both sides are all-time: the payment log keeps 30 days, and a debt read from its days against
 * every claim ever kept read 0 after a month of work, whatever the town stopped paying. The
 * income an older turnpike wrote as payment log lines (before income rows) is added from the
 * log's kept days, where no row holds it.
 *
 * @module
 */
import type { PaymentLog } from "../../../state/payments/payment_log.ts";
import type { ChannelRecord } from "../../../state/channels/channel_file.ts";
import { listChannels } from "../../../state/channels/channel_file.ts";
import type { ProviderJobStore } from "../../../state/jobs/provider_job_store.ts";
import { PAYOUT_CHANNEL_LABEL } from "../../channels/payout_receiver.ts";
import type { AlertKind } from "../../node_alerts.ts";

/** The provider's side of its books with the town, base units. */
export interface TownDebt {
  /** Paid for jobs (through the town). */
  earned: bigint;
  /** Covered by the town's claims kept so far. */
  claimed: bigint;
  /** `earned - claimed` (0 when the claims cover more). */
  debt: bigint;
}

/**
 * The town's debt from what the provider earned and the payout channels' newest claims.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { townDebtOf } from "./town_debt.ts";
 * import { PAYOUT_CHANNEL_LABEL } from "../../channels/payout_receiver.ts";
 *
 * // Jobs paid 30 through the town; its payout claims kept cover 20.
 * const payouts = { peerLabel: PAYOUT_CHANNEL_LABEL, received: 20n };
 * assert.deepEqual(townDebtOf(30n, [payouts]), { earned: 30n, claimed: 20n, debt: 10n });
 * ```
 */
export function townDebtOf(
  earned: bigint,
  channels: readonly Pick<ChannelRecord, "peerLabel" | "received">[],
): TownDebt {
  let claimed = 0n;
  for (const c of channels) if (c.peerLabel === PAYOUT_CHANNEL_LABEL) claimed += c.received;
  return { earned, claimed, debt: earned > claimed ? earned - claimed : 0n };
}

/**
 * Why a new job is refused, when the town's debt is over the limit; undefined otherwise.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { townDebtRefusal } from "./town_debt.ts";
 *
 * assert.equal(
 *   townDebtRefusal({ earned: 30n, claimed: 0n, debt: 30n }, 20n),
 *   "the town owes this provider 30 unclaimed (earned 30, claimed 0), over its limit 20",
 * );
 * assert.equal(townDebtRefusal({ earned: 30n, claimed: 0n, debt: 30n }, 50n), undefined);
 * ```
 */
export function townDebtRefusal(debt: TownDebt, limit: bigint | undefined): string | undefined {
  if (limit === undefined || debt.debt <= limit) return undefined;
  return `the town owes this provider ${debt.debt} unclaimed (earned ${debt.earned}, ` +
    `claimed ${debt.claimed}), over its limit ${limit}`;
}

/** Options for {@linkcode TownDebtGuard}. */
export interface TownDebtGuardOptions {
  stateDir: string;
  /** `[provider] max_town_debt`; undefined: no limit. */
  limit: bigint | undefined;
  /** The provider's income rows: what it earned, all-time (`earnings`). */
  income: () => Pick<ProviderJobStore["income"], "earnings">;
  /** The payment log (undefined before it is open): its older lines' income (`earnedInLines`). */
  payments: () => Pick<PaymentLog, "earnedInLines"> | undefined;
  /** Raises an alert (once per crossing of the limit). */
  alert: (kind: AlertKind, message: string, details: Record<string, string>) => void;
}

/**
 * Refuses new paid jobs while the town owes more than the limit, alerting once per crossing.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { TownDebtGuard } from "./town_debt.ts";
 *
 * // 30 earned, no payout channel in the state dir yet: 30 owed.
 * const stateDir = await Deno.makeTempDir();
 * const alerts: string[] = [];
 * const guard = new TownDebtGuard({
 *   stateDir,
 *   limit: 20n,
 *   income: () => ({ earnings: () => 30n }),
 *   payments: () => ({ earnedInLines: () => 0n }),
 *   alert: (kind) => alerts.push(kind),
 * });
 * assert.match((await guard.refusal())!, /^the town owes this provider 30 unclaimed/);
 * assert.match((await guard.refusal())!, /over its limit 20$/);
 * assert.deepEqual(alerts, ["town-debt"]); // once per crossing
 * await Deno.remove(stateDir, { recursive: true });
 * ```
 */
export class TownDebtGuard {
  #o: TownDebtGuardOptions;
  #alerted = false;

  constructor(options: TownDebtGuardOptions) {
    this.#o = options;
  }

  /**
   * Why new jobs are refused while the town owes more than the limit (alerted once per
   * crossing); undefined under the limit or without one.
   */
  async refusal(): Promise<string | undefined> {
    const limit = this.#o.limit;
    if (limit === undefined) return undefined;
    const payments = this.#o.payments();
    if (payments === undefined) return undefined;
    const earned = this.#o.income().earnings() + payments.earnedInLines();
    const debt = townDebtOf(earned, await listChannels(this.#o.stateDir));
    const refusal = townDebtRefusal(debt, limit);
    if (refusal !== undefined && !this.#alerted) {
      this.#o.alert("town-debt", refusal, {
        earned: String(debt.earned),
        claimed: String(debt.claimed),
        limit: String(limit),
      });
    }
    this.#alerted = refusal !== undefined;
    return refusal;
  }
}
