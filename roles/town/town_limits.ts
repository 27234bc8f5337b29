/**
 * The limits of the town's read side: configurable, reported in NIP-11 and `/metrics`, each
 * enforced with a precise NIP-01 answer.
 *
 * @module
 */

/** Limits applied per connection by the town's NIP-01 server. */
export interface TownLimits {
  /** Largest client message, UTF-8 bytes (NOTICE `invalid: message over N bytes`). */
  maxMessageBytes: number;
  /** Most open subscriptions per connection (CLOSED `error: too many subscriptions`). */
  maxSubscriptions: number;
  /** Most filters in one REQ or COUNT (CLOSED `invalid: REQ has more than N filters`). */
  maxFilters: number;
  /** Cap on a filter's `limit` (larger ones are clamped; also the limit when none is given). */
  maxLimit: number;
  /** Sustained client messages per second per connection (token bucket). */
  messagesPerSecond: number;
  /** Burst of client messages per connection. */
  messageBurst: number;
  /**
   * Bytes queued on a socket (`bufferedAmount`) past which the client is a slow consumer: it
   * gets a NOTICE and the connection is closed, instead of buffering without bound.
   */
  maxBufferedBytes: number;
  /** Live events queued for one subscription while its stored events are still being sent. */
  maxPendingLiveEvents: number;
}

/** The defaults (64 KiB client messages; paid writes elsewhere allow 1 MiB events). */
export const DEFAULT_TOWN_LIMITS: Readonly<TownLimits> = Object.freeze({
  maxMessageBytes: 64 * 1024,
  maxSubscriptions: 20,
  maxFilters: 10,
  maxLimit: 500,
  messagesPerSecond: 20,
  messageBurst: 50,
  maxBufferedBytes: 4 * 1024 * 1024,
  maxPendingLiveEvents: 1000,
});

/** A limit that is not a positive number. */
export class TownLimitsError extends Error {
  override name = "TownLimitsError";
}

/**
 * Defaults overridden by `overrides`; throws {@linkcode TownLimitsError} on a bad value.
 *
 * @example
 * ```ts
 * const limits = resolveTownLimits({ maxSubscriptions: 5 });
 * ```
 */
export function resolveTownLimits(overrides: Partial<TownLimits> = {}): TownLimits {
  const limits = { ...DEFAULT_TOWN_LIMITS, ...overrides };
  for (const [key, value] of Object.entries(limits)) {
    if (typeof value !== "number" || !(value > 0) || !Number.isFinite(value)) {
      throw new TownLimitsError(`limit ${key} must be a positive number, got ${value}`);
    }
  }
  return limits;
}
