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
 * Fair shares: the caps are shared, but not first come, first served. Each client (a
 * connection) is charged the time its queries take, decayed over about a second; one that used
 * less than half its share (`queryMillisPerSecond` over the clients that used any lately) and
 * has no query in flight is admitted past a spent cap, within an overdraft (a tenth more
 * queries and bytes, one second's time in debt). Fifty connections flooding REQs
 * then take the budget from each other, not from a client asking once in a while.
 *
 * @module
 */
import { TokenBucket } from "../token_bucket.ts";

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

/** What one client used lately. */
interface ClientUse {
  /** Milliseconds charged, decayed with a one-second time constant. */
  millis: number;
  /** When `millis` was last decayed. */
  at: number;
  /** Queries in flight. */
  queries: number;
}

/** How often clients that used nothing lately are forgotten. */
const PRUNE_MS = 1000;

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
  readonly #now: () => number;
  readonly #clients = new Map<object, ClientUse>();
  #prunedAt = 0;
  #queries = 0;
  #bytes = 0;
  /** Queries refused so far (a counter for `/metrics`). */
  refusedTotal = 0;
  /** Queries admitted past a spent cap because their client was under its share. */
  fairShareAdmittedTotal = 0;

  constructor(options: ReadBudgetOptions) {
    this.#o = options;
    this.#now = options.now ?? (() => performance.now());
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

  /**
   * Why a query may not start now (checked before reading anything), or undefined. `client`
   * (the connection asking) is admitted past a spent cap while under its fair share.
   */
  precheck(client?: object): ReadBudgetRefusal | undefined {
    const o = this.#o;
    let refusal: ReadBudgetRefusal | undefined;
    if (this.#queries >= o.maxConcurrentQueries) refusal = "queries";
    else if (this.#bytes >= o.maxQueuedBytes) refusal = "bytes";
    else if (this.#time.level() <= 0) refusal = "time";
    if (refusal === undefined) return undefined;
    if (this.#withinOverdraft(0) && this.#light(client)) {
      this.fairShareAdmittedTotal++;
      return undefined;
    }
    return this.#refuse(refusal);
  }

  /** True while the time budget has time left (other read work may be done now). */
  hasTime(): boolean {
    return this.#time.level() > 0;
  }

  /** Charges the time a query, or a batch of its rows sent, took; to `client`'s share too. */
  charge(millis: number, client?: object): void {
    this.#time.charge(millis);
    if (client !== undefined) this.#use(client).millis += millis;
  }

  /**
   * Resolves when there is time in the budget again, always after a macrotask boundary, so a
   * batch of rows waits for the bucket instead of stalling the event loop.
   */
  async pace(): Promise<void> {
    await this.#time.untilPositive();
  }

  /** Admits a query holding `bytes`, or says which cap it would exceed. */
  admit(bytes: number, client?: object): QueryTicket | ReadBudgetRefusal {
    let refusal: ReadBudgetRefusal | undefined;
    if (this.#queries >= this.#o.maxConcurrentQueries) refusal = "queries";
    // One query larger than the whole budget is still admitted when nothing else is queued.
    else if (this.#bytes > 0 && this.#bytes + bytes > this.#o.maxQueuedBytes) refusal = "bytes";
    if (refusal !== undefined) {
      if (!this.#withinOverdraft(bytes) || !this.#light(client)) return this.#refuse(refusal);
      this.fairShareAdmittedTotal++;
    }
    this.#queries++;
    this.#bytes += bytes;
    const use = client === undefined ? undefined : this.#use(client);
    if (use) use.queries++;
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
        if (use) use.queries--;
      },
    };
  }

  /** Whether a query past the caps stays within the overdraft a light client may use. */
  #withinOverdraft(bytes: number): boolean {
    const o = this.#o;
    return this.#queries < Math.floor(o.maxConcurrentQueries * 1.1) &&
      this.#bytes + bytes <= o.maxQueuedBytes * 1.1 &&
      this.#time.level() > -o.queryMillisPerSecond;
  }

  /** A client under half its fair share of the time, with no query in flight. */
  #light(client: object | undefined): boolean {
    if (client === undefined) return false;
    const use = this.#use(client);
    const share = this.#o.queryMillisPerSecond / Math.max(1, this.#clients.size);
    return use.millis < share / 2 && use.queries === 0;
  }

  /** The client's use, decayed to now; clients that used nothing lately are forgotten. */
  #use(client: object): ClientUse {
    const now = this.#now();
    if (now - this.#prunedAt >= PRUNE_MS) {
      this.#prunedAt = now;
      for (const [key, use] of this.#clients) {
        decay(use, now);
        if (use.queries === 0 && use.millis < 0.01) this.#clients.delete(key);
      }
    }
    let use = this.#clients.get(client);
    if (use === undefined) {
      use = { millis: 0, at: now, queries: 0 };
      this.#clients.set(client, use);
    }
    decay(use, now);
    return use;
  }

  #refuse(refusal: ReadBudgetRefusal): ReadBudgetRefusal {
    this.refusedTotal++;
    return refusal;
  }
}

function decay(use: ClientUse, now: number): void {
  use.millis *= Math.exp(-(now - use.at) / 1000);
  use.at = now;
}
