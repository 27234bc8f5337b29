/**
 * The read side's budget across all connections: REQ answers in flight and the bytes of stored
 * events read for them but not yet handed to a socket. A REQ that would exceed either is
 * refused (`CLOSED rate-limited: town busy`) instead of reading more into memory, so many
 * connections each under their own rate limit still cannot make the town buffer without bound.
 *
 * @module
 */

/** Options for {@linkcode ReadBudget}. */
export interface ReadBudgetOptions {
  maxConcurrentQueries: number;
  maxQueuedBytes: number;
  /**
   * Milliseconds per second the event loop may spend inside store queries (a token bucket of
   * one second's worth): queries are synchronous, so this is what keeps `/health` answering.
   */
  queryMillisPerSecond: number;
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
 * const budget = new ReadBudget({ maxConcurrentQueries: 256, maxQueuedBytes: 128 << 20 });
 * const ticket = budget.admit(1024);
 * if (typeof ticket !== "string") {
 *   ticket.sent(1024);
 *   ticket.end();
 * }
 * ```
 */
export class ReadBudget {
  readonly #o: ReadBudgetOptions;
  readonly #now: () => number;
  #queries = 0;
  #bytes = 0;
  #millis: number;
  #last: number;
  /** Queries refused so far (a counter for `/metrics`). */
  refusedTotal = 0;

  constructor(options: ReadBudgetOptions) {
    this.#o = options;
    this.#now = options.now ?? (() => performance.now());
    this.#millis = options.queryMillisPerSecond;
    this.#last = this.#now();
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
    if (this.#refill() <= 0) return this.#refuse("time");
    return undefined;
  }

  /** Charges the time a query took to the per-second budget. */
  charge(millis: number): void {
    this.#refill();
    this.#millis -= millis;
  }

  #refill(): number {
    const now = this.#now();
    const rate = this.#o.queryMillisPerSecond;
    this.#millis = Math.min(rate, this.#millis + ((now - this.#last) / 1000) * rate);
    this.#last = now;
    return this.#millis;
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
