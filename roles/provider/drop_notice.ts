/**
 * Which dropped job requests the provider answers with an `error` feedback before anyone pays,
 * so the requester stops waiting at once instead of at its timeout: only drops the requester
 * can act on (its bid, the provider's load), only for requests addressed to this provider (a
 * broadcast request may still be taken by another one), and only so many per minute, since each
 * answer is a paid write of the provider's.
 *
 * @module
 */
import type { AdmissionDropReason } from "./job_admission.ts";
import type { UnpaidDropReason } from "./unpaid_pool.ts";
import type { NostrEvent } from "../../protocol/nostr_event.ts";

/** Drops worth telling the requester about, with what it can do. */
const ACTIONABLE: Partial<Record<AdmissionDropReason | UnpaidDropReason, string>> = {
  "bid-below-price": "raise the bid",
  "over-capacity": "retry later or pick another provider",
  "over-requester-capacity": "wait for your other jobs here to finish",
  "no-skill": "this provider does not serve the kind",
  "over-requester-unpaid": "pay or cancel your open invoices here first",
  "town-debt": "this provider serves again once the town pays what it owes",
};

/** Options for {@linkcode DropNotices}. */
export interface DropNoticeOptions {
  /** This provider's pubkey. */
  pubkey: string;
  /** Notices per minute in all (default 30). */
  perMinute?: number;
  /** Clock (ms); default Date.now. */
  now?: () => number;
}

/** Decides which drops get a notice; see the module doc. */
export class DropNotices {
  #o: DropNoticeOptions;
  #windowStart = 0;
  #sent = 0;

  constructor(o: DropNoticeOptions) {
    this.#o = o;
  }

  /**
   * The feedback text for a dropped request, or undefined when it gets none.
   *
   * @example
   * ```ts
   * import type { NostrEvent } from "../../protocol/nostr_event.ts";
   *
   * declare const notices: DropNotices;
   * declare const event: NostrEvent;
   * declare function publishErrorFeedback(event: NostrEvent, text: string): void;
   * const text = notices.noticeFor(event, "bid-below-price", "bid 50 < price 120");
   * if (text) publishErrorFeedback(event, text);
   * ```
   */
  noticeFor(
    event: NostrEvent,
    reason: AdmissionDropReason | UnpaidDropReason,
    detail: string,
  ): string | undefined {
    const hint = ACTIONABLE[reason];
    if (hint === undefined) return undefined;
    if (!event.tags.some((t) => t[0] === "p" && t[1] === this.#o.pubkey)) return undefined;
    const now = (this.#o.now ?? Date.now)();
    if (now - this.#windowStart >= 60_000) {
      this.#windowStart = now;
      this.#sent = 0;
    }
    if (this.#sent >= (this.#o.perMinute ?? 30)) return undefined;
    this.#sent++;
    return `refused: ${reason}: ${detail} (${hint})`;
  }
}
