/**
 * An EVENT sent over a town's WebSocket (roles/town/relay/nip01_session.ts): the town's owner's
 * is verified, stored and published; anyone else's is refused `payment-required`, with the
 * price of that event (writes are paid with ILP, docs/PROTOCOL.md), or `invalid` when it could
 * never be stored. Every answer is one `OK`.
 *
 * @module
 */
import { EventValidationError, verifyEvent } from "../../../protocol/event_verifier.ts";
import type { NostrEvent } from "../../../protocol/nostr_event.ts";
import { priceToon, type RelayPricing } from "../../../protocol/relay_pricing.ts";
import { encodeEventToon } from "../../../protocol/toon_codec.ts";
import type { TownStore } from "../../../state/events/town_store.ts";
import type { SubscriptionHub } from "./subscription_hub.ts";
import type { TownCounters } from "../town_metrics.ts";
import type { TownLimits } from "../../../config/town_limits.ts";
import { checkCreatedAt, CreatedAtOutOfWindowError } from "../write/created_at_window.ts";
import type { ReadBudget } from "./read_budget.ts";

/** Options for {@linkcode answerEvent}. */
export interface SessionEventOptions {
  store: TownStore;
  hub: SubscriptionHub;
  limits: TownLimits;
  counters: TownCounters;
  /** Hex pubkey whose events are accepted (verified) and stored without payment. */
  ownerPubkey?: string;
  /** ILP address that paid writes go to (named in the `payment-required` answer). */
  ilpAddress: string;
  pricing: RelayPricing;
  /** The town's read budget: a stranger's signature check is charged to it. */
  budget: ReadBudget;
  /** The connection, the budget's client. */
  client: object;
  /** Sends `["OK", id, accepted, message]`. */
  ok(id: string, accepted: boolean, message: string): void;
}

/**
 * Answers one EVENT with its `OK`; a promise while the owner's event is being stored.
 *
 * It needs a session's socket: no example that runs here:
 * tests/interop/nostr_tools_town_read_test.ts.
 */
export function answerEvent(event: NostrEvent, o: SessionEventOptions): Promise<void> | void {
  try {
    checkCreatedAt(event.created_at, o.limits);
  } catch (err) {
    if (err instanceof CreatedAtOutOfWindowError) {
      o.counters.createdAtRefusedTotal++;
      return o.ok(event.id, false, `invalid: ${err.message}`);
    }
    throw err;
  }
  if (o.ownerPubkey === undefined || event.pubkey !== o.ownerPubkey.toLowerCase()) {
    // An event that is not valid is told so, not quoted a price it could never be stored
    // for. Its signature check is read work: charged to the shared budget, and skipped
    // (the paid path checks it anyway) while that budget is spent.
    if (o.budget.hasTime()) {
      const started = performance.now();
      try {
        verifyEvent(event);
      } catch (err) {
        const reason = err instanceof EventValidationError ? err.reason : "bad event";
        return o.ok(event.id, false, `invalid: ${reason}`);
      } finally {
        o.budget.charge(performance.now() - started, o.client);
      }
    }
    o.counters.paymentRequiredTotal++;
    return o.ok(event.id, false, paymentRequired(event, o.ilpAddress, o.pricing));
  }
  return storeOwnerEvent(event, o);
}

function paymentRequired(event: NostrEvent, ilpAddress: string, pricing: RelayPricing): string {
  const perByte = pricing.pricePerByte ?? 10n;
  let quote = "";
  try {
    const toon = encodeEventToon(event);
    const bytes = new TextEncoder().encode(toon).byteLength;
    quote = `; this event is ${bytes} TOON bytes = ${priceToon(toon, event, pricing)} units`;
  } catch {
    // Not encodable (e.g. lone surrogates): no quote, the write side would refuse it anyway.
  }
  return `payment-required: writes are paid with ILP: send the event as TOON in an ILP ` +
    `PREPARE to ${ilpAddress}, ${perByte} units per TOON byte${quote}`;
}

async function storeOwnerEvent(event: NostrEvent, o: SessionEventOptions): Promise<void> {
  try {
    verifyEvent(event);
  } catch (err) {
    const reason = err instanceof EventValidationError ? err.reason : "bad event";
    return o.ok(event.id, false, `invalid: ${reason}`);
  }
  let toon: string;
  let status;
  try {
    toon = encodeEventToon(event);
    status = (await o.store.insert(event, toon)).status;
  } catch (err) {
    if (err instanceof EventValidationError) {
      return o.ok(event.id, false, `invalid: ${err.message}`);
    }
    return o.ok(event.id, false, "error: could not store the event");
  }
  switch (status) {
    case "stored":
    case "replaced":
    case "ephemeral":
      o.counters.ownerEventsStoredTotal++;
      o.ok(event.id, true, "");
      o.hub.publish(event, toon);
      return;
    case "duplicate":
      return o.ok(event.id, true, "duplicate: already have this event");
    case "rejected-deleted":
      return o.ok(event.id, false, "blocked: this event was deleted by its author");
    case "rejected-stale":
      return o.ok(event.id, false, "invalid: a newer version of this event is stored");
    case "rejected-expired":
      return o.ok(event.id, false, "invalid: this event has expired (NIP-40)");
  }
}
