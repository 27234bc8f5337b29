/**
 * `payment-owed` (docs/PROTOCOL.md "A crash between a payment's two records"): a provider killed
 * after its income line and before its FULFILL left counts a payment its town never got the
 * fulfillment of. Restarted (or reconnected), it asks its town about those payments: the request
 * (the provider's BTP MESSAGE, no `ilp`) lists the packets' execution conditions, the RESPONSE
 * (same protocol name) sorts them by what the town's books say of each one forwarded to that BTP
 * account: `owed` (fulfilled), `notOwed` (rejected, or never forwarded), `inDoubt` (in flight, in
 * doubt after a crash of the town, on another process's books, or the question came too soon:
 * ask again later, at least `retryAfterMs` from now when it is given).
 *
 * Both are JSON: `{"conditions": ["<64 hex>", ...]}` (at most {@linkcode MAX_OWED_QUESTION}) and
 * `{"owed": [...], "notOwed": [...], "inDoubt": [...], "retryAfterMs"?: n}`. The town answers only
 * of the asking account's packets: the BTP session is the authentication.
 *
 * @module
 */
import { decodeInDoubt, encodeInDoubt } from "./payment_in_doubt.ts";
import { ProtocolError } from "./protocol_error.ts";

/** BTP protocol data name of the question and its answer. */
export const OWED_PROTOCOL_NAME = "payment-owed";

/** Most conditions in one question. */
export const MAX_OWED_QUESTION = 64;

/** A `payment-owed` message that cannot be read. */
export class OwedMessageError extends ProtocolError {
  override name = "OwedMessageError";
}

/** The town's answer: the asked conditions sorted by what its books say. */
export interface OwedAnswer {
  owed: string[];
  notOwed: string[];
  inDoubt: string[];
  /** Ask the ones in doubt again no sooner than this (a question that came too soon). */
  retryAfterMs?: number;
}

const HEX32 = /^[0-9a-f]{64}$/;

/**
 * Encodes a question: the conditions (hex) of the payments asked about.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { decodeOwedQuestion, encodeOwedQuestion } from "./payment_owed.ts";
 *
 * const question = encodeOwedQuestion(["ab".repeat(32)]);
 * assert.deepEqual(decodeOwedQuestion(question), ["ab".repeat(32)]);
 * ```
 * @throws {OwedMessageError} with more than {@linkcode MAX_OWED_QUESTION} conditions.
 */
export function encodeOwedQuestion(conditions: readonly string[]): Uint8Array {
  if (conditions.length > MAX_OWED_QUESTION) {
    throw new OwedMessageError(`more than ${MAX_OWED_QUESTION} conditions in a question`);
  }
  return encodeInDoubt("conditions", conditions);
}

/**
 * Decodes a question encoded by {@linkcode encodeOwedQuestion}; refuses anything else.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { decodeOwedQuestion } from "./payment_owed.ts";
 *
 * const tooMany = JSON.stringify({ conditions: Array(65).fill("ab".repeat(32)) });
 * assert.throws(() => decodeOwedQuestion(new TextEncoder().encode(tooMany)));
 * ```
 * @throws {OwedMessageError} on a malformed question or one too long.
 */
export function decodeOwedQuestion(data: Uint8Array): string[] {
  let conditions: string[];
  try {
    conditions = decodeInDoubt("conditions", data);
  } catch (err) {
    throw new OwedMessageError((err as Error).message.replace("payment-in-doubt", "payment-owed"));
  }
  if (conditions.length > MAX_OWED_QUESTION) {
    throw new OwedMessageError(`more than ${MAX_OWED_QUESTION} conditions in a question`);
  }
  return conditions;
}

/**
 * Encodes the town's answer.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { decodeOwedAnswer, encodeOwedAnswer } from "./payment_owed.ts";
 *
 * const answer = { owed: [], notOwed: ["ab".repeat(32)], inDoubt: [] };
 * assert.deepEqual(decodeOwedAnswer(encodeOwedAnswer(answer)), answer);
 * ```
 */
export function encodeOwedAnswer(answer: OwedAnswer): Uint8Array {
  const { owed, notOwed, inDoubt, retryAfterMs } = answer;
  return new TextEncoder().encode(
    JSON.stringify(
      retryAfterMs === undefined
        ? { owed, notOwed, inDoubt }
        : { owed, notOwed, inDoubt, retryAfterMs },
    ),
  );
}

/**
 * Decodes an answer encoded by {@linkcode encodeOwedAnswer}; refuses anything else.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { decodeOwedAnswer } from "./payment_owed.ts";
 *
 * assert.throws(() => decodeOwedAnswer(new TextEncoder().encode('{"owed": "all"}')));
 * ```
 * @throws {OwedMessageError} on a malformed answer.
 */
export function decodeOwedAnswer(data: Uint8Array): OwedAnswer {
  if (data.byteLength > 3 * MAX_OWED_QUESTION * 70 + 128) {
    throw new OwedMessageError("payment-owed answer too large");
  }
  let parsed: Record<string, unknown>;
  try {
    parsed = JSON.parse(new TextDecoder().decode(data));
  } catch {
    throw new OwedMessageError("payment-owed answer is not JSON");
  }
  const list = (field: "owed" | "notOwed" | "inDoubt"): string[] => {
    const values = parsed?.[field];
    if (!Array.isArray(values) || values.length > MAX_OWED_QUESTION) {
      throw new OwedMessageError(`payment-owed answer has no ${field} list`);
    }
    for (const v of values) {
      if (typeof v !== "string" || !HEX32.test(v)) {
        throw new OwedMessageError(`${field}: an entry is not 32 hex bytes`);
      }
    }
    return values as string[];
  };
  const answer: OwedAnswer = {
    owed: list("owed"),
    notOwed: list("notOwed"),
    inDoubt: list("inDoubt"),
  };
  const retry = parsed.retryAfterMs;
  if (retry !== undefined) {
    if (typeof retry !== "number" || !Number.isInteger(retry) || retry < 0 || retry > 3_600_000) {
      throw new OwedMessageError("payment-owed answer has a bad retryAfterMs");
    }
    answer.retryAfterMs = retry;
  }
  return answer;
}
