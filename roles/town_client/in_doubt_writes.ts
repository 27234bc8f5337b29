/**
 * Paid writes whose answer was lost after their PREPARE left (no answer in time, the socket
 * dropped or closed under it: transport/btp_unanswered.ts): the town may have stored and
 * FULFILLed them, and a payer over a payment channel counted each paid when it signed its claim.
 * When the write is sent again and the town answers `duplicate` (it stores the event), the lost
 * attempt was the one that paid: the payer records it then, so its payment log never sits below
 * what its claims paid the town (docs/PROTOCOL.md "Payment channels and claims").
 *
 * Per town client, the newest {@linkcode IN_DOUBT_WRITES_KEPT}. Lasting when made with a
 * `persist` (the payment log's `intent` line of the write,
 * roles/town_client/logged_in_doubt_writes.ts): a payer restarted between the lost answer and
 * the retry starts with them (`initial`) and records the write at its retry all the same.
 *
 * @module
 */
import type { NostrEvent } from "../../protocol/nostr_event.ts";

/** How many writes in doubt a town client remembers (the oldest is forgotten first). */
export const IN_DOUBT_WRITES_KEPT = 4096;

/** A write in doubt: its event, the amount its PREPARE carried, the job it was for. */
export interface InDoubtWrite {
  event: Pick<NostrEvent, "id" | "tags">;
  amount: bigint;
  jobId?: string;
}

/** Options for {@linkcode InDoubtWrites}. */
export interface InDoubtWritesOptions {
  /** How many are remembered. Default {@linkcode IN_DOUBT_WRITES_KEPT}. */
  limit?: number;
  /** Those in doubt already (noted before a restart), oldest first: event id and amount. */
  initial?: Iterable<readonly [string, bigint]>;
  /** Makes a newly noted write lasting; `note` resolves once it is. Default: memory only. */
  persist?: (write: InDoubtWrite) => Promise<void>;
  /** Told when the oldest is forgotten past the limit. */
  warn?: (message: string) => void;
  /**
   * Claims a write in doubt for its retry across the processes of the profile and says whether
   * it is still in doubt on the log (state/payments/doubt_claims.ts). Default: none, one process.
   */
  claim?: (eventId: string) => Promise<{ open: boolean } & AsyncDisposable>;
}

/**
 * The writes in doubt of one town client, by event id, with the amount their PREPARE carried.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { InDoubtWrites } from "./in_doubt_writes.ts";
 *
 * const writes = new InDoubtWrites();
 * const event = { id: "ab".repeat(32), tags: [] };
 * await writes.note({ event, amount: 1_500n }); // the answer was lost
 * assert.equal(writes.take(event.id), 1_500n); // its retry: `duplicate`, stored
 * assert.equal(writes.take(event.id), undefined); // recorded once
 * ```
 */
export class InDoubtWrites {
  readonly #amounts = new Map<string, bigint>();
  readonly #limit: number;
  readonly #persist: InDoubtWritesOptions["persist"];
  readonly #warn: InDoubtWritesOptions["warn"];
  readonly #claim: InDoubtWritesOptions["claim"];

  /** Remembers at most `limit` writes, starting with `initial`. */
  constructor(options: InDoubtWritesOptions = {}) {
    this.#limit = options.limit ?? IN_DOUBT_WRITES_KEPT;
    this.#persist = options.persist;
    this.#warn = options.warn;
    this.#claim = options.claim;
    for (const [id, amount] of options.initial ?? []) this.#remember(id, amount);
  }

  /** How many writes are in doubt. */
  get size(): number {
    return this.#amounts.size;
  }

  /**
   * The write got no answer after its PREPARE left; resolves once that is lasting (a write
   * noted again at the same amount is not persisted twice).
   */
  async note(write: InDoubtWrite): Promise<void> {
    const known = this.#amounts.get(write.event.id) === write.amount;
    this.#remember(write.event.id, write.amount);
    if (!known) await this.#persist?.(write);
  }

  /**
   * Before the write of `eventId` is sent again: when it is in doubt here and claims are kept,
   * waits for its claim (another process of the profile may be sending it again) and forgets it
   * when the log says it is settled already; the claim is held until the returned handle is
   * disposed, once the retry's outcome is recorded. Undefined when there is nothing to hold.
   */
  async hold(eventId: string): Promise<AsyncDisposable | undefined> {
    if (this.#claim === undefined || !this.#amounts.has(eventId)) return undefined;
    const claim = await this.#claim(eventId);
    if (!claim.open) this.#amounts.delete(eventId);
    return claim;
  }

  /** The amount of the write of `eventId` in doubt, forgotten from now on; undefined if none. */
  take(eventId: string): bigint | undefined {
    const amount = this.#amounts.get(eventId);
    this.#amounts.delete(eventId);
    return amount;
  }

  #remember(eventId: string, amount: bigint): void {
    this.#amounts.delete(eventId);
    this.#amounts.set(eventId, amount);
    if (this.#amounts.size <= this.#limit) return;
    const [oldest, lost] = this.#amounts.entries().next().value!;
    this.#amounts.delete(oldest);
    this.#warn?.(
      `write ${oldest} in doubt (${lost} paid if the town stored it) forgotten: more than ` +
        `${this.#limit} in doubt; its payment log line stays an intent`,
    );
  }
}
