/**
 * One NIP-01 client connection to the town: REQ (stored events, EOSE, then live), CLOSE,
 * COUNT (NIP-45), EVENT (refused with `payment-required` unless signed by the town's owner),
 * with the per-connection limits of {@linkcode TownLimits}.
 *
 * Wire format: standard JSON events, or, for a connection opened in TOON mode, Crosstown's
 * `["EVENT", subId, "<TOON text>"]` (see town_http_handler.ts for how a client asks).
 *
 * Backpressure: a connection's REQs are answered one at a time, in order; a REQ's stored events
 * are read from the store a page (`queryBatchSize`) at a time, each page once the socket has
 * taken the last (stored_answer.ts), so a REQ waiting for its reader holds its ids, not its
 * events (live events for that subscription are queued meanwhile, up to
 * `maxPendingLiveEvents`). A live push that takes `bufferedAmount` past `maxBufferedBytes`, a
 * full live queue, or a socket that does not drain within `drainTimeoutMs` make the client a
 * slow consumer: NOTICE, then close. Every REQ is admitted by the {@linkcode ReadBudget} shared
 * by all connections, and its queries and pages are charged to that budget's time and wait for
 * it (`pace`), so a burst of REQs is spread out rather than run in one stall. A REQ is refused
 * while the connection's backlog (bytes not written) is over `maxBufferedBytes`; only the
 * encoding the connection reads is read from the store (docs/OPERATIONS.md "Peers that do not
 * read").
 *
 * Rate limit: every message takes a token before it is parsed (garbage costs the sender like
 * anything else); `rateLimitedBeforeClose` over-limit messages in a row close the connection.
 *
 * The parts: the subscriptions (REQ, CLOSE, live events) in session_subscriptions.ts, an
 * EVENT's answer in session_event.ts; this module is the connection: its messages parsed in
 * order and rate limited, COUNT and AUTH, the replies and the close.
 *
 * @module
 */
import {
  type ClientMessage,
  Nip01MessageError,
  parseClientMessage,
} from "../../../protocol/nip01_message.ts";
import type { NostrFilter } from "../../../protocol/nostr_filter.ts";
import type { RelayPricing } from "../../../protocol/relay_pricing.ts";
import { type EventStore, EventStoreQueryError } from "../../../state/events/event_store.ts";
import { asTownStore, type TownStore } from "../../../state/events/town_store.ts";
import type { HubSubscriber, PublishedEvent, SubscriptionHub } from "./subscription_hub.ts";
import { TokenBucket } from "../token_bucket.ts";
import type { TownCounters } from "../town_metrics.ts";
import type { TownLimits } from "../../../config/town_limits.ts";
import { ReadBudget } from "./read_budget.ts";
import { RelayAuth, type RelayAuthOptions } from "./relay_auth.ts";
import { unparsedReply } from "./unparsed_reply.ts";
import { SessionSubscriptions } from "./session_subscriptions.ts";
import { answerEvent, type SessionEventOptions } from "./session_event.ts";

/** How events are written to this client. */
export type EventWireFormat = "json" | "toon";

/** Options for {@linkcode Nip01Session}. */
export interface Nip01SessionOptions {
  /** SQLite (an `EventStore`) or any town store (e.g. the shared PostgreSQL one). */
  store: EventStore | TownStore;
  hub: SubscriptionHub;
  limits: TownLimits;
  counters: TownCounters;
  format: EventWireFormat;
  /** Hex pubkey whose events are accepted (verified) and stored without payment. */
  ownerPubkey?: string;
  /** ILP address that paid writes go to (named in the `payment-required` answer). */
  ilpAddress: string;
  pricing: RelayPricing;
  /** How long a REQ's answer may wait for the socket to drain. Default 10 s. */
  drainTimeoutMs?: number;
  /** Shared by all connections; default: one of this connection's own. */
  budget?: ReadBudget;
  /**
   * Told after each message handed to the socket: the town's slow-consumer guard measures the
   * socket then, and closes it past its limits (transport/slow_consumer_guard.ts).
   */
  onSent?: () => void;
  /** What all the town's sockets hold unsent: past a quarter of its cap, REQs' pages wait more. */
  townBuffered?: () => number;
  /** NIP-42 (challenged as the connection opens): the town's relay URLs, the private kinds. */
  auth?: Omit<RelayAuthOptions, "now">;
}
const DEFAULT_DRAIN_TIMEOUT_MS = 10_000;
/** A connection that has sent nothing at all is idle after this long (see `isIdle`). */
const FIRST_MESSAGE_GRACE_MS = 1000;

/**
 * The server side of one WebSocket. Create it in the upgrade handler and hand it the socket's
 * messages; it unsubscribes everything when the socket closes.
 *
 * It needs a WebSocket and a town's stores: no example that runs here:
 * tests/interop/nostr_tools_town_read_test.ts.
 */
export class Nip01Session implements HubSubscriber {
  readonly #socket: WebSocket;
  readonly #o: Nip01SessionOptions;
  readonly #bucket: TokenBucket;
  readonly #budget: ReadBudget;
  readonly #store: TownStore;
  readonly #subs: SessionSubscriptions;
  readonly #event: SessionEventOptions;
  #overLimitInRow = 0;
  /** When the client last sent anything (`Date.now()`). */
  #lastActive = Date.now();
  /** Whether the client has sent anything at all. */
  #everSent = false;
  /** When the town last sent this connection an event or an EOSE (`Date.now()`). */
  #lastDelivered = Date.now();
  /** A message is waiting on the store; later ones queue in {@linkcode #queued}. */
  #waiting = false;
  #queued: unknown[] = [];
  #dead = false;
  readonly #auth: RelayAuth;

  constructor(socket: WebSocket, options: Nip01SessionOptions) {
    this.#socket = socket;
    this.#o = options;
    this.#store = asTownStore(options.store);
    this.#auth = new RelayAuth(options.auth ?? { relayUrls: [] });
    const challenge = () => this.#send(JSON.stringify(["AUTH", this.#auth.challenge]));
    if (socket.readyState === WebSocket.OPEN) challenge();
    else socket.addEventListener("open", challenge, { once: true });
    this.#bucket = new TokenBucket({
      ratePerSecond: options.limits.messagesPerSecond,
      capacity: options.limits.messageBurst,
    });
    this.#budget = options.budget ?? new ReadBudget(options.limits);
    this.#subs = new SessionSubscriptions({
      client: this,
      socket,
      store: this.#store,
      hub: options.hub,
      budget: this.#budget,
      auth: this.#auth,
      limits: options.limits,
      counters: options.counters,
      jsonOnly: options.format === "json",
      drainTimeoutMs: options.drainTimeoutMs ?? DEFAULT_DRAIN_TIMEOUT_MS,
      townBuffered: options.townBuffered,
      isDead: () => this.#dead,
      replies: {
        sendEvent: (subId, body) => this.#sendEvent(subId, body),
        eose: (subId) => {
          this.#send(JSON.stringify(["EOSE", subId]));
          this.#lastDelivered = Date.now();
          this.#o.counters.eosesSentTotal++;
        },
        wireBody: (json, toon) => this.#wireBody(json, toon),
        closed: (subId, message) => this.#closed(subId, message),
        notice: (message) => this.#notice(message),
        slowConsumer: (detail) => this.#slowConsumer(detail),
      },
    });
    this.#event = {
      store: this.#store,
      hub: options.hub,
      limits: options.limits,
      counters: options.counters,
      ownerPubkey: options.ownerPubkey,
      ilpAddress: options.ilpAddress,
      pricing: options.pricing,
      budget: this.#budget,
      client: this,
      ok: (id, accepted, message) => this.#ok(id, accepted, message),
    };
    socket.binaryType = "arraybuffer";
    socket.addEventListener("message", (e) => this.#receive(e.data));
    // Pings (the town's WebSocket dispatches them) take a token like any message: a client
    // that floods them is closed as one that floods messages (docs/OPERATIONS.md "A town's limits").
    socket.addEventListener("ping", () => this.#onPing());
    socket.addEventListener("close", () => this.#teardown());
    socket.addEventListener("error", () => this.#teardown());
  }

  /** Open subscriptions of this connection. */
  get subscriptionCount(): number {
    return this.#subs.size;
  }

  /**
   * True when the connection holds no subscription and its client has sent no message (pings do
   * not count) for `idleMs` (or nothing at all for a second since it connected): the connection a full
   * listener closes first to admit a new one.
   */
  isIdle(idleMs: number): boolean {
    const silent = Date.now() - this.#lastActive;
    return this.#subs.size === 0 &&
      (this.#everSent ? silent >= idleMs : silent >= Math.min(idleMs, FIRST_MESSAGE_GRACE_MS));
  }

  /**
   * When the connection went quiet, if it holds subscriptions and nothing moved either way for
   * `quietMs`: its client sent no message (pings do not count) and the town sent it no event or
   * EOSE, with no REQ being answered. Undefined otherwise. A full listener closes the
   * connection quiet the longest once no idle one is left (docs/OPERATIONS.md "A town's
   * limits").
   */
  quietSince(quietMs: number): number | undefined {
    if (this.#subs.size === 0 || this.#subs.answering || this.#waiting) return undefined;
    const since = Math.max(this.#lastActive, this.#lastDelivered);
    return Date.now() - since >= quietMs ? since : undefined;
  }

  /** Hub callback: a live event for one of this connection's subscriptions. */
  deliver(subId: string, published: PublishedEvent): void {
    this.#subs.deliver(subId, published);
  }

  /** Closes the connection (server shutting down). */
  close(code = 1001, reason = "town shutting down"): void {
    this.#teardown();
    try {
      this.#socket.close(code, reason);
    } catch {
      // already closed
    }
  }

  #teardown(): void {
    if (this.#dead) return;
    this.#dead = true;
    this.#subs.endAll();
    this.#o.hub.unsubscribeAll(this);
  }

  /**
   * Messages are answered in the order they came: while one waits on the store (a query on a
   * shared database takes a round trip), the next ones wait too, at most a burst's worth.
   */
  #receive(data: unknown): void {
    if (!this.#waiting) return this.#dispatch(data);
    if (this.#queued.length >= this.#o.limits.messageBurst + 16) {
      this.#o.counters.rateLimitedTotal++;
      return this.#notice("rate-limited: too many messages while the last ones wait on the store");
    }
    this.#queued.push(data);
  }

  #dispatch(data: unknown): void {
    let pending: Promise<void> | void = undefined;
    try {
      pending = this.#onMessage(data);
    } catch {
      // A bug must not take the server down with it: report it to this client only.
      this.#notice("error: internal error while handling the message");
    }
    if (pending === undefined) return;
    this.#waiting = true;
    pending.catch(() => this.#notice("error: internal error while handling the message"))
      .finally(() => {
        this.#waiting = false;
        while (!this.#waiting && this.#queued.length > 0) this.#dispatch(this.#queued.shift());
      });
  }

  #onMessage(data: unknown): Promise<void> | void {
    if (this.#dead) return;
    const c = this.#o.counters;
    c.messagesReceivedTotal++;
    this.#lastActive = Date.now();
    this.#everSent = true;
    const input = typeof data === "string"
      ? data
      : data instanceof ArrayBuffer
      ? new Uint8Array(data)
      : undefined;
    const allowed = this.#bucket.take();
    if (!allowed && this.#overLimit()) return;
    if (allowed) this.#overLimitInRow = 0;
    if (input === undefined) return this.#notice("invalid: unsupported message type");
    let msg: ClientMessage;
    try {
      msg = parseClientMessage(input, {
        maxBytes: this.#o.limits.maxMessageBytes,
        maxFilters: this.#o.limits.maxFilters,
      });
    } catch (err) {
      if (!allowed) return this.#notice(this.#rateLimitedReason());
      if (err instanceof Nip01MessageError) return this.#rejectUnparsed(input, err.reason);
      return this.#notice("error: could not parse the message");
    }
    if (!allowed) return this.#refuse(msg, this.#rateLimitedReason());
    switch (msg.type) {
      case "REQ":
        return this.#subs.req(msg.subId, msg.filters);
      case "COUNT":
        return this.#onCount(msg.subId, msg.filters);
      case "CLOSE":
        return this.#subs.close(msg.subId);
      case "EVENT":
        return answerEvent(msg.event, this.#event);
      case "AUTH":
        return this.#send(JSON.stringify(this.#auth.reply(msg.event)));
    }
  }

  #onPing(): void {
    if (this.#dead) return;
    // Not activity (`isIdle`, `quietSince`): a socket that only pings just holds a slot.
    if (this.#bucket.take()) {
      this.#overLimitInRow = 0;
      return;
    }
    this.#overLimit();
  }

  /** Counts an over-limit message; true when it closed the connection instead of answering. */
  #overLimit(): boolean {
    this.#o.counters.rateLimitedTotal++;
    this.#overLimitInRow++;
    if (this.#overLimitInRow < this.#o.limits.rateLimitedBeforeClose) return false;
    this.#o.counters.rateLimitedDisconnectsTotal++;
    this.#notice(
      `rate-limited: ${this.#overLimitInRow} messages over the limit in a row; closing`,
    );
    this.close(1008, "rate-limited");
    return true;
  }

  #rateLimitedReason(): string {
    return "rate-limited: slow down, more than " +
      `${this.#o.limits.messagesPerSecond} messages per second`;
  }

  /** A message that failed to parse: answer in the most precise form its content allows. */
  #rejectUnparsed(input: string | Uint8Array, reason: string): void {
    const c = this.#o.counters;
    c.invalidMessagesTotal++;
    if (reason.includes("message over")) c.oversizeMessagesTotal++;
    const reply = unparsedReply(input, reason);
    if (reply[0] === "CLOSED") c.closedSentTotal++;
    if (reply[0] === "NOTICE") c.noticesSentTotal++;
    this.#send(JSON.stringify(reply));
  }

  #refuse(msg: ClientMessage, reason: string): void {
    if (msg.type === "REQ" || msg.type === "COUNT") return this.#closed(msg.subId, reason);
    if (msg.type === "EVENT") {
      return this.#send(JSON.stringify(["OK", msg.event.id, false, reason]));
    }
    this.#notice(reason);
  }

  async #onCount(subId: string, filters: NostrFilter[]): Promise<void> {
    // A count of private events tells who gets how many: never served (docs/PROTOCOL.md).
    if (this.#auth.namesPrivateKind(filters)) {
      return this.#closed(subId, "restricted: private kinds are not counted");
    }
    try {
      const count = await this.#auth.countPublic(filters, (f) => this.#store.count(f));
      this.#o.counters.countsAnsweredTotal++;
      this.#send(JSON.stringify(["COUNT", subId, { count }]));
    } catch (err) {
      if (err instanceof EventStoreQueryError) {
        return this.#closed(subId, `invalid: ${err.message}`);
      }
      this.#closed(subId, "error: could not count events");
    }
  }

  /** An event as this connection reads it: JSON, or its TOON text as a JSON string. */
  #wireBody(json: string, toon: () => string): string {
    return this.#o.format === "toon" ? JSON.stringify(toon()) : json;
  }

  #sendEvent(subId: string, body: string): void {
    // Stored JSON is our own JSON.stringify output: splice it in rather than re-encode it.
    this.#send(`["EVENT",${JSON.stringify(subId)},${body}]`);
    this.#lastDelivered = Date.now();
    this.#o.counters.eventsSentTotal++;
  }

  #ok(id: string, accepted: boolean, message: string): void {
    this.#send(JSON.stringify(["OK", id, accepted, message]));
  }

  #closed(subId: string, message: string): void {
    this.#o.counters.closedSentTotal++;
    this.#send(JSON.stringify(["CLOSED", subId, message]));
  }

  #notice(message: string): void {
    this.#o.counters.noticesSentTotal++;
    this.#send(JSON.stringify(["NOTICE", message]));
  }

  #send(text: string): void {
    if (this.#dead || this.#socket.readyState !== WebSocket.OPEN) return;
    try {
      this.#socket.send(text);
      this.#o.onSent?.();
    } catch {
      this.#teardown();
    }
  }

  #slowConsumer(detail: string): void {
    // Closed already (by the town's slow-consumer guard): counted there.
    if (this.#dead || this.#socket.readyState !== WebSocket.OPEN) return;
    this.#o.counters.slowConsumerDisconnectsTotal++;
    this.closeSlowConsumer(detail);
  }

  /**
   * Closes the connection as a slow consumer (the town's guard, or this session, found it too
   * far behind): a NOTICE saying why is queued last, so a client that reads late finds it after
   * the events it did get, and the subscriptions end now, not at the close event (which a
   * client that does not read delays until the close times out). Counted by the caller.
   *
   * It needs a connected socket: no example that runs here: tests/e2e/town_backpressure_test.ts.
   */
  closeSlowConsumer(detail: string): void {
    this.#notice(
      `error: slow consumer (${detail}; max ${this.#o.limits.maxBufferedBytes}); closing`,
    );
    this.close(1008, "slow consumer");
  }
}
