/**
 * Which dropped job requests the provider answers with an `error` feedback before anyone pays,
 * so the requester stops waiting at once instead of at its timeout: only drops the requester
 * can act on (its bid, the provider's load), only for requests addressed to this provider (a
 * broadcast request may still be taken by another one), and only so many per minute, since each
 * answer is a paid write of the provider's.
 *
 * Drops for the provider's load (`over-capacity`, `over-requester-capacity` once parking is full)
 * are the `busy` refusal (protocol/busy_feedback.ts): temporary, nothing invoiced, so the
 * requester may send the job again later or to another provider. They have a budget of their own
 * (`busyPerMinute`), so a burst of refusals under load does not silence the other notices, nor
 * they the refusals.
 *
 * @module
 */
import type { AdmissionDropReason } from "./job_admission.ts";
import type { UnpaidDropReason } from "../payments/unpaid_pool.ts";
import type { NostrEvent } from "../../../protocol/nostr_event.ts";
import { busyReason } from "../../../protocol/busy_feedback.ts";

/** Drops for the provider's load: answered as `busy` (temporary). */
const BUSY: ReadonlySet<AdmissionDropReason | UnpaidDropReason> = new Set([
  "over-capacity",
  "over-requester-capacity",
]);

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
  /** Notices per minute in all, `busy` refusals apart (default 30). */
  perMinute?: number;
  /** `busy` refusals per minute (default 120). */
  busyPerMinute?: number;
  /** Clock (ms); default Date.now. */
  now?: () => number;
}

/** Decides which drops get a notice; see the module doc. */
export class DropNotices {
  #o: DropNoticeOptions;
  #windowStart = 0;
  #sent = 0;
  #busySent = 0;

  constructor(o: DropNoticeOptions) {
    this.#o = o;
  }

  /**
   * The feedback text for a dropped request, or undefined when it gets none.
   *
   * @example
   * ```ts
   * import assert from "node:assert/strict";
   * import { finalizeEvent, generateSecretKey, getPublicKey } from "nostr-tools/pure";
   * import { DropNotices } from "./drop_notice.ts";
   *
   * const provider = getPublicKey(generateSecretKey());
   * const notices = new DropNotices({ pubkey: provider });
   * const event = finalizeEvent({
   *   kind: 5601,
   *   created_at: Math.floor(Date.now() / 1000),
   *   tags: [["p", provider], ["bid", "50"]], // addressed to this provider: it is told why
   *   content: "",
   * }, generateSecretKey());
   * const text = notices.noticeFor(event, "bid-below-price", "bid 50 < price 120");
   * assert.equal(text, "refused: bid-below-price: bid 50 < price 120 (raise the bid)");
   * assert.equal(notices.noticeFor(event, "duplicate", "request seen before"), undefined);
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
      this.#busySent = 0;
    }
    if (BUSY.has(reason)) {
      if (this.#busySent >= (this.#o.busyPerMinute ?? 120)) return undefined;
      this.#busySent++;
      return busyReason(`${reason}: ${detail}`, hint);
    }
    if (this.#sent >= (this.#o.perMinute ?? 30)) return undefined;
    this.#sent++;
    return `refused: ${reason}: ${detail} (${hint})`;
  }
}
