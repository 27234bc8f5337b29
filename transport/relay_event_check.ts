/**
 * The check a reader applies to each event a relay sends (docs/ARCHITECTURE.md "The NIP-01
 * client"): the id and signature are verified, in JSON or Crosstown TOON form, and the event is
 * matched against the filters asked for. What fails is not handed on; the reason says why, so a
 * caller can tell "the relay has nothing" from "the relay served something forged".
 *
 * @module
 */
import type { NostrEvent } from "../protocol/nostr_event.ts";
import type { RelayEventMessage } from "../protocol/nip01_message.ts";
import { matchFilters, type NostrFilter } from "../protocol/nostr_filter.ts";
import { EventValidationError, verifyEvent } from "../protocol/event_verifier.ts";
import { decodeEventToon, ToonDecodeError } from "../protocol/toon_codec.ts";

/** An event the relay sent that was not returned, and why. */
export interface RejectedRelayEvent {
  /** The event id when one could be read. */
  id?: string;
  /** The claimed author when one could be read. */
  pubkey?: string;
  /** `bad-id`, `bad-sig`, `bad-shape:<field>`, `bad-toon`, `not-matching`. */
  reason: string;
}

/** What {@linkcode checkRelayEvent} found: the event, or why it was not taken. */
export type RelayEventCheck = { event: NostrEvent } | { rejected: RejectedRelayEvent };

/**
 * Verifies the event of an EVENT message (TOON text decoded with at most `maxBytes`) and matches
 * it against `filters`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { finalizeEvent, generateSecretKey } from "nostr-tools/pure";
 * import { checkRelayEvent } from "./relay_event_check.ts";
 *
 * const event = finalizeEvent(
 *   { kind: 7000, created_at: 1, tags: [], content: "" },
 *   generateSecretKey(),
 * );
 * const check = checkRelayEvent({ type: "EVENT", subId: "s1", event }, [{ kinds: [7000] }], 1 << 20);
 * assert("event" in check && check.event.id === event.id);
 * const other = checkRelayEvent({ type: "EVENT", subId: "s1", event }, [{ kinds: [1] }], 1 << 20);
 * assert("rejected" in other && other.rejected.reason === "not-matching");
 * ```
 */
export function checkRelayEvent(
  message: RelayEventMessage,
  filters: readonly NostrFilter[],
  maxBytes: number,
): RelayEventCheck {
  let event: NostrEvent;
  try {
    if (message.toon !== undefined) {
      event = decodeEventToon(message.toon, { maxBytes });
    } else {
      event = message.event;
      verifyEvent(event);
    }
  } catch (err) {
    if (err instanceof EventValidationError || err instanceof ToonDecodeError) {
      const reason = err instanceof ToonDecodeError ? "bad-toon" : err.reason;
      const claimed = message.event === undefined
        ? {}
        : { id: message.event.id, pubkey: message.event.pubkey };
      return { rejected: { ...claimed, reason } };
    }
    throw err;
  }
  if (!matchFilters(event, filters)) {
    return { rejected: { id: event.id, pubkey: event.pubkey, reason: "not-matching" } };
  }
  return { event };
}
