/**
 * A REQ's stored events sent in pages: the store is asked for the answer's ids only (newest
 * first, the order it is sent in), then for the events of one page at a time, each page read
 * only once the socket has taken the last one (its `bufferedAmount` under its share), sent
 * whole and dropped. What an answer holds while its reader does not read is its list of ids,
 * not its events: a connection that sends REQs and never reads costs the town the bytes its
 * socket holds and no more (docs/OPERATIONS.md "Peers that do not read").
 *
 * The socket's share is half of `maxBufferedBytes`; while all the town's sockets together hold
 * over a quarter of `maxBufferedBytesTotal`, it is {@linkcode CROWDED_SHARE_BYTES}: a reader takes a
 * page within milliseconds and goes on, a socket that does not read stops at that and is closed
 * once it has not drained for the drain timeout.
 *
 * @module
 */
import { sleep } from "../../../protocol/backoff.ts";
import type { StoredEvent } from "../../../state/events/event_store.ts";
import type { TownStore } from "../../../state/events/town_store.ts";
import type { TownLimits } from "../../../config/town_limits.ts";
import type { QueryTicket, ReadBudget } from "./read_budget.ts";
import { storeReadMillis } from "./store_read_cost.ts";

/** A socket's share while the town's sockets together are over a quarter of their total. */
export const CROWDED_SHARE_BYTES = 64 * 1024;

/** The longest wait between two looks at a socket that does not drain. */
const MAX_WAIT_MS = 100;

/** Options for {@linkcode sendStoredAnswer}. */
export interface StoredAnswerOptions {
  socket: WebSocket;
  store: TownStore;
  budget: ReadBudget;
  /** The connection, as the budget knows it. */
  client: object;
  limits: Pick<TownLimits, "maxBufferedBytes" | "maxBufferedBytesTotal" | "queryBatchSize">;
  /** Read each event's JSON only (a JSON reader). */
  jsonOnly: boolean;
  /** How long the socket may take to drain to its share. */
  drainTimeoutMs: number;
  /** What all the town's sockets hold unsent now; absent: only this socket's share applies. */
  townBuffered?: () => number;
  /** The answer's reservation in the budget: each page is held, then given back as sent. */
  ticket: QueryTicket;
  /** False once the subscription is closed or replaced, or the connection is gone. */
  live(): boolean;
  /** An event as the connection reads it; undefined leaves it out (a private event). */
  body(row: StoredEvent): string | undefined;
  /** Sends one event's body (spliced into an `EVENT` message). */
  send(body: string): void;
  /** Told how many bytes of events read for this answer are not sent yet (up or down). */
  unsent(delta: number): void;
  /**
   * The bytes of an event as the connection's last page found them, kept across its REQs: the
   * first page of each answer asks for what the socket has room for too. Absent: a batch.
   */
  sizes?: PageSizes;
}

/** What one connection's pages found, for the size of the next (see {@linkcode sendStoredAnswer}). */
export interface PageSizes {
  eventBytes: number;
}

/** How the answer ended: all sent, cut short (closed), or the socket did not drain. */
export type StoredAnswerEnd = "sent" | "ended" | "stalled";

/**
 * Sends the events of `keys` (a `keysOnly` query's answer) in pages; the ids sent.
 *
 * It needs a session's socket: no example that runs here:
 * tests/interop/nostr_tools_town_read_test.ts.
 */
export async function sendStoredAnswer(
  keys: readonly StoredEvent[],
  o: StoredAnswerOptions,
): Promise<{ end: StoredAnswerEnd; ids: string[] }> {
  const ids: string[] = [];
  const batch = Math.max(1, o.limits.queryBatchSize);
  // Bytes of an event, as the last page found them: a page asks for what the socket has room
  // for, not a whole batch of which a socket that does not read takes a few.
  const sizes = o.sizes ?? { eventBytes: 0 };
  for (let start = 0; start < keys.length;) {
    if (!o.live()) return { end: "ended", ids };
    await o.budget.pace(o.client);
    if (!(await drainedToShare(o))) return { end: o.live() ? "stalled" : "ended", ids };
    if (!o.live()) return { end: "ended", ids };
    const count = pageSize(o, batch, sizes.eventBytes);
    // The page is read and sent in a function of its own: a suspended async function keeps
    // every local it ever held, so rows read here would stay reachable through the waits
    // above, one page per socket that does not read (docs/OPERATIONS.md "Peers that do not read").
    // A few pages town-wide at once: pages read side by side are all held together; a light
    // connection's page goes before those of connections over their share of the time.
    const done = await o.budget.runPage(
      () => sendPage(keys.slice(start, start + count), o, ids),
      o.client,
    );
    if (done === undefined) return { end: "ended", ids };
    if (done.eventBytes > 0) sizes.eventBytes = done.eventBytes;
    start += done.done;
  }
  return { end: "sent", ids };
}

/**
 * Reads one page of events by id and sends them until the socket holds over its share; how many
 * ids were done (sent or gone), undefined when the answer ended meanwhile. The rest of the page
 * is read again once the socket drains: a socket that does not read holds its share, not a page.
 */
async function sendPage(
  page: readonly StoredEvent[],
  o: StoredAnswerOptions,
  ids: string[],
): Promise<{ done: number; eventBytes: number } | undefined> {
  const wanted = page.map((k) => k.id);
  const rows = await o.budget.timeQuery(
    () => o.store.query([{ ids: wanted }], { limit: wanted.length, jsonOnly: o.jsonOnly }),
    o.client,
    storeReadMillis,
  );
  // Sending is read work too: charged like the query (only the synchronous part).
  const started = performance.now();
  const byId = new Map(rows.map((row) => [row.id, row]));
  let bytes = 0;
  for (const row of rows) bytes += row.json.length + row.toon.length;
  o.ticket.hold(bytes);
  o.unsent(bytes);
  const limit = share(o);
  try {
    let done = 0;
    for (const id of wanted) {
      if (!o.live()) return undefined;
      if (done > 0 && o.socket.bufferedAmount > limit) break;
      done++;
      // Gone since the ids were read (deleted, replaced, expired): left out.
      const row = byId.get(id);
      const body = row === undefined ? undefined : o.body(row);
      if (body === undefined) continue;
      o.send(body);
      ids.push(id);
    }
    return { done, eventBytes: rows.length > 0 ? bytes / rows.length : 0 };
  } finally {
    o.ticket.sent(bytes);
    o.unsent(-bytes);
    o.budget.charge(performance.now() - started, o.client);
  }
}

/**
 * How many events the next page asks for: a batch, or what the socket has room for under its
 * share at `eventBytes` an event (one more, so that the page fills it), whichever is less.
 */
function pageSize(o: StoredAnswerOptions, batch: number, eventBytes: number): number {
  if (eventBytes <= 0) return batch;
  const room = Math.max(0, share(o) - o.socket.bufferedAmount);
  return Math.min(batch, Math.ceil(room / eventBytes) + 1);
}

/** What {@linkcode drainedToShare} looks at. */
export type DrainOptions = Pick<
  StoredAnswerOptions,
  "socket" | "limits" | "drainTimeoutMs" | "townBuffered" | "live"
>;

/**
 * Waits until the socket holds at most its share (see {@linkcode sendStoredAnswer}); false when it
 * does not within the drain timeout or the answer ended. A REQ's ids are read only after this: a
 * socket that does not read and sends its REQs again costs no query and holds no list of ids.
 *
 * It needs a connected socket: no example that runs here: tests/e2e/town_read_flood_memory_test.ts.
 */
export async function drainedToShare(o: DrainOptions): Promise<boolean> {
  const deadline = Date.now() + o.drainTimeoutMs;
  // A reader drains within the first waits; one that does not is looked at ever less often,
  // so hundreds of them waiting cost the event loop little.
  for (let wait = 5; o.socket.bufferedAmount > share(o); wait = Math.min(wait * 2, MAX_WAIT_MS)) {
    if (!o.live() || Date.now() > deadline) return false;
    await sleep(wait);
  }
  return true;
}

/** What the socket may hold before its answer waits: less while the town's sockets are full. */
function share(o: Pick<StoredAnswerOptions, "limits" | "townBuffered">): number {
  const { maxBufferedBytes, maxBufferedBytesTotal } = o.limits;
  return o.townBuffered !== undefined && o.townBuffered() > maxBufferedBytesTotal / 4
    ? CROWDED_SHARE_BYTES
    : maxBufferedBytes / 2;
}
