/**
 * The checks of the town's paid write pipeline, one small function each, in the order the
 * pipeline runs them (cheap and payment-independent first, so a malformed event is refused
 * before any money is looked at): size (F08) -> shallow TOON scan (F06) -> full decode (F06) ->
 * id and signature (F06) -> price (F04). Each throws {@linkcode TownWriteRejection}.
 *
 * @module
 */
import { ILP_ERROR } from "../../../protocol/ilp_packet.ts";
import { extractSummary, type ToonSummary } from "../../../protocol/kind_extractor.ts";
import { ToonShallowParseError } from "../../../protocol/kind_extractor.ts";
import { decodeEventToon, ToonDecodeError } from "../../../protocol/toon_codec.ts";
import { EventValidationError } from "../../../protocol/event_verifier.ts";
import type { NostrEvent } from "../../../protocol/nostr_event.ts";
import {
  priceEvent,
  type RelayPricing,
  RelayPricingError,
} from "../../../protocol/relay_pricing.ts";
import { TownWriteRejection } from "./write_rejection.ts";
import type { VerifyOptions, WriteVerifierPool } from "./write_verifier_pool.ts";

const utf8 = new TextDecoder("utf-8", { fatal: true });

/**
 * Refuses packet data over the event size limit (F08).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { checkEventSize } from "./write_checks.ts";
 *
 * checkEventSize(new Uint8Array(100), 1024);
 * assert.throws(() => checkEventSize(new Uint8Array(2048), 1024)); // F08 when larger
 * ```
 */
export function checkEventSize(data: Uint8Array, maxBytes: number): void {
  if (data.byteLength > maxBytes) {
    throw new TownWriteRejection(
      ILP_ERROR.amountTooLarge,
      `event too large: ${data.byteLength} bytes, the limit is ${maxBytes}`,
    );
  }
  if (data.byteLength === 0) {
    throw new TownWriteRejection(ILP_ERROR.unexpectedPayment, "invalid event: empty data");
  }
}

/** The TOON text and its shallow summary. */
export interface ShallowEvent {
  text: string;
  summary: ToonSummary;
}

/**
 * Decodes the bytes as UTF-8 and scans the TOON shallowly (kind, id, pubkey); F06 on failure.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { shallowParse } from "./write_checks.ts";
 * import { DEFAULT_MAX_EVENT_BYTES } from "../../../config/town_settings.ts";
 * import { encodeEventToon } from "../../../protocol/toon_codec.ts";
 * import { finalizeEvent, generateSecretKey } from "nostr-tools/pure";
 *
 * const signed = finalizeEvent({ kind: 1, created_at: 1, tags: [], content: "hi" }, generateSecretKey());
 * const data = new TextEncoder().encode(encodeEventToon(signed)); // a PREPARE's data
 * const { text, summary } = shallowParse(data, DEFAULT_MAX_EVENT_BYTES);
 * assert(summary.kind === 1 && summary.pubkey === signed.pubkey);
 * ```
 */
export function shallowParse(data: Uint8Array, maxBytes: number): ShallowEvent {
  let text: string;
  try {
    text = utf8.decode(data);
  } catch {
    throw new TownWriteRejection(
      ILP_ERROR.unexpectedPayment,
      "invalid event: data is not UTF-8 TOON",
    );
  }
  try {
    return { text, summary: extractSummary(text, { maxBytes }) };
  } catch (err) {
    if (err instanceof ToonShallowParseError) {
      throw new TownWriteRejection(
        ILP_ERROR.unexpectedPayment,
        `invalid event: malformed TOON: ${err.message}`,
      );
    }
    throw err;
  }
}

/**
 * Fully decodes the TOON (no signature check yet: see {@linkcode checkSignature}); the decoded
 * event must agree with the shallow summary (it always should: a disagreement means the scanner
 * was fooled). F06.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { decodeEvent, shallowParse } from "./write_checks.ts";
 * import { DEFAULT_MAX_EVENT_BYTES } from "../../../config/town_settings.ts";
 * import { encodeEventToon } from "../../../protocol/toon_codec.ts";
 * import { finalizeEvent, generateSecretKey } from "nostr-tools/pure";
 *
 * const signed = finalizeEvent({ kind: 1, created_at: 1, tags: [], content: "hi" }, generateSecretKey());
 * const data = new TextEncoder().encode(encodeEventToon(signed)); // a PREPARE's data
 * const shallow = shallowParse(data, DEFAULT_MAX_EVENT_BYTES);
 * const event = decodeEvent(shallow, DEFAULT_MAX_EVENT_BYTES);
 * assert(event.id === signed.id);
 * ```
 */
export function decodeEvent(shallow: ShallowEvent, maxBytes: number): NostrEvent {
  let event: NostrEvent;
  try {
    event = decodeEventToon(shallow.text, { maxBytes, verify: false });
  } catch (err) {
    if (err instanceof EventValidationError) {
      throw new TownWriteRejection(ILP_ERROR.unexpectedPayment, `invalid event: ${err.message}`);
    }
    if (err instanceof ToonDecodeError) {
      throw new TownWriteRejection(
        ILP_ERROR.unexpectedPayment,
        `invalid event: malformed TOON: ${err.message}`,
      );
    }
    throw err;
  }
  const s = shallow.summary;
  if (event.kind !== s.kind || event.id !== s.id || event.pubkey !== s.pubkey) {
    throw new TownWriteRejection(
      ILP_ERROR.unexpectedPayment,
      "invalid event: shallow and full parse disagree",
    );
  }
  return event;
}

/**
 * Checks id and signature (through the verifier pool; `concurrent`: other writes are under
 * way, see {@linkcode VerifyOptions}): F06 when wrong, T00 when the
 * verifier itself is unavailable (never a wrong answer about the event).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { finalizeEvent, generateSecretKey } from "nostr-tools/pure";
 * import { checkSignature } from "./write_checks.ts";
 * import { WriteVerifierPool } from "./write_verifier_pool.ts";
 *
 * const event = finalizeEvent(
 *   { kind: 1, created_at: Math.floor(Date.now() / 1000), tags: [], content: "hi" },
 *   generateSecretKey(),
 * );
 * const pool = new WriteVerifierPool({ workers: 0 });
 * await checkSignature(event, pool);
 * await assert.rejects(checkSignature({ ...event, content: "changed" }, pool)); // F06
 * pool.close();
 * ```
 */
export async function checkSignature(
  event: NostrEvent,
  pool: WriteVerifierPool,
  options: VerifyOptions = {},
): Promise<void> {
  try {
    await pool.verify(event, options);
  } catch (err) {
    if (err instanceof EventValidationError) {
      if (err.reason === "verifier-unavailable") {
        throw new TownWriteRejection(
          ILP_ERROR.internalError,
          `signature verifier unavailable: ${err.message}`,
        );
      }
      throw new TownWriteRejection(ILP_ERROR.unexpectedPayment, `invalid event: ${err.message}`);
    }
    throw err;
  }
}

/** Options for {@linkcode checkPayment}. */
export interface CheckPaymentOptions {
  /** The PREPARE's amount, uint64 decimal. */
  amount: string;
  /** TOON bytes of the event. */
  toonByteLength: number;
  pricing: RelayPricing;
}

/**
 * Refuses an underpaid write (F04); the message names the required amount. Returns the price.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { checkPayment, shallowParse } from "./write_checks.ts";
 * import { DEFAULT_MAX_EVENT_BYTES } from "../../../config/town_settings.ts";
 * import { encodeEventToon } from "../../../protocol/toon_codec.ts";
 * import { finalizeEvent, generateSecretKey } from "nostr-tools/pure";
 *
 * const signed = finalizeEvent({ kind: 1, created_at: 1, tags: [], content: "hi" }, generateSecretKey());
 * const data = new TextEncoder().encode(encodeEventToon(signed)); // a PREPARE's data
 * const { summary } = shallowParse(data, DEFAULT_MAX_EVENT_BYTES);
 * const pricing = { pricePerByte: 10n };
 * const price = checkPayment(summary, { amount: "1000000", toonByteLength: data.byteLength, pricing });
 * assert(price === 10n * BigInt(data.byteLength));
 * ```
 */
export function checkPayment(
  summary: Pick<ToonSummary, "kind" | "pubkey">,
  options: CheckPaymentOptions,
): bigint {
  let price: bigint;
  try {
    price = priceEvent(
      { kind: summary.kind, pubkey: summary.pubkey, toonByteLength: options.toonByteLength },
      options.pricing,
    );
  } catch (err) {
    if (err instanceof RelayPricingError) {
      throw new TownWriteRejection(ILP_ERROR.internalError, err.message);
    }
    throw err;
  }
  if (BigInt(options.amount) < price) {
    throw new TownWriteRejection(
      ILP_ERROR.insufficientDestinationAmount,
      `underpaid: required ${price} for ${options.toonByteLength} TOON bytes of kind ` +
        `${summary.kind}, received ${options.amount}`,
    );
  }
  return price;
}
