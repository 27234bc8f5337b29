/**
 * The limits of the town: per connection and across connections on both ports, the time window
 * of stored events and the throttles of BTP auth and SPSP. Configurable (`[town.limits]` in
 * config.toml, `TURNPIKE_TOWN_LIMIT_<NAME>`), reported in NIP-11 and `/metrics`, each enforced
 * with a precise answer.
 *
 * @module
 */
import { ConfigLayerError } from "./config_error.ts";

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
   * Bytes queued on a socket (`bufferedAmount`) past which its peer is a slow consumer and the
   * connection is closed, instead of buffering without bound (a NIP-01 client gets a NOTICE
   * first). Half of it is the high-water mark: past it a REQ's stored events wait for the socket
   * to drain, and a BTP peer is read no more, its PREPAREs are refused T05 and packets for it T04.
   * Both ports.
   */
  maxBufferedBytes: number;
  /**
   * Bytes queued on all the town's WebSockets together (both ports, this process): past it the
   * connections holding the most that were already behind are closed as slow consumers.
   */
  maxBufferedBytesTotal: number;
  /** A connection whose queued bytes stay over the high-water mark this long is closed. */
  slowConsumerTimeoutMs: number;
  /** Live events queued for one subscription while its stored events are still being sent. */
  maxPendingLiveEvents: number;
  /**
   * Over-limit messages in a row after which the connection is closed: a client that ignores
   * `rate-limited` answers (or sends only garbage) stops costing a NOTICE per message.
   */
  rateLimitedBeforeClose: number;
  /** Queries (REQ answers still being sent) in flight across all connections. */
  maxConcurrentQueries: number;
  /** Bytes of stored events read for REQs but not yet handed to a socket, all connections. */
  maxQueuedBytes: number;
  /** Milliseconds per second spent in store queries, all connections (queries are synchronous). */
  queryMillisPerSecond: number;
  /** Most milliseconds of that read work back to back (bounds one stall when REQs burst in). */
  queryBurstMillis: number;
  /** Stored events sent per batch before yielding to the event loop. */
  queryBatchSize: number;
  /** Oldest `created_at` stored, seconds before now (NIP-11 `created_at_lower_limit`). */
  createdAtMaxAgeSeconds: number;
  /** Newest `created_at` stored, seconds after now (NIP-11 `created_at_upper_limit`). */
  createdAtMaxFutureSeconds: number;
  /** Open connections per remote address, each port. */
  maxConnectionsPerAddress: number;
  /**
   * Open connections per network prefix (IPv4 /24, IPv6 /48), each port; at least
   * `maxConnectionsPerAddress` and at most half of `maxConnections` (so one network cannot
   * take every slot).
   */
  maxConnectionsPerPrefix: number;
  /** Open connections in total, each port. */
  maxConnections: number;
  /**
   * A NIP-01 WebSocket with no subscription whose client has sent nothing this long is idle:
   * when the connection caps are reached, the oldest idle one is closed to admit a new client.
   */
  idleEvictAfterMs: number;
  /**
   * A NIP-01 WebSocket holding subscriptions is quiet once its client has sent nothing (no
   * message, no ping) and the town has sent it no event or EOSE this long: when the connection
   * caps are reached and no idle one is left, the one quiet the longest is closed for a new
   * client. Sockets that subscribe and then only hold their slot cannot keep everyone out.
   */
  idleSubscriptionEvictAfterMs: number;
  /** Time for a request head to arrive whole on the NIP-01/HTTP port (slow headers are closed). */
  httpHeadTimeoutMs: number;
  /** A plain HTTP request (not a WebSocket) idle in both directions this long is closed. */
  httpIdleTimeoutMs: number;
  /** Failed BTP auths per address per minute before the address is refused. */
  btpAuthFailuresPerMinute: number;
  /** How long an address is refused after too many failed BTP auths. */
  btpAuthBlockSeconds: number;
  /**
   * Failed BTP auths per minute across all addresses; past it, addresses that never
   * authenticated are refused until it refills and each failure blocks its address.
   */
  btpAuthFailuresPerMinuteTotal: number;
  /** A blocked address may still try BTP auth once per this many seconds (the right token gets in). */
  btpAuthTrialSeconds: number;
  /** A BTP connection that has not authenticated by then is closed. */
  btpAuthTimeoutMs: number;
  /** Time for a BTP WebSocket upgrade request to arrive (slow headers are closed). */
  btpHandshakeTimeoutMs: number;
  /** Largest BTP message, fragments included, before or after auth (larger closes, 1009). */
  btpMaxMessageBytes: number;
  /** SPSP requests per minute per BTP account (the pubkey limit is separate). */
  spspPerAccountPerMinute: number;
  /** SPSP requests per minute in total. */
  spspTotalPerMinute: number;
  /** SPSP requests waiting for their turn at most (more are refused T05 at once). */
  spspMaxQueued: number;
  /** Longest an SPSP request waits for its turn before it is refused T05 "town busy". */
  spspQueueTimeoutMs: number;
  /**
   * Chain reads per second for claims naming channels the town does not know yet, whole town
   * (roles/town/channels/channel_discovery.ts; past it T05 `rate-limited`). Raise it for a town
   * that expects many new payers at once: each first claim of a new channel takes one.
   */
  channelLearnPerSecond: number;
  /** Burst of those chain reads, whole town. */
  channelLearnBurst: number;
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
  maxBufferedBytesTotal: 64 * 1024 * 1024,
  slowConsumerTimeoutMs: 10_000,
  maxPendingLiveEvents: 1000,
  rateLimitedBeforeClose: 100,
  maxConcurrentQueries: 256,
  maxQueuedBytes: 64 * 1024 * 1024,
  queryMillisPerSecond: 400,
  queryBurstMillis: 20,
  queryBatchSize: 50,
  createdAtMaxAgeSeconds: 365 * 24 * 3600,
  createdAtMaxFutureSeconds: 15 * 60,
  maxConnectionsPerAddress: 64,
  maxConnectionsPerPrefix: 1024,
  maxConnections: 4096,
  idleEvictAfterMs: 10_000,
  idleSubscriptionEvictAfterMs: 60_000,
  httpHeadTimeoutMs: 5000,
  httpIdleTimeoutMs: 60_000,
  btpAuthFailuresPerMinute: 5,
  btpAuthBlockSeconds: 300,
  btpAuthFailuresPerMinuteTotal: 120,
  btpAuthTrialSeconds: 10,
  btpAuthTimeoutMs: 5000,
  btpHandshakeTimeoutMs: 5000,
  btpMaxMessageBytes: 64 * 1024,
  spspPerAccountPerMinute: 600,
  spspTotalPerMinute: 3000,
  spspMaxQueued: 256,
  spspQueueTimeoutMs: 5000,
  channelLearnPerSecond: 1,
  channelLearnBurst: 10,
});

/** A limit that is not a positive number. */
export class TownLimitsError extends ConfigLayerError {
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

/** A town's budget of chain reads for channels it does not know yet (a token bucket's options). */
export interface ChannelLearnBudget {
  /** Burst. */
  capacity: number;
  /** Sustained reads per second. */
  ratePerSecond: number;
}

/**
 * The whole town's budget of chain reads for claims naming channels it does not know yet, from
 * its limits (`channel_learn_burst`, `channel_learn_per_second`); checked as
 * {@linkcode resolveTownLimits} checks them.
 *
 * @example
 * ```ts
 * import { channelLearnBudget } from "./town_limits.ts";
 *
 * console.log(channelLearnBudget({ channelLearnPerSecond: 10 })); // { capacity: 10, ratePerSecond: 10 }
 * ```
 */
export function channelLearnBudget(overrides: Partial<TownLimits> = {}): ChannelLearnBudget {
  const limits = resolveTownLimits(overrides);
  return { capacity: limits.channelLearnBurst, ratePerSecond: limits.channelLearnPerSecond };
}

/**
 * The per-prefix connection cap in force: `maxConnectionsPerPrefix`, but at least the
 * per-address cap and at most half of the total.
 *
 * @example
 * ```ts
 * effectivePrefixCap(resolveTownLimits({ maxConnections: 298 })); // 149
 * ```
 */
export function effectivePrefixCap(limits: TownLimits): number {
  return Math.max(
    limits.maxConnectionsPerAddress,
    Math.min(limits.maxConnectionsPerPrefix, Math.floor(limits.maxConnections / 2)),
  );
}

/**
 * The limit names as configured: `maxQueuedBytes` is `max_queued_bytes` in `[town.limits]` and
 * `TURNPIKE_TOWN_LIMIT_MAX_QUEUED_BYTES` in the environment.
 *
 * @example
 * ```ts
 * townLimitKey("maxQueuedBytes"); // "max_queued_bytes"
 * ```
 */
export function townLimitKey(name: string): string {
  return name.replace(/[A-Z]/g, (c) => "_" + c.toLowerCase());
}
