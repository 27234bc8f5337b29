/**
 * Requests parked until their requester has room at this provider: refused only because that
 * requester has as many jobs here as it may have at once (unpaid invoices or paid jobs running),
 * they are admitted when it pays one or one of its paid jobs ends, so a requester that hands out
 * many jobs at once gets them all done instead of timing out on all but the first few; one that
 * never pays never gets them in. Bounded per requester and in all (past that, and past the
 * request's age, dropped).
 *
 * @module
 */
import type { NostrEvent } from "../../../protocol/nostr_event.ts";

/** Requests parked per requester waiting for its room. */
const MAX_PARKED_PER_REQUESTER = 64;
/** Requests parked in all. */
const MAX_PARKED = 1024;

/** A parked request: the event and its TOON as the feed gave it. */
export interface ParkedRequest {
  event: NostrEvent;
  toon: string;
}

/**
 * The parked requests, per requester; see the module doc.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { finalizeEvent, generateSecretKey } from "nostr-tools/pure";
 * import { ParkedRequests } from "./parked_requests.ts";
 * import { encodeEventToon } from "../../../protocol/toon_codec.ts";
 *
 * const key = generateSecretKey();
 * const nowSec = Math.floor(Date.now() / 1000);
 * // Two requests refused now: their requester has no room here.
 * const events = [1, 2].map((n) => finalizeEvent({ kind: 5601, created_at: nowSec - n, tags: [], content: "" }, key));
 * const parked = new ParkedRequests();
 * for (const event of events) assert(parked.park(event, encodeEventToon(event), 600));
 * // Later, when that requester paid: as many as it has room for come in, in the order parked.
 * const admitted: string[] = [];
 * parked.release(events[0].pubkey, () => 1, (event) => admitted.push(event.id));
 * assert.deepEqual(admitted, [events[0].id]);
 * assert.equal(parked.size, 1);
 * ```
 */
export class ParkedRequests {
  #byRequester = new Map<string, ParkedRequest[]>();
  #ids = new Set<string>();

  /** Requests parked in all. */
  get size(): number {
    return this.#ids.size;
  }

  /** Whether this request is parked. */
  has(id: string): boolean {
    return this.#ids.has(id);
  }

  /** Whether this requester has requests parked. */
  hasRequester(requester: string): boolean {
    return this.#byRequester.has(requester);
  }

  /**
   * Parks a request; false when it cannot be (its requester's share or the whole is full).
   * Requests older than `maxAgeSec` leave first.
   */
  park(event: NostrEvent, toon: string, maxAgeSec: number): boolean {
    const queue = this.#byRequester.get(event.pubkey) ?? [];
    // Requests too old to admit anyway leave first (a requester that never pays is never woken).
    const oldest = Math.floor(Date.now() / 1000) - maxAgeSec;
    while (queue.length > 0 && queue[0].event.created_at < oldest) {
      this.#ids.delete(queue.shift()!.event.id);
    }
    if (queue.length >= MAX_PARKED_PER_REQUESTER || this.#ids.size >= MAX_PARKED) {
      return false;
    }
    queue.push({ event, toon });
    this.#byRequester.set(event.pubkey, queue);
    this.#ids.add(event.id);
    return true;
  }

  /**
   * Hands `requester`'s oldest parked requests to `admit`, as many as `room()` says (asked once
   * there are some), each unparked just before it is admitted.
   */
  release(
    requester: string,
    room: () => number,
    admit: (event: NostrEvent, toon: string) => void,
  ): void {
    const queue = this.#byRequester.get(requester);
    if (queue === undefined) return;
    for (const { event, toon } of queue.splice(0, Math.max(0, room()))) {
      this.#ids.delete(event.id);
      admit(event, toon);
    }
    if (queue.length === 0) this.#byRequester.delete(requester);
  }
}
