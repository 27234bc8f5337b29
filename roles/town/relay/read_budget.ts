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
 * of REQs arrives at once (docs/OPERATIONS.md "A town's limits").
 *
 * Fair shares: the caps are shared, but not first come, first served. Each client (a
 * connection) is charged the time its queries take, decayed over about a second, and a strike
 * for each query refused, decayed over `heavyDecayMs`. Its weight is the larger of its time
 * over its share (`queryMillisPerSecond` over the clients that used any lately) and its strikes
 * over {@linkcode HEAVY_STRIKES}; under 1, with no query in flight, it is light. Only a light
 * client is admitted past a spent cap: past the time cap always (its answer waits for time),
 * past the others within an overdraft (a tenth more queries and bytes, at least one query) that
 * is the deeper the lighter the client; its answer's batches skip the wait for time while the
 * debt is under one second's time (less the heavier it is). A flooder's refused
 * REQs cost it nothing in time, which alone would let it pass for light a second later and
 * take the overdraft before an honest client; its strikes keep it heavy for the decay period
 * after the flood, so the overdraft stays for the clients asking once in a while
 * (docs/OPERATIONS.md "A town's limits").
 *
 * Each process of a town on several processes has its own budget: what it guards is that
 * process's event loop and memory, so nothing of it is shared through the database.
 *
 * @module
 */
import { LoopLateness } from "./loop_lateness.ts";
import { PageGate } from "./page_gate.ts";
import { setImmediate } from "node:timers";
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
  /**
   * Time constant of a client's strikes (its REQs refused): a client that flooded stays heavy
   * for about this long times the log of its strikes over {@linkcode HEAVY_STRIKES}. Default
   * 10 s.
   */
  heavyDecayMs?: number;
  /** Monotonic clock in milliseconds (tests). Default `performance.now`. */
  now?: () => number;
}

/** One admitted query: give back bytes as they are sent, then end it. */
export interface QueryTicket {
  /** Adds `bytes` to the reservation: a page of the answer read from the store. */
  hold(bytes: number): void;
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

/** Strikes of one client, decayed over `heavyDecayMs`. */
interface Strikes {
  count: number;
  at: number;
}

/** How often clients that used nothing lately are forgotten. */
const PRUNE_MS = 1000;
const DEFAULT_HEAVY_DECAY_MS = 10_000;
/**
 * Pages of stored events read and not yet sent at once (a page is 1-2 ms of work on SQLite). A
 * PostgreSQL page's rows arrive over several turns of the event loop and are held until the last:
 * with 8 at once, rows of pages in flight outlived the young generation's collections and filled
 * the old one (docs/OPERATIONS.md "Peers that do not read").
 */
const PAGES_READ_AT_ONCE = 2;
/** How often the event loop's lateness is looked at while queries are in flight. */
const LATENESS_TICK_MS = 25;
/**
 * Strikes that make a client heavy: with the default decay, more than about one refused REQ a
 * second kept up. An honest client opening a few subscriptions at once during a flood is
 * refused for the ones past the first (it has a query in flight) and stays light; a flooder
 * asking many times a second is heavy within a second of being refused.
 */
export const HEAVY_STRIKES = 10;

/**
 * Admits queries while under both caps.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { ReadBudget } from "./read_budget.ts";
 *
 * const budget = new ReadBudget({
 *   maxConcurrentQueries: 256,
 *   maxQueuedBytes: 128 << 20,
 *   queryMillisPerSecond: 400,
 *   queryBurstMillis: 40,
 * });
 * const ticket = budget.admit(1024);
 * assert(typeof ticket !== "string"); // admitted, not refused
 * ticket.sent(1024);
 * ticket.end();
 * ```
 */
export class ReadBudget {
  readonly #o: ReadBudgetOptions;
  readonly #time: TokenBucket;
  readonly #now: () => number;
  readonly #clients = new Map<object, ClientUse>();
  readonly #strikes = new Map<object, Strikes>();
  readonly #heavyDecayMs: number;
  #prunedAt = 0;
  /** The loop's lateness while queries are in flight; none with a test's clock. */
  readonly #lateness: LoopLateness | undefined;
  /** {@linkcode ReadBudget.#charged} at the last look at the loop's lateness. */
  #chargedAtLook = 0;
  /** Milliseconds charged since the start (to tell a query's own time from others'). */
  #charged = 0;
  #queries = 0;
  #bytes = 0;
  /** The pages of stored events read at once, town-wide (roles/town/relay/page_gate.ts). */
  readonly pages: PageGate = new PageGate({ maxPages: PAGES_READ_AT_ONCE });
  /** Queries refused so far (a counter for `/metrics`). */
  refusedTotal = 0;
  /** Queries admitted past a spent cap because their client was under its share. */
  fairShareAdmittedTotal = 0;

  constructor(options: ReadBudgetOptions) {
    this.#o = options;
    this.#now = options.now ?? (() => performance.now());
    this.#heavyDecayMs = options.heavyDecayMs ?? DEFAULT_HEAVY_DECAY_MS;
    this.#lateness = options.now !== undefined ? undefined : new LoopLateness({
      tickMs: LATENESS_TICK_MS,
      late: (ms) => this.#late(ms),
      wanted: () => this.#queries > 0,
    });
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
    return this.#pastCap(refusal, 0, client);
  }

  /** True while the time budget has time left (other read work may be done now). */
  hasTime(): boolean {
    return this.#time.level() > 0;
  }

  /** Charges the time a query, or a batch of its rows sent, took; to `client`'s share too. */
  charge(millis: number, client?: object): void {
    this.#charged += millis;
    this.#time.charge(millis);
    if (client !== undefined) this.#use(client).millis += millis;
  }

  /**
   * Runs a store query and charges what it cost the event loop, to `client`'s share too: its
   * synchronous part at once (a SQLite query is nothing else), so that the next REQ's precheck
   * sees it, then the rest of its wall time less what other read work was charged meanwhile, at
   * most `cost(result)` when given. The wall time alone would charge every query that waited
   * behind others (their continuations queued in the same microtask checkpoint) for the others'
   * time as well, and a burst of REQs would run the budget into a debt of many seconds that no
   * one pays off. A query that waits on another process (PostgreSQL) spends most of its wall
   * time waiting, for the server or for a connection of the pool, and the event loop only the
   * time to read its rows: `cost` estimates that (roles/town/relay/store_read_cost.ts).
   */
  async timeQuery<T>(
    run: () => Promise<T>,
    client?: object,
    cost?: (result: T) => number,
  ): Promise<T> {
    const started = this.#now();
    const chargedBefore = this.#charged;
    let pending: Promise<T>;
    try {
      pending = run();
    } finally {
      this.charge(this.#now() - started, client);
    }
    let rest = Infinity;
    try {
      const result = await pending;
      if (cost !== undefined) rest = cost(result);
      return result;
    } finally {
      const wall = this.#now() - started;
      const charged = this.#charged - chargedBefore;
      rest = Math.min(rest, wall - charged);
      if (rest > 0) this.charge(rest, client);
    }
  }

  /**
   * Resolves when there is time in the budget again, always after a macrotask boundary, so a
   * batch of rows waits for the bucket instead of stalling the event loop. A light `client`
   * (its own queries in flight aside) waits only for the macrotask while the time overdraft
   * lasts: its answer does not queue behind a flood's.
   */
  async pace(client?: object): Promise<void> {
    const weight = this.#weight(client, false);
    if (weight < 1 && this.#time.level() > -this.#o.queryMillisPerSecond * (1 - weight)) {
      await new Promise((resolve) => setImmediate(resolve));
      return;
    }
    await this.#time.untilPositive();
  }

  /**
   * Runs one page of a REQ's answer through the town-wide {@linkcode ReadBudget.pages} gate; a
   * light `client` (its own queries in flight aside) goes before the others waiting.
   */
  runPage<T>(page: () => Promise<T>, client?: object): Promise<T> {
    return this.pages.run(page, this.#weight(client, false) < 1);
  }

  /** Whether `client` is heavy now (struck too often lately): for tests and diagnostics. */
  isHeavy(client: object): boolean {
    return this.#strikesOf(client, this.#now()) >= HEAVY_STRIKES;
  }

  /** Admits a query holding `bytes`, or says which cap it would exceed. */
  admit(bytes: number, client?: object): QueryTicket | ReadBudgetRefusal {
    let refusal: ReadBudgetRefusal | undefined;
    if (this.#queries >= this.#o.maxConcurrentQueries) refusal = "queries";
    // One query larger than the whole budget is still admitted when nothing else is queued.
    else if (this.#bytes > 0 && this.#bytes + bytes > this.#o.maxQueuedBytes) refusal = "bytes";
    if (refusal !== undefined && this.#pastCap(refusal, bytes, client) !== undefined) {
      return refusal;
    }
    this.#queries++;
    this.#bytes += bytes;
    if (this.#lateness !== undefined && this.#queries === 1) {
      this.#chargedAtLook = this.#charged;
      this.#lateness.start();
    }
    const use = client === undefined ? undefined : this.#use(client);
    if (use) use.queries++;
    let left = bytes;
    let ended = false;
    return {
      hold: (n) => {
        if (ended) return;
        left += n;
        this.#bytes += n;
      },
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

  /**
   * The loop ran `ms` late while queries were in flight: what no query was charged for since the
   * last look is charged too, but only down to a bucket empty until the next look (one look's
   * refill in debt), never deeper: it slows the answers that wait for time, and does not refuse
   * REQs for long for work that was not theirs.
   */
  #late(ms: number): void {
    const uncharged = ms - (this.#charged - this.#chargedAtLook);
    const room = this.#time.level() + (LATENESS_TICK_MS / 1000) * this.#o.queryMillisPerSecond;
    if (uncharged > 0 && room > 0) this.charge(Math.min(uncharged, room));
    this.#chargedAtLook = this.#charged;
  }

  /**
   * A query past a spent cap: admitted (undefined) for a light client within its overdraft,
   * else refused, and a strike against the client.
   */
  #pastCap(
    refusal: ReadBudgetRefusal,
    bytes: number,
    client: object | undefined,
  ): ReadBudgetRefusal | undefined {
    const weight = this.#weight(client, true);
    // A light client is not refused for time: its answer waits for it (pace) and holds only its
    // filters meanwhile. Refused, it lost to the fresh connections of a flood, as light as it,
    // that had taken the time overdraft a moment before (docs/OPERATIONS.md "Peers that do not
    // read").
    if (weight < 1 && (refusal === "time" || this.#withinOverdraft(bytes, weight))) {
      this.fairShareAdmittedTotal++;
      return undefined;
    }
    if (client !== undefined) this.#strike(client);
    return this.#refuse(refusal);
  }

  /**
   * Whether a query past the queries' or bytes' cap stays within the overdraft of a client of
   * `weight`: the lighter the client, the deeper the overdraft it may use (a tenth more queries,
   * at least one, and bytes), so what one light client leaves is there for a lighter one. Time
   * is not looked at: the answer waits for it ({@linkcode ReadBudget.pace}).
   */
  #withinOverdraft(bytes: number, weight: number): boolean {
    const o = this.#o;
    const room = 1 - weight;
    const extraQueries = Math.max(1, Math.floor(o.maxConcurrentQueries / 10));
    return this.#queries < o.maxConcurrentQueries + extraQueries * room &&
      this.#bytes + bytes <= o.maxQueuedBytes * (1 + room / 10);
  }

  /**
   * How heavy a client is, 1 or more for one not light: the larger of its time used over its
   * share (`queryMillisPerSecond` over the clients that used any lately) and its strikes over
   * {@linkcode HEAVY_STRIKES}; with `idle`, a client with a query in flight is not light.
   */
  #weight(client: object | undefined, idle: boolean): number {
    if (client === undefined) return Infinity;
    const use = this.#use(client);
    if (idle && use.queries > 0) return Infinity;
    const share = this.#o.queryMillisPerSecond / Math.max(1, this.#clients.size);
    return Math.max(use.millis / share, this.#strikesOf(client, use.at) / HEAVY_STRIKES);
  }

  #strike(client: object): void {
    const now = this.#now();
    const count = this.#strikesOf(client, now) + 1;
    this.#strikes.set(client, { count, at: now });
  }

  /** The client's strikes, decayed to `now`. */
  #strikesOf(client: object, now: number): number {
    const strikes = this.#strikes.get(client);
    if (strikes === undefined) return 0;
    strikes.count *= Math.exp(-(now - strikes.at) / this.#heavyDecayMs);
    strikes.at = now;
    return strikes.count;
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
      for (const key of this.#strikes.keys()) {
        if (this.#strikesOf(key, now) < 0.1) this.#strikes.delete(key);
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
