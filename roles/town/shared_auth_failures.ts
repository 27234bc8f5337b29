/**
 * Failed BTP auths counted for a whole town on several processes (docs/OPERATIONS.md "A town on
 * several machines"), reserved before the auth is read: a connection's upgrade takes a token
 * from its address's bucket and, for an address that never authenticated on this process, from
 * the town's total bucket, in the database (state/postgres/postgres_rate_buckets.ts: one atomic statement
 * per bucket). An empty bucket refuses the upgrade; an auth that succeeds, or a connection that
 * closes before sending one, gives its tokens back. Each failed auth has therefore spent a token
 * taken atomically in the database, so guesses opened at the same moment on several processes
 * never pass the town's limits.
 *
 * An empty bucket may be empty only for the moment: honest peers on one host (a requester host
 * of agents, a NAT) connecting at once hold a token each until their auths succeed, a few
 * milliseconds later. So a reservation the buckets refuse is tried again, with a growing pause,
 * for up to `waitMs` before the upgrade is refused; each try is still one atomic take, so the
 * limits hold as before (docs/OPERATIONS.md "A town on several machines").
 *
 * @module
 */

/** The buckets (state/postgres/postgres_rate_buckets.ts). */
export interface AuthFailureBuckets {
  take(key: string, ratePerSecond: number, capacity: number): Promise<boolean>;
  refund(key: string, capacity: number): Promise<void>;
}

/** Options for {@linkcode sharedAuthFailures}. */
export interface SharedAuthFailuresOptions {
  buckets: AuthFailureBuckets;
  /** Failures per address per minute, town-wide. */
  perAddressPerMinute: number;
  /** Failures per minute across all addresses, town-wide. */
  totalPerMinute: number;
  /** How long a refused reservation is tried again before the upgrade is refused. Default 1,500 ms. */
  waitMs?: number;
  /**
   * How long while auths from the same address are in flight on this process (they end within
   * the auth timeout, giving their tokens back or spending them). Default 5,000 ms.
   */
  inFlightWaitMs?: number;
  /** Clock in milliseconds (tests). Default `Date.now`. */
  now?: () => number;
}

/** The first pause between two tries of a refused reservation, doubled up to the last. */
const FIRST_PAUSE_MS = 20;
const LAST_PAUSE_MS = 250;

/** A reserved failure: given back when the auth succeeds or never comes. */
export interface AuthFailureReservation {
  /** Gives the tokens back (once; later calls, and calls after `spend`, do nothing). */
  refund(): void;
  /** The auth failed: the tokens stay spent (once). */
  spend(): void;
}

/**
 * Why a reservation was refused: the address's bucket, or the town's total, is empty; `busy`:
 * one of them is empty while auths from the address are still in flight on this process, or
 * for an address that authenticated here before (honest peers connecting at once, perhaps
 * through other processes, not failures: nothing to block).
 */
export type AuthFailureRefusal = "address" | "town" | "busy";

/** The reserving side of the BTP server's `sharedAuthFailures` hook. */
export interface SharedAuthFailures {
  /**
   * Reserves one failed auth for a connection from `address` (`known`: whether it authenticated
   * on this process before, so it is not held to the total; asked again at each try). Rejects when the database cannot be
   * reached (nothing reserved).
   */
  reserve(
    address: string,
    known: () => boolean,
  ): Promise<AuthFailureReservation | AuthFailureRefusal>;
}

/**
 * The town-wide failed-auth reservations.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { sharedAuthFailures } from "./shared_auth_failures.ts";
 * import { MemoryRateBuckets } from "./memory_rate_buckets.ts";
 *
 * const failures = sharedAuthFailures({ buckets: new MemoryRateBuckets(), perAddressPerMinute: 1,
 *   totalPerMinute: 120 });
 * const first = await failures.reserve("10.0.0.7", () => false);
 * assert(typeof first !== "string"); // a failure may be spent
 * const second = await failures.reserve("10.0.0.7", () => false);
 * assert.equal(typeof second, "string"); // refused: the address's one failure a minute is spent
 * ```
 */
export function sharedAuthFailures(o: SharedAuthFailuresOptions): SharedAuthFailures {
  const now = o.now ?? Date.now;
  const perAddress = Math.max(1, o.perAddressPerMinute);
  const total = Math.max(1, o.totalPerMinute / 6);
  const totalRate = o.totalPerMinute / 60;
  // Once the database said the total is empty, it cannot hold a token before one refills:
  // refusing here until then spares the database a statement per connection of a flood.
  let totalEmptyUntil = 0;
  const once = async (
    address: string,
    known: boolean,
  ): Promise<AuthFailureReservation | AuthFailureRefusal> => {
    const addressKey = `btp-auth:${address}`;
    if (!known && now() < totalEmptyUntil) return "town";
    if (!(await o.buckets.take(addressKey, o.perAddressPerMinute / 60, perAddress))) {
      return "address";
    }
    if (!known && !(await o.buckets.take("btp-auth:*", totalRate, total))) {
      totalEmptyUntil = now() + 1000 / Math.max(totalRate, 1e-6);
      await o.buckets.refund(addressKey, perAddress).catch(() => {});
      return "town";
    }
    let ended = false;
    inFlight.set(address, (inFlight.get(address) ?? 0) + 1);
    const end = () => {
      if (ended) return false;
      ended = true;
      const left = (inFlight.get(address) ?? 1) - 1;
      if (left > 0) inFlight.set(address, left);
      else inFlight.delete(address);
      return true;
    };
    return {
      refund() {
        if (!end()) return;
        o.buckets.refund(addressKey, perAddress).catch(() => {});
        if (!known) o.buckets.refund("btp-auth:*", total).catch(() => {});
      },
      spend() {
        end();
      },
    };
  };
  // Reservations this process holds per address, their auths not ended yet.
  const inFlight = new Map<string, number>();
  const waitMs = o.waitMs ?? 1_500;
  const inFlightWaitMs = o.inFlightWaitMs ?? 5_000;
  return {
    async reserve(address, known) {
      const start = now();
      for (let pause = FIRST_PAUSE_MS;; pause = Math.min(2 * pause, LAST_PAUSE_MS)) {
        const r = await once(address, known());
        if (typeof r !== "string") return r;
        // Auths from the address in flight here, or an address that authenticated here before
        // (its honest peers may be reconnecting at once through other processes): the bucket
        // may be held by auths in flight, not spent by failures; they end soon. Not blocked.
        const busy = (inFlight.get(address) ?? 0) > 0 || known();
        if (now() + pause > start + (busy ? inFlightWaitMs : waitMs)) return busy ? "busy" : r;
        await new Promise((resolve) => setTimeout(resolve, pause));
      }
    },
  };
}
