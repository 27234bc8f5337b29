/**
 * Failed authentications per remote address: past `maxFailures` in a minute the address is
 * refused for `blockMs`, so guessing BTP tokens costs the guesser minutes, not microseconds.
 *
 * @module
 */

/** Options for {@linkcode AuthFailureThrottle}. */
export interface AuthFailureThrottleOptions {
  /** Failures allowed per address per minute. */
  maxFailuresPerMinute: number;
  /** How long an address is refused once over. */
  blockMs: number;
  /** Addresses remembered (the oldest are forgotten first). Default 10,000. */
  maxTracked?: number;
  /** Clock in milliseconds (tests). Default `Date.now`. */
  now?: () => number;
}

interface AddressRecord {
  /** Failure times within the last minute. */
  failures: number[];
  blockedUntil: number;
}

const MINUTE_MS = 60_000;

/**
 * Counts failed auths per address.
 *
 * @example
 * ```ts
 * const throttle = new AuthFailureThrottle({ maxFailuresPerMinute: 5, blockMs: 300_000 });
 * if (throttle.isBlocked("10.0.0.7")) console.log("refuse before reading anything");
 * throttle.recordFailure("10.0.0.7");
 * ```
 */
export class AuthFailureThrottle {
  readonly #o: AuthFailureThrottleOptions;
  readonly #now: () => number;
  readonly #records = new Map<string, AddressRecord>();
  /** Addresses blocked so far (a counter for `/metrics`). */
  blockedTotal = 0;

  constructor(options: AuthFailureThrottleOptions) {
    this.#o = options;
    this.#now = options.now ?? Date.now;
  }

  /** True while `address` is refused. */
  isBlocked(address: string): boolean {
    const record = this.#records.get(address);
    return record !== undefined && record.blockedUntil > this.#now();
  }

  /** Records a failure; true when the address is now blocked. */
  recordFailure(address: string): boolean {
    const now = this.#now();
    const record = this.#record(address);
    record.failures = record.failures.filter((t) => t > now - MINUTE_MS);
    record.failures.push(now);
    if (record.failures.length >= this.#o.maxFailuresPerMinute) {
      record.blockedUntil = now + this.#o.blockMs;
      record.failures = [];
      this.blockedTotal++;
      return true;
    }
    return false;
  }

  #record(address: string): AddressRecord {
    let record = this.#records.get(address);
    if (record) {
      // Re-inserted so the map's order is least recently failed first.
      this.#records.delete(address);
    } else {
      record = { failures: [], blockedUntil: 0 };
    }
    this.#records.set(address, record);
    const max = this.#o.maxTracked ?? 10_000;
    for (const key of this.#records.keys()) {
      if (this.#records.size <= max) break;
      this.#records.delete(key);
    }
    return record;
  }
}
