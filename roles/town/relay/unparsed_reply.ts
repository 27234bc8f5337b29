/**
 * The answer to a client message that failed to parse (roles/town/relay/nip01_session.ts), in
 * the most precise form its content allows: `CLOSED` for a REQ or COUNT whose id can be read,
 * `OK false` for an EVENT whose id can be read, else a `NOTICE`. Oversize messages always get a
 * `NOTICE` (their content is not read).
 *
 * @module
 */

/** The relay message to send, as an array for `JSON.stringify`. */
export type UnparsedReply =
  | ["CLOSED", string, string]
  | ["OK", string, false, string]
  | ["NOTICE", string];

/**
 * The reply to a message that did not parse, with the parser's reason.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { unparsedReply } from "./unparsed_reply.ts";
 *
 * assert.deepEqual(unparsedReply('["REQ","s1",42]', "invalid: filter is not an object"),
 *   ["CLOSED", "s1", "invalid: filter is not an object"]);
 * ```
 */
export function unparsedReply(input: string | Uint8Array, reason: string): UnparsedReply {
  if (reason.includes("message over")) return ["NOTICE", reason];
  let arr: unknown;
  try {
    arr = JSON.parse(typeof input === "string" ? input : new TextDecoder().decode(input));
  } catch {
    return ["NOTICE", reason];
  }
  if (Array.isArray(arr)) {
    const [type, second] = arr;
    if (
      (type === "REQ" || type === "COUNT") && typeof second === "string" &&
      second.length > 0 && second.length <= 64
    ) return ["CLOSED", second, reason];
    if (type === "EVENT" && typeof second === "object" && second !== null) {
      const id = (second as Record<string, unknown>).id;
      if (typeof id === "string" && /^[0-9a-f]{64}$/.test(id)) return ["OK", id, false, reason];
    }
  }
  return ["NOTICE", reason];
}
