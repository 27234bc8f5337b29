/**
 * Which open WebSocket a full listener closes to admit a newcomer (transport/http_front.ts).
 *
 * In the refused scope (the newcomer's address, its network prefix, or every socket when the
 * total cap is reached), in this order:
 * 1. the oldest idle socket (one that holds nothing, say no subscription);
 * 2. when the total cap is reached, a fair share per network prefix (IPv4 /24, IPv6 /48,
 *    {@linkcode addressPrefix}): the oldest socket of the prefix holding the most, whatever its
 *    activity (pings, messages, events), when the newcomer's prefix holds none or at least two
 *    fewer (so two prefixes one apart do not trade a slot back and forth);
 * 3. the socket quiet the longest (subscribed, say, and nothing moved either way for a while),
 *    when the total cap is reached only in a prefix holding more than the newcomer's.
 *
 * Sockets that ping, or send a message now and then, from a few networks cannot keep every
 * other network out: each network that connects takes its share from the largest. An address
 * that had a socket closed this way cannot have another closed for itself for a minute: sockets
 * closed for a newcomer and reopened at once would otherwise close each other's in turn.
 * docs/OPERATIONS.md "A town's limits".
 *
 * @module
 */
import { addressPrefix, type ConnectionRefusal } from "./connection_gate.ts";

/** An open WebSocket the listener may close to make room when its connection caps are reached. */
export interface EvictionCandidate {
  /** True while the connection may be closed for a newcomer (e.g. idle, holding nothing). */
  isIdle(): boolean;
  /**
   * When the connection went quiet, if it has been quiet long enough to be closed for a
   * newcomer once no idle one is left in scope (e.g. it holds subscriptions but nothing moved
   * either way for a while); undefined while it may not be closed. The quietest goes first.
   */
  quietSince?(): number | undefined;
}

/** Options for {@linkcode SocketEviction}. */
export interface SocketEvictionOptions {
  /** How long an address that lost a socket may not have another closed for itself. Default 60 s. */
  cooldownMs?: number;
  /** Told about every socket closed (to count them). */
  onEvicted?: (reason: EvictionReason) => void;
}

/** Why a socket was closed for a newcomer. */
export type EvictionReason = "idle" | "fair-share" | "quiet";

/** The close reason a socket gets, per {@linkcode EvictionReason}. */
export const EVICTION_CLOSE_REASONS = {
  "idle": "idle connection closed to admit a new one (town full)",
  "fair-share": "your network holds the most connections: one closed to admit another network",
  "quiet": "quiet subscription closed to admit a new one (town full)",
} as const satisfies Record<EvictionReason, string>;

/** An open WebSocket registered for eviction. */
interface OpenSocket {
  address: string;
  prefix: string;
  candidate: EvictionCandidate;
  release: () => void;
  socket: WebSocket;
  /** Registration order: lower is older. */
  seq: number;
}

const DEFAULT_COOLDOWN_MS = 60_000;

/**
 * The open sockets a listener may close for newcomers, oldest first, and its choice of one.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 *
 * const closed: string[] = [];
 * const eviction = new SocketEviction();
 * for (const name of ["a", "b", "c"]) {
 *   const socket = new EventTarget() as unknown as WebSocket;
 *   socket.close = () => closed.push(name);
 *   eviction.add({
 *     address: "198.51.100.7", socket, release: () => {},
 *     candidate: { isIdle: () => false },
 *   });
 * }
 * // A newcomer from another network when the town is full: the largest network's oldest goes.
 * assert.equal(eviction.evictFor("203.0.113.9", "total"), true);
 * assert.deepEqual(closed, ["a"]);
 * ```
 */
export class SocketEviction {
  readonly #cooldownMs: number;
  readonly #onEvicted?: (reason: EvictionReason) => void;
  /** Every registered socket, oldest first. */
  readonly #open = new Set<OpenSocket>();
  /** The same per prefix, oldest first. */
  readonly #byPrefix = new Map<string, Set<OpenSocket>>();
  /** When an address last had a WebSocket closed for a newcomer, within the cooldown. */
  readonly #evictedAt = new Map<string, number>();
  #seq = 0;

  constructor(options: SocketEvictionOptions = {}) {
    this.#cooldownMs = options.cooldownMs ?? DEFAULT_COOLDOWN_MS;
    this.#onEvicted = options.onEvicted;
  }

  /**
   * Registers an open socket (`release` frees its slot in the caps); it is forgotten when it
   * closes.
   */
  add(
    o: { address: string; candidate: EvictionCandidate; release: () => void; socket: WebSocket },
  ): void {
    const open: OpenSocket = { ...o, prefix: addressPrefix(o.address), seq: this.#seq++ };
    this.#open.add(open);
    const inPrefix = this.#byPrefix.get(open.prefix) ?? new Set();
    inPrefix.add(open);
    this.#byPrefix.set(open.prefix, inPrefix);
    o.socket.addEventListener("close", () => this.#forget(open));
  }

  /**
   * Closes one socket for a newcomer from `address` that the caps refused (see the module doc);
   * true when one was closed.
   */
  evictFor(address: string, refusal: ConnectionRefusal): boolean {
    const now = Date.now();
    for (const [a, at] of this.#evictedAt) {
      if (now - at < this.#cooldownMs) break; // in the order of their last eviction
      this.#evictedAt.delete(a);
    }
    if (this.#evictedAt.has(address)) return false;
    const prefix = addressPrefix(address);
    const scope = refusal === "address"
      ? [...(this.#byPrefix.get(prefix) ?? [])].filter((o) => o.address === address)
      : refusal === "prefix"
      ? this.#byPrefix.get(prefix) ?? []
      : this.#open;
    for (const open of scope) {
      if (open.candidate.isIdle()) return this.#evict(open, "idle");
    }
    const held = this.#byPrefix.get(prefix)?.size ?? 0;
    if (refusal === "total") {
      const largest = this.#largestPrefix();
      if (largest !== undefined && (held === 0 || held <= largest.size - 2)) {
        return this.#evict(oldest(largest), "fair-share");
      }
    }
    let quietest: OpenSocket | undefined;
    let quietSince = Infinity;
    for (const open of scope) {
      if (refusal === "total" && (this.#byPrefix.get(open.prefix)?.size ?? 0) <= held) continue;
      const since = open.candidate.quietSince?.();
      if (since !== undefined && since < quietSince) {
        quietSince = since;
        quietest = open;
      }
    }
    return quietest !== undefined && this.#evict(quietest, "quiet");
  }

  /** The sockets of the prefix holding the most (of two as large, the one with the oldest). */
  #largestPrefix(): Set<OpenSocket> | undefined {
    let largest: Set<OpenSocket> | undefined;
    for (const sockets of this.#byPrefix.values()) {
      if (
        largest === undefined || sockets.size > largest.size ||
        (sockets.size === largest.size && oldest(sockets).seq < oldest(largest).seq)
      ) largest = sockets;
    }
    return largest;
  }

  #evict(open: OpenSocket, reason: EvictionReason): true {
    this.#forget(open);
    this.#evictedAt.delete(open.address); // kept in the order of their last eviction
    this.#evictedAt.set(open.address, Date.now());
    this.#onEvicted?.(reason);
    open.release();
    try {
      open.socket.close(1008, EVICTION_CLOSE_REASONS[reason]);
    } catch {
      // already closing
    }
    return true;
  }

  #forget(open: OpenSocket): void {
    this.#open.delete(open);
    const inPrefix = this.#byPrefix.get(open.prefix);
    inPrefix?.delete(open);
    if (inPrefix?.size === 0) this.#byPrefix.delete(open.prefix);
  }
}

/** The oldest socket of a non-empty set (sets keep insertion order). */
function oldest(sockets: Set<OpenSocket>): OpenSocket {
  return sockets.values().next().value!;
}
