/**
 * What a town owes this provider (docs/OPERATIONS.md "Paying providers"): the invoices it was
 * paid through the town (its payment log: `in`, `fulfilled`, category `job`) less what the
 * town's payout claims kept in its channel files cover (roles/channels/payout_receiver.ts). Past the
 * provider's own limit (`[provider] max_town_debt`) it alerts and refuses new jobs paid through
 * that town: a town that does not pay loses its providers, not the providers their money.
 *
 * @module
 */
import { categoryOf, type PaymentEntry } from "../../../state/payments/payment_log.ts";
import type { ChannelRecord } from "../../../state/channels/channel_file.ts";
import { listChannels } from "../../../state/channels/channel_file.ts";
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
 * The town's debt from the payment log's entries and the payout channels' newest claims.
 *
 * @example
 * ```ts
 * import { listChannels } from "../../../state/channels/channel_file.ts";
 *
 * declare const stateDir: string;
 * declare const log: { entries(): Parameters<typeof townDebtOf>[0] };
 * const { debt } = townDebtOf(log.entries(), await listChannels(stateDir));
 * ```
 */
export function townDebtOf(
  entries: readonly PaymentEntry[],
  channels: readonly Pick<ChannelRecord, "peerLabel" | "received">[],
): TownDebt {
  let earned = 0n;
  for (const e of entries) {
    if (e.event !== "fulfilled" || categoryOf(e) !== "job") continue;
    // A deposit refunded (roles/provider/payments/refund_desk.ts) was paid back out of it.
    earned += e.direction === "in" ? BigInt(e.amount) : -BigInt(e.amount);
  }
  let claimed = 0n;
  for (const c of channels) if (c.peerLabel === PAYOUT_CHANNEL_LABEL) claimed += c.received;
  return { earned, claimed, debt: earned > claimed ? earned - claimed : 0n };
}

/**
 * Why a new job is refused, when the town's debt is over the limit; undefined otherwise.
 *
 * @example
 * ```ts
 * townDebtRefusal({ earned: 30n, claimed: 0n, debt: 30n }, 20n);
 * // "the town owes this provider 30 unclaimed (earned 30, claimed 0), over its limit 20"
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
  /** The payment log's entries (undefined before it is open). */
  entries: () => readonly PaymentEntry[] | undefined;
  /** Raises an alert (once per crossing of the limit). */
  alert: (kind: AlertKind, message: string, details: Record<string, string>) => void;
}

/**
 * Refuses new paid jobs while the town owes more than the limit, alerting once per crossing.
 *
 * @example
 * ```ts
 * import { TownDebtGuard } from "./town_debt.ts";
 *
 * const guard = new TownDebtGuard({
 *   stateDir: "/var/lib/turnpike",
 *   limit: 1_000_000n,
 *   entries: () => [],
 *   alert: (kind, message) => console.warn(kind, message),
 * });
 * const refusal = await guard.refusal(); // undefined: serve the job
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
    const entries = this.#o.entries();
    if (!entries) return undefined;
    const debt = townDebtOf(entries, await listChannels(this.#o.stateDir));
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
