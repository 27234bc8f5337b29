/**
 * NIP-01 protocol messages in both directions, with strict shape checks and a size limit.
 *
 * Client to relay: EVENT, REQ, CLOSE, COUNT (NIP-45), AUTH (NIP-42).
 * Relay to client: EVENT, EOSE, OK, CLOSED, NOTICE, COUNT, AUTH.
 *
 * A relay-to-client EVENT may carry the event as a JSON object (standard NIP-01) or as a TOON
 * string (Crosstown relays: `["EVENT", subId, "<TOON text>"]`). TOON is not decoded here: the
 * text is handed to the caller, who decodes it (or scans it shallowly) as it sees fit.
 *
 * Events are checked for shape only (hex lengths, integer ranges, string tags); id and
 * signature verification is the caller's business.
 *
 * @module
 */
import { ProtocolError } from "./protocol_error.ts";
import type { NostrEvent } from "./nostr_event.ts";
import { type EventShapeField, findEventShapeProblem } from "./event_shape.ts";
import {
  type FilterLimits,
  type NostrFilter,
  NostrFilterError,
  validateFilter,
} from "./nostr_filter.ts";

/**
 * True for a NOTICE/CLOSED/OK reason that says "try again later" (NIP-01's `rate-limited:`
 * prefix, what a busy town answers), rather than a refusal that will not change.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * assert.equal(isRetryLater("rate-limited: town busy (query time per second spent); retry later"), true);
 * assert.equal(isRetryLater("blocked: no"), false);
 * ```
 */
export function isRetryLater(reason: string): boolean {
  return reason.startsWith("rate-limited:");
}

/** Default largest message accepted: 1 MiB (UTF-8 bytes). */
export const DEFAULT_MAX_MESSAGE_BYTES = 1024 * 1024;
/** Default most filters in one REQ or COUNT. */
export const DEFAULT_MAX_FILTERS = 20;
/** Longest subscription id (NIP-01: "max length 64 chars"). */
export const MAX_SUB_ID_LENGTH = 64;

/** A client-to-relay message. */
export type ClientMessage =
  | { type: "EVENT"; event: NostrEvent }
  | { type: "REQ"; subId: string; filters: NostrFilter[] }
  | { type: "CLOSE"; subId: string }
  | { type: "COUNT"; subId: string; filters: NostrFilter[] }
  | { type: "AUTH"; event: NostrEvent };

/** A relay-to-client EVENT: the event is either a JSON object or TOON text. */
export type RelayEventMessage =
  | { type: "EVENT"; subId: string; event: NostrEvent; toon?: undefined }
  | { type: "EVENT"; subId: string; toon: string; event?: undefined };

/** A relay-to-client message. */
export type RelayMessage =
  | RelayEventMessage
  | { type: "EOSE"; subId: string }
  | { type: "OK"; eventId: string; accepted: boolean; message: string }
  | { type: "CLOSED"; subId: string; message: string }
  | { type: "NOTICE"; message: string }
  | { type: "COUNT"; subId: string; count: number; approximate?: boolean }
  | { type: "AUTH"; challenge: string };

/** Options for the parsers. */
export interface ParseNip01Options {
  /** Largest message accepted, in UTF-8 bytes. Default 1 MiB. */
  maxBytes?: number;
  /** Most filters in one REQ/COUNT. Default 20. */
  maxFilters?: number;
  /** Limits applied to each filter. */
  filterLimits?: FilterLimits;
}

/**
 * A message that is not a well-formed NIP-01 message. `reason` is a short machine-readable
 * prefix plus a human explanation, fit to send back verbatim in a NOTICE or CLOSED
 * (`"invalid: REQ filter 2: \"kinds\" is not an array"`).
 */
export class Nip01MessageError extends ProtocolError {
  /** `"Nip01MessageError"`: explicit so it survives bundling. */
  override name = "Nip01MessageError";
  /** NOTICE-ready text, e.g. `invalid: message over 1048576 bytes`. */
  readonly reason: string;
  /** `reason` is also the message, so it can be sent back as is. */
  constructor(reason: string) {
    super(reason);
    this.reason = reason;
  }
}

const HEX64 = /^[0-9a-f]{64}$/;

function fail(what: string): never {
  throw new Nip01MessageError(`invalid: ${what}`);
}

/**
 * Parses a client-to-relay message (what a relay receives).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * const msg = parseClientMessage('["REQ","s1",{"kinds":[5050]}]');
 * assert.deepEqual(msg.type === "REQ" && msg.filters, [{ kinds: [5050] }]);
 * assert.throws(() => parseClientMessage('["REQ"]'), Nip01MessageError);
 * ```
 */
export function parseClientMessage(
  data: string | Uint8Array,
  options: ParseNip01Options = {},
): ClientMessage {
  const arr = parseArray(data, options);
  switch (arr[0]) {
    case "EVENT":
      expectLength(arr, 2, "EVENT");
      return { type: "EVENT", event: checkEvent(arr[1], "EVENT") };
    case "REQ":
    case "COUNT":
      return {
        type: arr[0],
        subId: checkSubId(arr[1], arr[0]),
        filters: checkFilters(arr, options),
      };
    case "CLOSE":
      expectLength(arr, 2, "CLOSE");
      return { type: "CLOSE", subId: checkSubId(arr[1], "CLOSE") };
    case "AUTH":
      expectLength(arr, 2, "AUTH");
      return { type: "AUTH", event: checkEvent(arr[1], "AUTH") };
    default:
      return fail(`unknown client message type ${describeType(arr[0])}`);
  }
}

/**
 * Parses a relay-to-client message (what a client receives).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * const msg = parseRelayMessage('["EVENT","s1","id: ab\\nkind: 1"]'); // TOON in place of the event
 * assert.equal(msg.type === "EVENT" && msg.toon, "id: ab\nkind: 1");
 * ```
 */
export function parseRelayMessage(
  data: string | Uint8Array,
  options: ParseNip01Options = {},
): RelayMessage {
  const arr = parseArray(data, options);
  switch (arr[0]) {
    case "EVENT":
      return parseRelayEvent(arr);
    case "EOSE":
      expectLength(arr, 2, "EOSE");
      return { type: "EOSE", subId: checkSubId(arr[1], "EOSE") };
    case "OK":
      expectLength(arr, 4, "OK");
      if (typeof arr[1] !== "string" || !HEX64.test(arr[1])) fail("OK event id is not 64 hex");
      if (typeof arr[2] !== "boolean") fail("OK accepted flag is not a boolean");
      return { type: "OK", eventId: arr[1], accepted: arr[2], message: checkText(arr[3], "OK") };
    case "CLOSED":
      expectLength(arr, 3, "CLOSED");
      return {
        type: "CLOSED",
        subId: checkSubId(arr[1], "CLOSED"),
        message: checkText(arr[2], "CLOSED"),
      };
    case "NOTICE":
      expectLength(arr, 2, "NOTICE");
      return { type: "NOTICE", message: checkText(arr[1], "NOTICE") };
    case "COUNT":
      return parseRelayCount(arr);
    case "AUTH":
      expectLength(arr, 2, "AUTH");
      return { type: "AUTH", challenge: checkText(arr[1], "AUTH") };
    default:
      return fail(`unknown relay message type ${describeType(arr[0])}`);
  }
}

function parseRelayEvent(arr: unknown[]): RelayEventMessage {
  expectLength(arr, 3, "EVENT");
  const subId = checkSubId(arr[1], "EVENT");
  if (typeof arr[2] === "string") {
    if (arr[2].length === 0) fail("EVENT TOON text is empty");
    return { type: "EVENT", subId, toon: arr[2] };
  }
  return { type: "EVENT", subId, event: checkEvent(arr[2], "EVENT") };
}

function parseRelayCount(arr: unknown[]): RelayMessage {
  expectLength(arr, 3, "COUNT");
  const subId = checkSubId(arr[1], "COUNT");
  const body = arr[2];
  if (typeof body !== "object" || body === null || Array.isArray(body)) {
    fail("COUNT result is not an object");
  }
  const { count, approximate } = body as Record<string, unknown>;
  if (typeof count !== "number" || !Number.isSafeInteger(count) || count < 0) {
    fail("COUNT count is not a non-negative integer");
  }
  if (approximate !== undefined && typeof approximate !== "boolean") {
    fail("COUNT approximate is not a boolean");
  }
  return approximate === undefined
    ? { type: "COUNT", subId, count }
    : { type: "COUNT", subId, count, approximate };
}

function parseArray(data: string | Uint8Array, options: ParseNip01Options): unknown[] {
  const max = options.maxBytes ?? DEFAULT_MAX_MESSAGE_BYTES;
  let text: string;
  if (typeof data === "string") {
    // A UTF-16 code unit is 1..3 UTF-8 bytes: only measure exactly when it could matter.
    if (data.length > max) fail(`message over ${max} bytes`);
    if (data.length * 3 > max && new TextEncoder().encode(data).length > max) {
      fail(`message over ${max} bytes`);
    }
    text = data;
  } else {
    if (data.length > max) fail(`message over ${max} bytes`);
    try {
      text = new TextDecoder("utf-8", { fatal: true }).decode(data);
    } catch {
      return fail("message is not valid UTF-8");
    }
  }
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return fail("message is not valid JSON");
  }
  if (!Array.isArray(value)) fail("message is not a JSON array");
  if (value.length === 0) fail("message is an empty array");
  if (typeof value[0] !== "string") fail("message type is not a string");
  return value;
}

function expectLength(arr: unknown[], n: number, type: string): void {
  if (arr.length !== n) fail(`${type} has ${arr.length} elements, expected ${n}`);
}

function describeType(v: unknown): string {
  return typeof v === "string" ? JSON.stringify(v.slice(0, 16)) : typeof v;
}

function checkSubId(v: unknown, type: string): string {
  if (typeof v !== "string" || v.length === 0 || v.length > MAX_SUB_ID_LENGTH) {
    fail(`${type} subscription id is not a string of 1..${MAX_SUB_ID_LENGTH} characters`);
  }
  return v;
}

function checkText(v: unknown, type: string): string {
  if (typeof v !== "string") fail(`${type} message is not a string`);
  return v;
}

function checkFilters(arr: unknown[], options: ParseNip01Options): NostrFilter[] {
  const type = arr[0] as string;
  const max = options.maxFilters ?? DEFAULT_MAX_FILTERS;
  if (arr.length < 3) fail(`${type} has no filter`);
  if (arr.length - 2 > max) fail(`${type} has more than ${max} filters`);
  const filters: NostrFilter[] = [];
  for (let i = 2; i < arr.length; i++) {
    try {
      filters.push(validateFilter(arr[i], options.filterLimits));
    } catch (err) {
      if (err instanceof NostrFilterError) fail(`${type} filter ${i - 1}: ${err.message}`);
      throw err;
    }
  }
  return filters;
}

/**
 * Checks the NIP-01 shape of an event (not its id or signature) and returns it typed; throws
 * {@linkcode Nip01MessageError} naming the first bad field. Unknown extra fields are rejected.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 *
 * const text = JSON.stringify({ id: "01".repeat(32), pubkey: "02".repeat(32), created_at: 1700000000, kind: 1, tags: [], content: "hi", sig: "03".repeat(64) });
 * assert.equal(checkEventShape(JSON.parse(text), "EVENT").content, "hi");
 * assert.throws(() => checkEventShape({ kind: 1 }, "EVENT"), Nip01MessageError);
 * ```
 */
export function checkEventShape(v: unknown, context = "event"): NostrEvent {
  return checkEvent(v, context);
}

const SHAPE_MESSAGES: Record<Exclude<EventShapeField, "extra-key">, string> = {
  event: "is not an object",
  id: "id is not 64 hex",
  pubkey: "pubkey is not 64 hex",
  sig: "sig is not 128 hex",
  created_at: "created_at is not a non-negative integer",
  kind: "kind is not an integer 0..65535",
  content: "content is not a string",
  tags: "tags is not an array",
};

function checkEvent(v: unknown, type: string): NostrEvent {
  const problem = findEventShapeProblem(v);
  if (problem === undefined) return v as NostrEvent;
  if (problem.field === "extra-key") {
    fail(`${type} event has unknown field "${(problem.detail ?? "").slice(0, 32)}"`);
  }
  if (problem.field === "tags" && problem.detail !== undefined) {
    fail(`${type} event has a tag that is not an array of strings`);
  }
  fail(`${type} event ${SHAPE_MESSAGES[problem.field]}`);
}

/**
 * Serializes a client-to-relay message.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * assert.equal(serializeClientMessage({ type: "REQ", subId: "s1", filters: [{ kinds: [7000] }] }), '["REQ","s1",{"kinds":[7000]}]');
 * ```
 */
export function serializeClientMessage(msg: ClientMessage): string {
  switch (msg.type) {
    case "EVENT":
    case "AUTH":
      return JSON.stringify([msg.type, msg.event]);
    case "REQ":
    case "COUNT":
      return JSON.stringify([msg.type, msg.subId, ...msg.filters]);
    case "CLOSE":
      return JSON.stringify(["CLOSE", msg.subId]);
  }
}

/**
 * Serializes a relay-to-client message (a TOON EVENT carries the TOON text as a JSON string).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * assert.equal(serializeRelayMessage({ type: "EOSE", subId: "s1" }), '["EOSE","s1"]');
 * ```
 */
export function serializeRelayMessage(msg: RelayMessage): string {
  switch (msg.type) {
    case "EVENT":
      return JSON.stringify(["EVENT", msg.subId, msg.toon ?? msg.event]);
    case "EOSE":
      return JSON.stringify(["EOSE", msg.subId]);
    case "OK":
      return JSON.stringify(["OK", msg.eventId, msg.accepted, msg.message]);
    case "CLOSED":
      return JSON.stringify(["CLOSED", msg.subId, msg.message]);
    case "NOTICE":
      return JSON.stringify(["NOTICE", msg.message]);
    case "COUNT": {
      const body = msg.approximate === undefined
        ? { count: msg.count }
        : { count: msg.count, approximate: msg.approximate };
      return JSON.stringify(["COUNT", msg.subId, body]);
    }
    case "AUTH":
      return JSON.stringify(["AUTH", msg.challenge]);
  }
}
