/**
 * What reading a store's answer costs the town's event loop, estimated from its rows, for a store
 * whose query waits on another process (PostgreSQL): the wait is not the event loop's, decoding
 * the rows that come back is. The read budget charges a query's wall time past its synchronous
 * part at most this much (roles/town/relay/read_budget.ts): its whole wall time, while every
 * connection of the pool was busy, charged the time the queries waited for a connection as if the
 * event loop had spent it, ran the budget into a debt that grew as long as the flood lasted, and
 * refused every REQ, honest ones too (docs/OPERATIONS.md "Peers that do not read").
 *
 * The figures are the town process's CPU time per query reading from PostgreSQL through
 * `npm:postgres` (1,000 events of 16 KB, 200 queries of 50 events by id, one after another):
 * 4.8 ms for 798 KiB of JSON only, 20 ms for JSON and TOON (1,595 KiB: `bytea` is sent as
 * hex), 2.5 ms for 500 ids only. A SQLite query is all synchronous and charged as such.
 *
 * @module
 */
import type { StoredEvent } from "../../../state/events/event_store.ts";

/** Milliseconds a row costs whatever its size (500 ids in 2.5 ms). */
const MILLIS_PER_ROW = 0.005;
/** Milliseconds per KiB of an event's JSON (text). */
const MILLIS_PER_JSON_KIB = 0.0057;
/** Milliseconds per KiB of an event's TOON (stored as bytes, read as hex and decoded). */
const MILLIS_PER_TOON_KIB = 0.019;

/**
 * The event loop's time to read `rows` from a store that answers over a socket, in ms.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { storeReadMillis } from "./store_read_cost.ts";
 *
 * const row = { id: "ab".repeat(32), createdAt: 1, kind: 1, json: "x".repeat(1024), toon: "" };
 * assert.equal(storeReadMillis([]), 0);
 * assert(storeReadMillis([row, row]) > storeReadMillis([row])); // each row and each KiB costs
 * ```
 */
export function storeReadMillis(rows: readonly StoredEvent[]): number {
  let json = 0;
  let toon = 0;
  for (const row of rows) {
    json += row.json.length;
    toon += row.toon.length;
  }
  return rows.length * MILLIS_PER_ROW + (json * MILLIS_PER_JSON_KIB + toon * MILLIS_PER_TOON_KIB) /
      1024;
}
