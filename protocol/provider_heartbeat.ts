/**
 * A provider's heartbeat: a NIP-38 user status (kind 30315, addressable by its `d` tag) with a
 * NIP-40 `expiration` a few periods ahead, so "online" needs no clock agreement beyond that.
 *
 * @module
 */
import type { NostrEvent } from "./nostr_event.ts";

/** Kind of a provider's heartbeat. */
export const HEARTBEAT_KIND = 30315;

/**
 * True when the heartbeat has not expired at `nowSec`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { HEARTBEAT_KIND, isHeartbeatAlive } from "./provider_heartbeat.ts";
 *
 * const event = { kind: HEARTBEAT_KIND, tags: [["expiration", "1700000060"]] };
 * assert(isHeartbeatAlive(event, 1_700_000_000));
 * assert(!isHeartbeatAlive(event, 1_700_000_060));
 * ```
 */
export function isHeartbeatAlive(
  event: Pick<NostrEvent, "kind" | "tags">,
  nowSec: number,
): boolean {
  if (event.kind !== HEARTBEAT_KIND) return false;
  const expiration = Number(event.tags.find((t) => t[0] === "expiration")?.[1]);
  return Number.isFinite(expiration) && expiration > nowSec;
}
