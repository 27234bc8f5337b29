/**
 * Whether the provider of a job in flight still beats (docs/PROTOCOL.md "Heartbeat"):
 * the profile's node reads the provider's newest heartbeat (kind 30315) from its towns, at most
 * once per {@linkcode LIVENESS_REFRESH_MS} per provider, and remembers the newest one it saw. A
 * provider whose heartbeat has expired (or that the towns no longer hold) is silent: the
 * `waiting` lines of its jobs say so, and for how long (roles/requester/job_heartbeat.ts), where
 * they said `waiting for the result` as for a provider at work.
 *
 * A town that cannot be read says nothing: the provider is taken as it was last seen.
 *
 * @module
 */
import type { NostrEvent } from "../../protocol/nostr_event.ts";
import { HEARTBEAT_KIND, isHeartbeatAlive } from "../../protocol/provider_heartbeat.ts";
import { queryRelays } from "../../transport/relay_query_many.ts";

/** How often a provider's heartbeat is read again while a job of its is followed. */
export const LIVENESS_REFRESH_MS = 5_000;

/** A provider's silence: how long since its newest heartbeat, when it has stopped beating. */
export interface ProviderSilence {
  /** Seconds since its newest heartbeat seen; absent when none was ever seen. */
  silentS?: number;
}

/** Options for {@linkcode providerLiveness}. */
export interface ProviderLivenessOptions {
  /** The towns' relay URLs. */
  relays: readonly string[];
  /** Reads heartbeats (default: one query of the towns, transport/relay_query_many.ts). */
  query?: (relays: readonly string[], provider: string) => Promise<NostrEvent[]>;
  /** Unix ms (tests). */
  now?: () => number;
  /** Default {@linkcode LIVENESS_REFRESH_MS}. */
  refreshMs?: number;
}

/** What is known of one provider. */
interface Known {
  checkedAtMs: number;
  /** Unix seconds of its newest heartbeat seen. */
  lastBeat?: number;
  alive: boolean;
}

/**
 * A provider's silence, or undefined while it beats: see the module doc.
 *
 * It reads towns: no example that runs here: tests/e2e/followed_job_liveness_test.ts.
 */
export function providerLiveness(
  o: ProviderLivenessOptions,
): (provider: string) => Promise<ProviderSilence | undefined> {
  const now = o.now ?? Date.now;
  const refreshMs = o.refreshMs ?? LIVENESS_REFRESH_MS;
  const query = o.query ??
    (async (relays: readonly string[], provider: string) =>
      (await queryRelays(relays, [{ kinds: [HEARTBEAT_KIND], authors: [provider], limit: 4 }], {
        timeoutMs: 3_000,
      })).events);
  const known = new Map<string, Known>();
  const reading = new Map<string, Promise<Known>>();
  const read = async (provider: string): Promise<Known> => {
    const before = known.get(provider);
    const nowSec = Math.floor(now() / 1000);
    try {
      const beats = (await query(o.relays, provider)).filter((e) =>
        e.kind === HEARTBEAT_KIND && e.pubkey === provider
      );
      const newest = Math.max(before?.lastBeat ?? 0, ...beats.map((e) => e.created_at));
      const next: Known = {
        checkedAtMs: now(),
        lastBeat: newest > 0 ? newest : undefined,
        alive: beats.some((e) => isHeartbeatAlive(e, nowSec)),
      };
      known.set(provider, next);
      return next;
    } catch {
      // The towns could not be read: the provider stays as last seen, asked again next time.
      return before ?? { checkedAtMs: 0, alive: true };
    }
  };
  return async (provider) => {
    let state = known.get(provider);
    if (state === undefined || now() - state.checkedAtMs >= refreshMs) {
      let pending = reading.get(provider);
      if (pending === undefined) {
        pending = read(provider).finally(() => reading.delete(provider));
        reading.set(provider, pending);
      }
      state = await pending;
    }
    if (state.alive) return undefined;
    return state.lastBeat === undefined
      ? {}
      : { silentS: Math.max(0, Math.floor(now() / 1000) - state.lastBeat) };
  };
}
