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
 * declare const event: Parameters<typeof isHeartbeatAlive>[0];
 * isHeartbeatAlive(event, Math.floor(Date.now() / 1000));
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
