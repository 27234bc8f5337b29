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
 * of the asking account's packets: the BTP session is the authentication. A provider names, per
 * condition, the expiry of the PREPARE its income fulfilled (`"paidExpiresAt": [<unix ms> | null,
 * ...]`, null where its income has none): a town of several processes answers `notOwed` only of
 * that packet, not of another packet of the same condition it refused (docs/PROTOCOL.md "A
 * payment in doubt on another process"). A town that does not read the list answers as before.
 *
 * A payer asks too, of a payment it sent that is in doubt (docs/PROTOCOL.md "The town's word on a
 * payment in doubt"): the question names the packets' destination and their PREPARE's expiry,
 * `"to": "<ILP address>", "expiresAt": <unix ms>`, and the town answers, once that expiry is past
 * on its own clock, of the packets it forwarded to that child: `notOwed` (rejected, or never
 * forwarded, on one process) means no money moved for it; anything else is `inDoubt` (a payer
 * learns nothing of another's books beyond whether a packet it holds the condition of was
 * refused or never came).
 *
 * @module
 */
import { ProtocolError } from "./protocol_error.ts";
import { isIlpAddress } from "./peer_info.ts";

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

/** A payer's question: of the packets it sent to `to`, whose PREPARE expired at `expiresAt`. */
export interface PayerQuestion {
  /** The packets' destination: the town answers of its forwards to the child it names. */
  to: string;
  /** When the packets' PREPARE expired (unix ms): the town answers once that is past. */
  expiresAt: number;
}

/** A question: the conditions (hex) asked about, and a payer's destination and expiry. */
export interface OwedQuestion {
  conditions: string[];
  /** A payer asks (docs/PROTOCOL.md "The town's word on a payment in doubt"). */
  payer?: PayerQuestion;
  /**
   * A provider asks: per condition, the expiry (unix ms) of the PREPARE its income fulfilled,
   * null where its income does not say it.
   */
  paidExpiresAt?: (number | null)[];
}

/** What a question says besides its conditions ({@linkcode encodeOwedQuestion}). */
export type OwedQuestionOptions = Omit<OwedQuestion, "conditions">;

/**
 * Encodes a question: the conditions (hex) of the payments asked about; `payer`: a payer's
 * question, of the packets it sent to that destination with that expiry; `paidExpiresAt`: a
 * provider's, the expiry of each PREPARE it fulfilled.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { decodeOwedQuestion, encodeOwedQuestion } from "./payment_owed.ts";
 *
 * const question = encodeOwedQuestion(["ab".repeat(32)]);
 * assert.deepEqual(decodeOwedQuestion(question), { conditions: ["ab".repeat(32)] });
 * const payer = { to: "g.town.beta.job1", expiresAt: 1_700_000_000_000 };
 * assert.deepEqual(
 *   decodeOwedQuestion(encodeOwedQuestion(["ab".repeat(32)], { payer })).payer,
 *   payer,
 * );
 * const paid = encodeOwedQuestion(["ab".repeat(32)], { paidExpiresAt: [1_700_000_000_000] });
 * assert.deepEqual(decodeOwedQuestion(paid).paidExpiresAt, [1_700_000_000_000]);
 * ```
 * @throws {OwedMessageError} with more than {@linkcode MAX_OWED_QUESTION} conditions, or a
 * condition, destination or expiry that is not one.
 */
export function encodeOwedQuestion(
  conditions: readonly string[],
  options: OwedQuestionOptions = {},
): Uint8Array {
  const { payer, paidExpiresAt } = options;
  checkQuestion(conditions, payer, paidExpiresAt);
  return new TextEncoder().encode(JSON.stringify({
    conditions,
    ...payer,
    ...(paidExpiresAt === undefined ? {} : { paidExpiresAt }),
  }));
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
export function decodeOwedQuestion(data: Uint8Array): OwedQuestion {
  if (data.byteLength > MAX_OWED_QUESTION * 86 + 1100) {
    throw new OwedMessageError("payment-owed question too large");
  }
  let parsed: Record<string, unknown> | null;
  try {
    parsed = JSON.parse(new TextDecoder().decode(data));
  } catch {
    throw new OwedMessageError("payment-owed question is not JSON");
  }
  const conditions = parsed?.conditions;
  if (!Array.isArray(conditions)) {
    throw new OwedMessageError("payment-owed question has no conditions list");
  }
  const { to, expiresAt, paidExpiresAt } = parsed ?? {};
  if (to === undefined && expiresAt === undefined) {
    if (paidExpiresAt === undefined) {
      checkQuestion(conditions);
      return { conditions };
    }
    if (!Array.isArray(paidExpiresAt)) {
      throw new OwedMessageError("payment-owed question's paidExpiresAt is not a list");
    }
    checkQuestion(conditions, undefined, paidExpiresAt);
    return { conditions, paidExpiresAt };
  }
  if (typeof to !== "string" || typeof expiresAt !== "number") {
    throw new OwedMessageError("payment-owed question: a payer's needs to and expiresAt");
  }
  const payer = { to, expiresAt };
  checkQuestion(conditions, payer);
  return { conditions, payer };
}

/**
 * Throws unless the conditions are at most {@linkcode MAX_OWED_QUESTION} of 32 hex bytes, with a
 * payer's destination and expiry, or a provider's expiries (one a condition, a time or null).
 */
function checkQuestion(
  conditions: readonly unknown[],
  payer?: PayerQuestion,
  paidExpiresAt?: readonly unknown[],
): void {
  if (conditions.length > MAX_OWED_QUESTION) {
    throw new OwedMessageError(`more than ${MAX_OWED_QUESTION} conditions in a question`);
  }
  for (const c of conditions) {
    if (typeof c !== "string" || !HEX32.test(c)) {
      throw new OwedMessageError("conditions: an entry is not 32 hex bytes");
    }
  }
  if (paidExpiresAt !== undefined) {
    if (payer !== undefined || paidExpiresAt.length !== conditions.length) {
      throw new OwedMessageError("payment-owed question's paidExpiresAt is not one a condition");
    }
    for (const at of paidExpiresAt) {
      if (at !== null && !isTime(at)) {
        throw new OwedMessageError("payment-owed question's paidExpiresAt: an entry is not a time");
      }
    }
  }
  if (payer === undefined) return;
  if (!isIlpAddress(payer.to)) {
    throw new OwedMessageError("payment-owed question's to is not an ILP address");
  }
  if (!isTime(payer.expiresAt)) {
    throw new OwedMessageError("payment-owed question's expiresAt is not a time");
  }
}

/** A unix time in ms. */
function isTime(value: unknown): value is number {
  return Number.isSafeInteger(value) && (value as number) >= 0;
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
