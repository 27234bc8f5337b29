/**
 * The read side's budget across all connections: REQ answers in flight, the bytes of stored
 * events read for them but not yet handed to a socket, and the event loop's time spent on them
 * (store queries and sending their rows). A REQ that would exceed any of them is refused
 * (`CLOSED rate-limited: town busy`) instead of reading more into memory, so many connections
 * each under their own rate limit still cannot make the town buffer without bound; answers in
 * flight wait for time ({@linkcode ReadBudget.pace}) instead of taking it from `/health`.
 *
 * The time budget is a token bucket refilled at `queryMillisPerSecond` that holds at most
 * `queryBurstMillis`: that cap, not the rate, is what bounds one stall of the event loop when a burst
 * of REQs arrives at once (docs/OPERATIONS.md "Limits").
 *
 * @module
 */
import { TokenBucket } from "./token_bucket.ts";

/** Options for {@linkcode ReadBudget}. */
export interface ReadBudgetOptions {
  maxConcurrentQueries: number;
  maxQueuedBytes: number;
  /**
   * Milliseconds per second the event loop may spend inside store queries (a token bucket of
   * one second's worth): queries are synchronous, so this is what keeps `/health` answering.
   */
  queryMillisPerSecond: number;
  /**
   * Most milliseconds of read work done back to back (the bucket's size, at most one second's
   * worth): a burst of REQs costs `/health` about this much.
   */
  queryBurstMillis: number;
  /** Monotonic clock in milliseconds (tests). Default `performance.now`. */
  now?: () => number;
}

/** One admitted query: give back bytes as they are sent, then end it. */
export interface QueryTicket {
  /** Returns `bytes` of the reservation (they were handed to the socket). */
  sent(bytes: number): void;
  /** Ends the query and returns what is left of its reservation; safe to call twice. */
  end(): void;
}

/** Why a query was refused. */
export type ReadBudgetRefusal = "queries" | "bytes" | "time";

/**
 * Admits queries while under both caps.
 *
 * @example
 * ```ts
 * const budget = new ReadBudget({
 *   maxConcurrentQueries: 256,
 *   maxQueuedBytes: 128 << 20,
 *   queryMillisPerSecond: 400,
 *   queryBurstMillis: 40,
 * });
 * const ticket = budget.admit(1024);
 * if (typeof ticket !== "string") {
 *   ticket.sent(1024);
 *   ticket.end();
 * }
 * ```
 */
export class ReadBudget {
  readonly #o: ReadBudgetOptions;
  readonly #time: TokenBucket;
  #queries = 0;
  #bytes = 0;
  /** Queries refused so far (a counter for `/metrics`). */
  refusedTotal = 0;

  constructor(options: ReadBudgetOptions) {
    this.#o = options;
    this.#time = new TokenBucket({
      ratePerSecond: options.queryMillisPerSecond,
      capacity: Math.min(options.queryBurstMillis, options.queryMillisPerSecond),
      now: options.now,
    });
  }

  /** Queries in flight. */
  get queries(): number {
    return this.#queries;
  }

  /** Bytes read and not yet sent. */
  get queuedBytes(): number {
    return this.#bytes;
  }

  /** Why a query may not start now (checked before reading anything), or undefined. */
  precheck(): ReadBudgetRefusal | undefined {
    if (this.#queries >= this.#o.maxConcurrentQueries) return this.#refuse("queries");
    if (this.#bytes >= this.#o.maxQueuedBytes) return this.#refuse("bytes");
    if (this.#time.level() <= 0) return this.#refuse("time");
    return undefined;
  }

  /** Charges the time a query, or a batch of its rows sent, took to the per-second budget. */
  charge(millis: number): void {
    this.#time.charge(millis);
  }

  /**
   * Resolves when there is time in the budget again, always after a macrotask boundary, so a
   * batch of rows waits for the bucket instead of stalling the event loop.
   */
  pace(): Promise<void> {
    return this.#time.untilPositive();
  }

  /** Admits a query holding `bytes`, or says which cap it would exceed. */
  admit(bytes: number): QueryTicket | ReadBudgetRefusal {
    if (this.#queries >= this.#o.maxConcurrentQueries) return this.#refuse("queries");
    // One query larger than the whole budget is still admitted when nothing else is queued.
    if (this.#bytes > 0 && this.#bytes + bytes > this.#o.maxQueuedBytes) {
      return this.#refuse("bytes");
    }
    this.#queries++;
    this.#bytes += bytes;
    let left = bytes;
    let ended = false;
    return {
      sent: (n) => {
        const give = Math.min(n, left);
        left -= give;
        this.#bytes -= give;
      },
      end: () => {
        if (ended) return;
        ended = true;
        this.#bytes -= left;
        left = 0;
        this.#queries--;
      },
    };
  }

  #refuse(refusal: ReadBudgetRefusal): ReadBudgetRefusal {
    this.refusedTotal++;
    return refusal;
  }
}
