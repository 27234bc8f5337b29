/**
 * Failed authentications per remote address and in total: past `maxFailuresPerMinute` in a
 * minute an address is blocked for `blockMs`, so guessing BTP tokens costs the guesser minutes,
 * not microseconds. Past `maxFailuresPerMinuteTotal` across all addresses (many addresses
 * guessing at once), addresses that never authenticated are refused until the total refills,
 * and any failure blocks its address at once. Neither locks out the right token: an address
 * that authenticated before is not held to the total, and a blocked address may still try once
 * per `trialMs` (a peer behind it that has the token gets in at its next try).
 *
 * @module
 */
import { TokenBucket } from "./token_bucket.ts";

/** Options for {@linkcode AuthFailureThrottle}. */
export interface AuthFailureThrottleOptions {
  /** Failures allowed per address per minute. */
  maxFailuresPerMinute: number;
  /** How long an address is refused once over. */
  blockMs: number;
  /** Failures per minute across all addresses. Default unlimited. */
  maxFailuresPerMinuteTotal?: number;
  /** A blocked address may try once per this long. Default 10 s. */
  trialMs?: number;
  /** Addresses remembered (the oldest are forgotten first). Default 10,000. */
  maxTracked?: number;
  /** Clock in milliseconds (tests). Default `Date.now`. */
  now?: () => number;
}

interface AddressRecord {
  /** Failure times within the last minute. */
  failures: number[];
  blockedUntil: number;
  /** When a blocked address may next try. */
  nextTrial: number;
}

const MINUTE_MS = 60_000;

/**
 * Counts failed auths per address.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { AuthFailureThrottle } from "./auth_failure_throttle.ts";
 *
 * const throttle = new AuthFailureThrottle({ maxFailuresPerMinute: 1, blockMs: 300_000 });
 * assert.equal(throttle.refusal("10.0.0.7"), undefined); // nothing against it yet
 * throttle.recordFailure("10.0.0.7");
 * throttle.recordFailure("10.0.0.7");
 * assert.equal(typeof throttle.refusal("10.0.0.7"), "string"); // refused before reading anything
 * ```
 */
export class AuthFailureThrottle {
  readonly #o: AuthFailureThrottleOptions;
  readonly #now: () => number;
  readonly #records = new Map<string, AddressRecord>();
  /** Addresses that authenticated, least recently first. */
  readonly #known = new Map<string, true>();
  readonly #total?: TokenBucket;
  /** Addresses blocked so far (a counter for `/metrics`). */
  blockedTotal = 0;
  /** Connections refused because the failures across all addresses were over their cap. */
  totalRefusedTotal = 0;

  constructor(options: AuthFailureThrottleOptions) {
    this.#o = options;
    this.#now = options.now ?? Date.now;
    const total = options.maxFailuresPerMinuteTotal;
    if (total !== undefined) {
      this.#total = new TokenBucket({
        ratePerSecond: total / 60,
        capacity: Math.max(1, total / 6),
        now: this.#now,
      });
    }
  }

  /**
   * Why a connection from `address` is refused before its auth is read, or undefined. A
   * blocked address is let through once per `trialMs` (that try is spent on this call).
   */
  refusal(address: string): string | undefined {
    const now = this.#now();
    const record = this.#records.get(address);
    if (record !== undefined && record.blockedUntil > now) {
      if (now < record.nextTrial) {
        return "too many failed BTP auths from this address; retry in " +
          `${Math.ceil((record.nextTrial - now) / 1000)} s`;
      }
      record.nextTrial = now + (this.#o.trialMs ?? 10_000);
      return undefined;
    }
    if (this.#total !== undefined && this.#total.level() < 1 && !this.#known.has(address)) {
      this.totalRefusedTotal++;
      return "too many failed BTP auths on this town; retry later";
    }
    return undefined;
  }

  /** Records a success: the address is not held to the total cap from now on. */
  recordSuccess(address: string): void {
    this.#known.delete(address);
    this.#known.set(address, true);
    const max = this.#o.maxTracked ?? 10_000;
    for (const key of this.#known.keys()) {
      if (this.#known.size <= max) break;
      this.#known.delete(key);
    }
  }

  /** True when `address` authenticated before (it is not held to the total cap). */
  isKnown(address: string): boolean {
    return this.#known.has(address);
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
    const overTotal = this.#total !== undefined && !this.#total.take();
    if (record.failures.length >= this.#o.maxFailuresPerMinute || overTotal) {
      record.blockedUntil = now + this.#o.blockMs;
      record.nextTrial = now + (this.#o.trialMs ?? 10_000);
      record.failures = [];
      this.blockedTotal++;
      return true;
    }
    return false;
  }

  /**
   * Blocks `address` now (a town-wide count, kept elsewhere, says it is over); false when it
   * was blocked already.
   */
  block(address: string): boolean {
    const now = this.#now();
    const record = this.#record(address);
    if (record.blockedUntil > now) return false;
    record.blockedUntil = now + this.#o.blockMs;
    record.nextTrial = now + (this.#o.trialMs ?? 10_000);
    record.failures = [];
    this.blockedTotal++;
    return true;
  }

  #record(address: string): AddressRecord {
    let record = this.#records.get(address);
    if (record) {
      // Re-inserted so the map's order is least recently failed first.
      this.#records.delete(address);
    } else {
      record = { failures: [], blockedUntil: 0, nextTrial: 0 };
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
