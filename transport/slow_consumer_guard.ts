/**
 * A bound on what a server holds for peers that do not read: the bytes its WebSockets have
 * queued and not yet written (`bufferedAmount`: `send()` never blocks, so a peer whose receive
 * window is full makes them grow), per socket and in total, and how long a socket may stay
 * behind. A socket is closed (1008 `slow consumer`) when
 *
 * - its backlog is over `maxBytesPerSocket` (checked after each send the owner reports, and at
 *   each sweep);
 * - its backlog stayed over `highWaterBytes` for `timeoutMs` (a peer that stopped reading);
 * - the backlog of all sockets is over `maxBytesTotal`: the largest backlogs of sockets that are
 *   behind (a backlog already there at the previous sweep, or over the high-water mark) go first,
 *   until the total is back under it. A peer that reads has its bytes written within
 *   milliseconds, so what a publish to many readers queues at once is not taken for theirs.
 *
 * What a closed socket still holds counts in the total until its close event (its WebSocket
 * drops the connection when the peer does not answer the close, docs/OPERATIONS.md "Peers that
 * do not read"): while it drains, the open sockets have that much less. Slowing a peer before it reaches these
 * limits (refusing it new work, reading no more from it) is the owner's part: a socket is over
 * its high-water mark when `backlog(socket) > highWaterBytes`.
 *
 * @module
 */

/** Options for {@linkcode SlowConsumerGuard}. */
export interface SlowConsumerGuardOptions {
  /** Unsent bytes one socket may hold; past it the socket is closed. */
  maxBytesPerSocket: number;
  /** The high-water mark: a socket over it for `timeoutMs` is closed. */
  highWaterBytes: number;
  /** How long a socket may stay over the high-water mark. */
  timeoutMs: number;
  /** Unsent bytes all watched sockets may hold together. */
  maxBytesTotal: number;
  /** How often backlogs are measured while sockets are watched. Default 100 ms. */
  sweepMs?: number;
  /** Clock (tests). Default `Date.now`. */
  now?: () => number;
}

/** Why a socket was closed. */
export type SlowConsumerReason = "socket-limit" | "stalled" | "total-limit";

/** Told when the guard closed a socket (before the close event), with a line saying why. */
export type SlowConsumerListener = (reason: SlowConsumerReason, detail: string) => void;

/** What the guard measured and did. */
export interface SlowConsumerGuardStats {
  /** Unsent bytes of every watched socket at the last measure. */
  bufferedBytes: number;
  /** Sockets watched. */
  sockets: number;
  /** Sockets closed, by reason. */
  closed: Record<SlowConsumerReason, number>;
}

interface Watched {
  socket: WebSocket;
  onClose?: SlowConsumerListener;
  /** Backlog at the last measure. */
  bytes: number;
  /** Backlog at the last sweep. */
  swept: number;
  /** Since when the backlog has been over the high-water mark. */
  overSince?: number;
  closing: boolean;
}

/** A watched socket, as handed back by {@linkcode SlowConsumerGuard.watch}. */
export interface WatchedSocket {
  /** Measures the socket after a send: closes it when it is over a limit. True while it is open. */
  sent(): boolean;
  /** Stops watching (also done at the socket's close event). */
  release(): void;
}

/**
 * The guard of one server (or of several sharing one total).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { SlowConsumerGuard } from "./slow_consumer_guard.ts";
 *
 * const guard = new SlowConsumerGuard({
 *   maxBytesPerSocket: 4 << 20,
 *   highWaterBytes: 2 << 20,
 *   timeoutMs: 10_000,
 *   maxBytesTotal: 64 << 20,
 * });
 * // A socket with 3 MiB its peer has not taken (a stand-in for a WebSocket).
 * const socket = Object.assign(new EventTarget(), { bufferedAmount: 3 << 20, close() {} });
 * const watched = guard.watch(socket as unknown as WebSocket);
 * assert(guard.over(socket as unknown as WebSocket)); // over 2 MiB: refuse it new work
 * assert(watched.sent() && guard.stats().bufferedBytes === 3 << 20);
 * watched.release();
 * guard.close();
 * assert.equal(guard.stats().sockets, 0);
 * ```
 */
export class SlowConsumerGuard {
  readonly #o: SlowConsumerGuardOptions;
  readonly #now: () => number;
  readonly #watched = new Map<WebSocket, Watched>();
  #total = 0;
  #timer?: ReturnType<typeof setInterval>;
  #stopped = false;
  readonly #closed: Record<SlowConsumerReason, number> = {
    "socket-limit": 0,
    "stalled": 0,
    "total-limit": 0,
  };

  constructor(options: SlowConsumerGuardOptions) {
    this.#o = options;
    this.#now = options.now ?? Date.now;
  }

  /** The high-water mark sockets are held to. */
  get highWaterBytes(): number {
    return this.#o.highWaterBytes;
  }

  /**
   * Watches a socket until its close event; `onClose` is told when the guard closes it.
   *
   * @example
   * ```ts
   * import assert from "node:assert/strict";
   * import { SlowConsumerGuard } from "./slow_consumer_guard.ts";
   *
   * const guard = new SlowConsumerGuard({
   *   maxBytesPerSocket: 4 << 20,
   *   highWaterBytes: 2 << 20,
   *   timeoutMs: 10_000,
   *   maxBytesTotal: 64 << 20,
   * });
   * // A stand-in for a WebSocket: what its peer has not taken yet, and whether it was closed.
   * const stub = { bufferedAmount: 0, readyState: 1, close() { this.readyState = 3; } };
   * const socket = Object.assign(new EventTarget(), stub) as unknown as WebSocket;
   * const watched = guard.watch(socket);
   * assert(watched.sent()); // after socket.send(...): nothing is held back
   * Object.assign(socket, { bufferedAmount: 5 << 20 });
   * assert(!watched.sent()); // over the per-socket limit: closed
   * guard.close();
   * ```
   */
  watch(socket: WebSocket, onClose?: SlowConsumerListener): WatchedSocket {
    if (this.#stopped) return { sent: () => socket.readyState === WebSocket.OPEN, release() {} };
    const entry: Watched = { socket, onClose, bytes: 0, swept: 0, closing: false };
    this.#watched.set(socket, entry);
    const release = () => this.#release(entry);
    socket.addEventListener("close", release);
    this.#timer ??= setInterval(() => this.sweep(), this.#o.sweepMs ?? 100);
    return {
      sent: () => {
        if (this.#watched.get(socket) !== entry || entry.closing) return false;
        this.#measure(entry);
        if (entry.bytes > this.#o.maxBytesPerSocket) {
          this.#shut(entry, "socket-limit", `${entry.bytes} bytes unsent`);
        } else if (this.#total > this.#o.maxBytesTotal) {
          this.#enforceTotal();
        }
        return !entry.closing;
      },
      release,
    };
  }

  /**
   * Whether a socket's backlog is over the high-water mark now (the owner refuses it new work
   * or stops reading from it).
   *
   * @example
   * ```ts
   * import assert from "node:assert/strict";
   * import { SlowConsumerGuard } from "./slow_consumer_guard.ts";
   *
   * const guard = new SlowConsumerGuard({
   *   maxBytesPerSocket: 4 << 20,
   *   highWaterBytes: 2 << 20,
   *   timeoutMs: 10_000,
   *   maxBytesTotal: 64 << 20,
   * });
   * // A stand-in for a WebSocket: what its peer has not taken yet, and whether it was closed.
   * const stub = { bufferedAmount: 0, readyState: 1, close() { this.readyState = 3; } };
   * const socket = Object.assign(new EventTarget(), stub) as unknown as WebSocket;
   * assert(!guard.over(socket));
   * Object.assign(socket, { bufferedAmount: 3 << 20 });
   * assert(guard.over(socket)); // read the answers first
   * ```
   */
  over(socket: WebSocket): boolean {
    return socket.bufferedAmount > this.#o.highWaterBytes;
  }

  /**
   * Measures every socket now (the timer does it every `sweepMs`): applies the time limit and
   * the total.
   *
   * @example
   * ```ts
   * import assert from "node:assert/strict";
   * import { SlowConsumerGuard } from "./slow_consumer_guard.ts";
   *
   * const guard = new SlowConsumerGuard({
   *   maxBytesPerSocket: 4 << 20,
   *   highWaterBytes: 2 << 20,
   *   timeoutMs: 10_000,
   *   maxBytesTotal: 64 << 20,
   * });
   * // A stand-in for a WebSocket: what its peer has not taken yet, and whether it was closed.
   * const stub = { bufferedAmount: 0, readyState: 1, close() { this.readyState = 3; } };
   * const socket = Object.assign(new EventTarget(), stub) as unknown as WebSocket;
   * guard.watch(socket);
   * Object.assign(socket, { bufferedAmount: 1024 });
   * guard.sweep();
   * assert.equal(guard.stats().bufferedBytes, 1024);
   * guard.close();
   * ```
   */
  sweep(): void {
    const now = this.#now();
    for (const entry of this.#watched.values()) {
      this.#measure(entry);
      entry.swept = entry.bytes;
      if (entry.closing) continue;
      if (entry.bytes > this.#o.maxBytesPerSocket) {
        this.#shut(entry, "socket-limit", `${entry.bytes} bytes unsent`);
      } else if (entry.bytes <= this.#o.highWaterBytes) {
        entry.overSince = undefined;
      } else if (entry.overSince === undefined) {
        entry.overSince = now;
      } else if (now - entry.overSince >= this.#o.timeoutMs) {
        this.#shut(
          entry,
          "stalled",
          `over ${this.#o.highWaterBytes} bytes unsent for ${now - entry.overSince} ms`,
        );
      }
    }
    if (this.#total > this.#o.maxBytesTotal) this.#enforceTotal();
  }

  /**
   * What the guard measured and did (for `/metrics`).
   *
   * @example
   * ```ts
   * import assert from "node:assert/strict";
   * import { SlowConsumerGuard } from "./slow_consumer_guard.ts";
   *
   * const guard = new SlowConsumerGuard({
   *   maxBytesPerSocket: 4 << 20,
   *   highWaterBytes: 2 << 20,
   *   timeoutMs: 10_000,
   *   maxBytesTotal: 64 << 20,
   * });
   * const { bufferedBytes, sockets, closed } = guard.stats();
   * assert.deepEqual([bufferedBytes, sockets, closed.stalled], [0, 0, 0]);
   * ```
   */
  stats(): SlowConsumerGuardStats {
    return { bufferedBytes: this.#total, sockets: this.#watched.size, closed: { ...this.#closed } };
  }

  /** Stops the sweeps and watching for good (the sockets stay as they are). */
  close(): void {
    this.#stopped = true;
    for (const entry of [...this.#watched.values()]) this.#release(entry);
    clearInterval(this.#timer);
    this.#timer = undefined;
  }

  #measure(entry: Watched): void {
    const bytes = entry.socket.bufferedAmount;
    this.#total += bytes - entry.bytes;
    entry.bytes = bytes;
  }

  /** Closes the largest backlogs already there at the last sweep until the total fits. */
  #enforceTotal(): void {
    // Measured afresh: what other sockets wrote since their last measure is not counted.
    const candidates: Watched[] = [];
    for (const entry of this.#watched.values()) {
      this.#measure(entry);
      const behind = entry.swept > 0 || entry.bytes > this.#o.highWaterBytes;
      if (!entry.closing && behind && entry.bytes > 0) candidates.push(entry);
    }
    let held = this.#total;
    if (held <= this.#o.maxBytesTotal) return;
    candidates.sort((a, b) => b.bytes - a.bytes);
    for (const entry of candidates) {
      if (held <= this.#o.maxBytesTotal) break;
      held -= entry.bytes;
      this.#shut(
        entry,
        "total-limit",
        `${entry.bytes} bytes unsent while all connections hold over ${this.#o.maxBytesTotal}`,
      );
    }
  }

  #shut(entry: Watched, reason: SlowConsumerReason, detail: string): void {
    entry.closing = true;
    this.#closed[reason]++;
    try {
      entry.onClose?.(reason, detail);
    } catch {
      // The listener's failure must not keep the socket open.
    }
    try {
      entry.socket.close(1008, "slow consumer");
    } catch {
      // already closed
    }
  }

  #release(entry: Watched): void {
    if (this.#watched.get(entry.socket) !== entry) return;
    this.#watched.delete(entry.socket);
    this.#total -= entry.bytes;
    if (this.#watched.size === 0) {
      clearInterval(this.#timer);
      this.#timer = undefined;
    }
  }
}
