/**
 * One connection's subscriptions (roles/town/relay/nip01_session.ts): REQ admitted or refused
 * (too many, a backlog unread, private kinds unauthenticated, the town's read budget spent), its
 * stored events answered one REQ at a time, in order (stored_answer.ts), then EOSE and the live
 * events held back meanwhile; live events after that; CLOSE. docs/OPERATIONS.md "Peers that do
 * not read" tells the limits.
 *
 * @module
 */
import type { NostrFilter } from "../../../protocol/nostr_filter.ts";
import { EventStoreQueryError, type StoredEvent } from "../../../state/events/event_store.ts";
import type { TownStore } from "../../../state/events/town_store.ts";
import type { HubSubscriber, PublishedEvent, SubscriptionHub } from "./subscription_hub.ts";
import type { TownCounters } from "../town_metrics.ts";
import type { TownLimits } from "../../../config/town_limits.ts";
import type { ReadBudget, ReadBudgetRefusal } from "./read_budget.ts";
import type { RelayAuth } from "./relay_auth.ts";
import { drainedToShare, type PageSizes, sendStoredAnswer } from "./stored_answer.ts";
import { storeReadMillis } from "./store_read_cost.ts";

/** What the subscriptions send the client, through the connection. */
export interface SessionReplies {
  /** An event for `subId`, its body as the connection reads it. */
  sendEvent(subId: string, body: string): void;
  /** EOSE for `subId`. */
  eose(subId: string): void;
  /** An event as the connection reads it: JSON, or its TOON text as a JSON string. */
  wireBody(json: string, toon: () => string): string;
  closed(subId: string, message: string): void;
  notice(message: string): void;
  /** The client is too far behind: counted, told, closed. */
  slowConsumer(detail: string): void;
}

/** Options for {@linkcode SessionSubscriptions}. */
export interface SessionSubscriptionsOptions {
  /** The connection: the hub's subscriber and the read budget's client. */
  client: HubSubscriber;
  socket: WebSocket;
  store: TownStore;
  hub: SubscriptionHub;
  budget: ReadBudget;
  auth: RelayAuth;
  limits: TownLimits;
  counters: TownCounters;
  /** Whether the connection reads JSON only (only that encoding is read from the store). */
  jsonOnly: boolean;
  /** How long a REQ's answer may wait for the socket to drain. */
  drainTimeoutMs: number;
  /** What all the town's sockets hold unsent: past a quarter of its cap, REQs' pages wait more. */
  townBuffered?: () => number;
  /** Whether the connection is gone. */
  isDead: () => boolean;
  replies: SessionReplies;
}

/** A REQ whose stored events wait their turn. */
interface QueuedAnswer {
  subId: string;
  sub: SessionSub;
  filters: NostrFilter[];
  /** Ends the subscription (its answer failed or was refused). */
  dropSub: () => void;
}

interface SessionSub {
  /** Live events held back until EOSE has been sent; null once live. */
  pending: PublishedEvent[] | null;
  closed: boolean;
}

const BUSY_DETAIL: Record<ReadBudgetRefusal, string> = {
  queries: "too many queries in flight",
  bytes: "too many stored events read and not yet sent",
  time: "query time per second spent",
};

/**
 * The subscriptions of one connection. The session hands it REQ, CLOSE and the hub's live
 * events, and ends them all when the socket closes.
 *
 * It needs a session's socket: no example that runs here:
 * tests/interop/nostr_tools_town_read_test.ts.
 */
export class SessionSubscriptions {
  readonly #o: SessionSubscriptionsOptions;
  readonly #subs = new Map<string, SessionSub>();
  /** REQs whose stored events are being sent (the first) or wait their turn. */
  readonly #answers: QueuedAnswer[] = [];
  /** Bytes of stored events read for this connection's REQs and not yet sent. */
  #unsentBytes = 0;
  /** What this connection's pages found, for the size of the next page. */
  readonly #pageSizes: PageSizes = { eventBytes: 0 };

  constructor(options: SessionSubscriptionsOptions) {
    this.#o = options;
  }

  /** Open subscriptions. */
  get size(): number {
    return this.#subs.size;
  }

  /** Whether a REQ's stored events are being sent or wait their turn. */
  get answering(): boolean {
    return this.#answers.length > 0;
  }

  /** A live event for `subId`: sent, or held back until its EOSE. */
  deliver(subId: string, published: PublishedEvent): void {
    const { auth, limits, socket, replies } = this.#o;
    const sub = this.#subs.get(subId);
    if (!sub || sub.closed || this.#o.isDead()) return;
    const event = published.event;
    if (auth.isPrivate(event.kind) && !auth.mayRead(event)) return;
    if (sub.pending) {
      if (sub.pending.length >= limits.maxPendingLiveEvents) {
        replies.slowConsumer(`over ${limits.maxPendingLiveEvents} live events queued`);
        return;
      }
      sub.pending.push(published);
      return;
    }
    replies.sendEvent(subId, replies.wireBody(published.json, published.toon));
    if (socket.bufferedAmount > limits.maxBufferedBytes) {
      replies.slowConsumer(`${socket.bufferedAmount} bytes unsent`);
    }
  }

  /** Ends every subscription (the connection is gone); the session leaves the hub. */
  endAll(): void {
    for (const sub of this.#subs.values()) sub.closed = true;
    this.#subs.clear();
  }

  /** A REQ: refused with CLOSED, or subscribed and queued for its stored events. */
  req(subId: string, filters: NostrFilter[]): void {
    const { hub, limits, counters, auth, budget, client } = this.#o;
    const replacing = this.#subs.get(subId);
    if (!replacing && this.#subs.size >= limits.maxSubscriptions) {
      counters.tooManySubscriptionsTotal++;
      return this.#o.replies.closed(
        subId,
        `error: too many subscriptions (max ${limits.maxSubscriptions}); CLOSE one first`,
      );
    }
    if (replacing) {
      // A REQ with a live id replaces it, answered or refused: the old one ends here.
      replacing.closed = true;
      this.#subs.delete(subId);
      hub.unsubscribe(client, subId);
    }
    if (this.#backlog() >= limits.maxBufferedBytes) return this.#behind(subId);
    if (auth.needsAuth(filters)) {
      return this.#o.replies.closed(
        subId,
        "auth-required: private kinds are served to their recipients",
      );
    }
    const busy = budget.precheck(client);
    if (busy !== undefined) return this.#townBusy(subId, BUSY_DETAIL[busy]);
    // Subscribe before the query (which may wait on a database): an event committed meanwhile
    // is queued live and sent after EOSE, unless the history already held it.
    const sub: SessionSub = { pending: [], closed: false };
    this.#subs.set(subId, sub);
    hub.subscribe(client, subId, filters);
    const dropSub = () => {
      if (this.#subs.get(subId) === sub) {
        this.#subs.delete(subId);
        hub.unsubscribe(client, subId);
      }
    };
    // Answered one at a time, in order: a REQ waiting its turn holds its filters, not events.
    this.#answers.push({ subId, sub, filters, dropSub });
    if (this.#answers.length === 1) void this.#answerAll();
  }

  /** A CLOSE: the subscription ends (an answer under way stops at its next page). */
  close(subId: string): void {
    const sub = this.#subs.get(subId);
    if (sub) sub.closed = true;
    this.#subs.delete(subId);
    this.#o.hub.unsubscribe(this.#o.client, subId);
  }

  async #answerAll(): Promise<void> {
    while (this.#answers.length > 0 && !this.#o.isDead()) {
      try {
        await this.#answer(this.#answers[0]);
      } catch {
        this.#o.replies.notice("error: internal error while handling the message");
      }
      this.#answers.shift();
    }
    this.#answers.length = 0;
  }

  async #answer({ subId, sub, filters, dropSub }: QueuedAnswer): Promise<void> {
    const { limits, budget, store, client, auth, replies, isDead } = this.#o;
    if (sub.closed || isDead()) return;
    // The ids' query waits for time like the pages (a REQ admitted past a spent time budget, a
    // light client's, does not deepen its debt), and for the socket to take what it was sent: a
    // connection that does not read and sends its REQs again costs no query and holds no ids.
    await budget.pace(client);
    const live = () => !sub.closed && !isDead();
    const drain = {
      socket: this.#o.socket,
      limits,
      drainTimeoutMs: this.#o.drainTimeoutMs,
      townBuffered: this.#o.townBuffered,
      live,
    };
    if (!(await drainedToShare(drain))) {
      if (!live()) return;
      return replies.slowConsumer("socket did not drain while sending stored events");
    }
    let keys: StoredEvent[];
    try {
      keys = await budget.timeQuery(
        () => store.query(filters, { limit: limits.maxLimit, keysOnly: true }),
        client,
        storeReadMillis,
      );
    } catch (err) {
      return this.#queryFailed(subId, sub, dropSub, err);
    }
    // Closed or replaced while the query ran: nothing to send.
    if (sub.closed || isDead()) return;
    const ticket = budget.admit(0, client);
    if (typeof ticket === "string") {
      dropSub();
      return this.#townBusy(subId, BUSY_DETAIL[ticket]);
    }
    let answer;
    try {
      answer = await sendStoredAnswer(keys, {
        socket: this.#o.socket,
        store,
        budget,
        client,
        limits,
        jsonOnly: this.#o.jsonOnly,
        drainTimeoutMs: this.#o.drainTimeoutMs,
        townBuffered: this.#o.townBuffered,
        ticket,
        live,
        body: (row) =>
          auth.isPrivate(row.kind) && !auth.mayRead(JSON.parse(row.json))
            ? undefined
            : replies.wireBody(row.json, () => row.toon),
        send: (body) => replies.sendEvent(subId, body),
        unsent: (delta) => this.#unsentBytes += delta,
        sizes: this.#pageSizes,
      });
    } catch (err) {
      return this.#queryFailed(subId, sub, dropSub, err);
    } finally {
      ticket.end();
    }
    if (answer.end === "stalled") {
      return replies.slowConsumer("socket did not drain while sending stored events");
    }
    if (answer.end === "ended" || sub.closed || isDead()) return;
    replies.eose(subId);
    const pending = sub.pending ?? [];
    sub.pending = null;
    const sentIds = pending.length > 0 ? new Set(answer.ids) : undefined;
    for (const published of pending) {
      if (!sentIds?.has(published.event.id)) this.deliver(subId, published);
    }
  }

  #queryFailed(subId: string, sub: SessionSub, dropSub: () => void, err: unknown): void {
    dropSub();
    if (sub.closed) return;
    if (err instanceof EventStoreQueryError) {
      return this.#o.replies.closed(subId, `invalid: ${err.message}`);
    }
    this.#o.replies.closed(subId, "error: could not query the event store");
  }

  /** Stored events read for this connection and not sent, and bytes not yet written. */
  #backlog(): number {
    return this.#unsentBytes + this.#o.socket.bufferedAmount;
  }

  #behind(subId: string): void {
    this.#o.counters.queriesRefusedBusyTotal++;
    this.#o.replies.closed(
      subId,
      `rate-limited: ${this.#backlog()} bytes of stored events still unsent on this ` +
        "connection; read them first",
    );
  }

  #townBusy(subId: string, detail: string): void {
    this.#o.counters.queriesRefusedBusyTotal++;
    this.#o.replies.closed(subId, `rate-limited: town busy (${detail}); retry later`);
  }
}
