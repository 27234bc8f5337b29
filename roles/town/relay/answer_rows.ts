/**
 * The rows of a REQ's answer as one connection is sent them: each stored event reduced to its
 * body in the connection's wire format (the store's row holds JSON and TOON both), so an answer
 * waiting for a slow reader holds one encoding, and each row can be dropped once sent
 * (roles/town/relay/nip01_session.ts; docs/OPERATIONS.md "Peers that do not read").
 *
 * @module
 */
import type { StoredEvent } from "../../../state/events/event_store.ts";

/** A stored event as a connection is sent it. */
export interface AnswerRow {
  id: string;
  /** The event in the connection's wire format, spliced into its `EVENT` message. */
  body: string;
}

/**
 * The rows `body` keeps (undefined leaves a row out, e.g. a private event this reader may not
 * read), in order.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 *
 * const rows = [{ id: "a", createdAt: 1, kind: 1, json: "{}", toon: "t" }];
 * const answer = answerRows(rows, (row) => row.json);
 * assert.deepEqual(answer, [{ id: "a", body: "{}" }]);
 * assert.equal(answerBytes(answer), 2);
 * ```
 */
export function answerRows(
  rows: readonly StoredEvent[],
  body: (row: StoredEvent) => string | undefined,
): AnswerRow[] {
  const out: AnswerRow[] = [];
  for (const row of rows) {
    const kept = body(row);
    if (kept !== undefined) out.push({ id: row.id, body: kept });
  }
  return out;
}

/** What the rows hold, in UTF-16 code units (what the read budget counts). */
export function answerBytes(rows: readonly AnswerRow[]): number {
  let bytes = 0;
  for (const row of rows) bytes += row.body.length;
  return bytes;
}
