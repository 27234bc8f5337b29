/**
 * Which NIP-01 filters the PostgreSQL store reads through a named prepared statement, reused on
 * each pooled connection. postgres.js's `unsafe` sends an unnamed statement: Parse and Describe,
 * a round trip for the parameters' types, then Bind and Execute, two writes to the database's
 * socket and a plan per query. Under a REQ flood those writes and waits held the town's event
 * loop (docs/OPERATIONS.md "Peers that do not read"). A named statement is described once per
 * connection and SQL text, and the driver keeps every one it made for the connection's life, so
 * only a bounded set of shapes is prepared: the SQL text follows the shape (which fields are
 * present, which tag keys), and a filter with many tag keys or rare ones goes unnamed as before.
 *
 * @module
 */
import type { NostrFilter } from "../../protocol/nostr_filter.ts";

/** Tag keys whose one-key filters are prepared (the ones the job flow and clients use most). */
const COMMON_TAG_KEYS = new Set(["#e", "#p", "#d", "#a", "#t"]);

/**
 * Whether a filter's query may be a named prepared statement: at most one tag key, a common one.
 * With the five plain fields, the three column lists and these keys, a connection holds at most
 * 32 x 3 x 6 = 576 statements.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { preparesFilterShape } from "./prepared_filter_shape.ts";
 *
 * assert(preparesFilterShape({ kinds: [1], limit: 5 }));
 * assert(preparesFilterShape({ kinds: [7000], "#e": ["ab"] }));
 * assert(!preparesFilterShape({ "#e": ["ab"], "#p": ["cd"] }));
 * assert(!preparesFilterShape({ "#x": ["ab"] }));
 * ```
 */
export function preparesFilterShape(filter: NostrFilter): boolean {
  let tagKeys = 0;
  for (const key of Object.keys(filter)) {
    if (key.length !== 2 || key[0] !== "#") continue;
    if (!COMMON_TAG_KEYS.has(key) || ++tagKeys > 1) return false;
  }
  return true;
}
