/**
 * What keeps `turnpike dash` current without polling: the state dir watched with
 * `Deno.watchFs` (a job file, the payment log, a channel or the provider's status file changes
 * and the local view is read again, coalesced over a few milliseconds), and one live relay
 * subscription to the providers and the window's job traffic (each new event recomputes the
 * network figures). A timer only re-evaluates what time alone changes (heartbeats expiring,
 * the window sliding); a dropped relay connection is retried.
 *
 * @module
 */
import type { NostrEvent } from "../protocol/nostr_event.ts";
import { HANDLER_KIND } from "../protocol/nip89_handler.ts";
import { HEARTBEAT_KIND } from "../protocol/provider_heartbeat.ts";
import { type RelaySubscription, subscribeRelay } from "../transport/relay_subscription.ts";
import {
  networkFilters,
  type NetworkSnapshot,
  snapshotOf,
} from "../roles/requester/network_snapshot.ts";
import type { LocalView } from "./dash_model.ts";
import { LocalViewCache } from "./dash_local_cache.ts";
import type { TownLink } from "./dash_view.ts";
import { type DashTown, probeTown, readTownWrites, withWrites } from "./dash_towns.ts";

/** How often the towns' rows (latency, writes paid) are refreshed, ms. */
export const DASH_TOWNS_REFRESH_MS = 10_000;

/** What the live source holds; a new object on every change. */
export interface DashState {
  local: LocalView;
  town: TownLink;
  /** Every town's row (dash_towns.ts), refreshed every {@linkcode DASH_TOWNS_REFRESH_MS}. */
  towns?: DashTown[];
  snapshot?: NetworkSnapshot;
  /** `performance.now()` of the change that produced this state. */
  changedAt: number;
}

/** Options for {@linkcode startDashLive}. */
export interface DashLiveOptions {
  stateDir: string;
  relayUrl: string;
  /** More towns followed too (`[towns.<name>]`): the network view is over all of them. */
  moreRelays?: string[];
  /** Network window, seconds. */
  windowSec: number;
  /** Called with each new state. */
  onChange: (state: DashState) => void;
  /** Coalescing delay for file changes, ms (default 2). */
  settleMs?: number;
  /** Delay before reconnecting to the relay, ms (default 2000). */
  retryMs?: number;
}

/** A running source. */
export interface DashLive {
  /** The current state. */
  state(): DashState;
  /** Reads the state dir again now (after an action of the dashboard's own). */
  refresh(): Promise<void>;
  stop(): void;
}

/** Heartbeat expiry and the window's slide are checked this often. */
const CLOCK_TICK_MS = 5000;

/**
 * Reads the state dir once, then keeps the state current until `stop()`.
 *
 * It subscribes to a town, so it has no example that runs here: tests/e2e/cli_test.ts
 */
export async function startDashLive(o: DashLiveOptions): Promise<DashLive> {
  const cache = await LocalViewCache.open(o.stateDir);
  let state: DashState = {
    local: cache.view(),
    town: { relayUrl: o.relayUrl, state: "connecting" },
    changedAt: performance.now(),
  };
  const set = (change: Partial<DashState>) => {
    state = { ...state, ...change, changedAt: performance.now() };
    o.onChange(state);
  };
  const files = watchStateDir(o, cache, (local) => set({ local }));
  const relay = followTowns(o, (town, snapshot) => set(snapshot ? { town, snapshot } : { town }));
  const relays = [...new Set([o.relayUrl, ...(o.moreRelays ?? [])])];
  let stopped = false;
  let rowsTimer: ReturnType<typeof setTimeout> | undefined;
  const refreshRows = async () => {
    const [towns, writes] = await Promise.all([
      Promise.all(relays.map((r) => probeTown(r))),
      readTownWrites(o.stateDir).catch(() => new Map<string, string>()),
    ]);
    if (stopped) return;
    set({ towns: withWrites(towns, writes) });
    rowsTimer = setTimeout(refreshRows, DASH_TOWNS_REFRESH_MS);
  };
  void refreshRows();
  return {
    state: () => state,
    refresh: async () => set({ local: (await LocalViewCache.open(o.stateDir)).view() }),
    stop() {
      stopped = true;
      if (rowsTimer !== undefined) clearTimeout(rowsTimer);
      files.stop();
      relay.stop();
    },
  };
}

function watchStateDir(
  o: DashLiveOptions,
  cache: LocalViewCache,
  onLocal: (local: LocalView) => void,
): { stop(): void } {
  const watcher = Deno.watchFs(o.stateDir, { recursive: true });
  let pending: string[] = [];
  let timer: ReturnType<typeof setTimeout> | undefined;
  let applying = Promise.resolve();
  const apply = () => {
    timer = undefined;
    const paths = pending;
    pending = [];
    // Applied one batch after another so an older read never overwrites a newer one.
    applying = applying.then(async () => {
      if (await cache.apply(paths)) onLocal(cache.view());
    }).catch(() => {});
  };
  (async () => {
    for await (const e of watcher) {
      pending.push(...e.paths);
      timer ??= setTimeout(apply, o.settleMs ?? 2);
    }
  })().catch(() => {});
  return {
    stop() {
      if (timer !== undefined) clearTimeout(timer);
      watcher.close();
    },
  };
}

/**
 * Follows every town (the home town's and `moreRelays`), each with its own events; the snapshot
 * is over their union (an event stored on several towns counts once), the town line the home
 * town's state, with the other towns that cannot be read named in its detail.
 */
function followTowns(
  o: DashLiveOptions,
  onTown: (town: TownLink, snapshot?: NetworkSnapshot) => void,
): { stop(): void } {
  const relays = [...new Set([o.relayUrl, ...(o.moreRelays ?? [])])];
  if (relays.length === 1) return followRelay(o, o.relayUrl, new Map(), onTown, () => []);
  const maps = relays.map(() => new Map<string, NostrEvent>());
  const states = new Map<string, TownLink>();
  const union = () => {
    const all = new Map<string, NostrEvent>();
    for (const m of maps) for (const [id, e] of m) all.set(id, e);
    return [...all.values()];
  };
  const label = `${o.relayUrl} (+${relays.length - 1} more towns)`;
  const report = (snapshot?: NetworkSnapshot) => {
    const home = states.get(o.relayUrl) ?? { relayUrl: o.relayUrl, state: "connecting" };
    const down = relays.filter((r) => r !== o.relayUrl && states.get(r)?.state === "unreachable");
    const detail = [home.detail, down.length > 0 ? `unreachable: ${down.join(", ")}` : undefined]
      .filter((d) => d !== undefined).join("; ");
    onTown({ ...home, relayUrl: label, detail: detail || undefined }, snapshot);
  };
  const followers = relays.map((relay, i) =>
    followRelay(o, relay, maps[i], (town, snapshot) => {
      states.set(relay, town);
      report(snapshot);
    }, union)
  );
  return { stop: () => followers.forEach((f) => f.stop()) };
}

function followRelay(
  o: DashLiveOptions,
  relayUrl: string,
  events: Map<string, NostrEvent>,
  onTown: (town: TownLink, snapshot?: NetworkSnapshot) => void,
  others: () => NostrEvent[],
): { stop(): void } {
  let sub: RelaySubscription | undefined;
  let retry: ReturnType<typeof setTimeout> | undefined;
  let synced = false;
  let stopped = false;
  const compute = () => {
    const nowSec = Math.floor(Date.now() / 1000);
    const sinceSec = nowSec - o.windowSec;
    for (const [id, e] of events) {
      const kept = e.kind === HANDLER_KIND || e.kind === HEARTBEAT_KIND;
      if (!kept && e.created_at < sinceSec) events.delete(id);
    }
    const all = others();
    onTown(
      { relayUrl, state: "connected" },
      snapshotOf(all.length > 0 ? all : [...events.values()], {
        sinceSec,
        nowSec,
      }),
    );
  };
  const connect = () => {
    synced = false;
    events.clear();
    const sinceSec = Math.floor(Date.now() / 1000) - o.windowSec;
    sub = subscribeRelay(relayUrl, networkFilters(sinceSec, 500), {
      onEvent: (e) => {
        events.set(e.id, e);
        if (synced) compute();
      },
      onEose: () => {
        synced = true;
        compute();
      },
      onClose: (reason) => {
        if (stopped) return;
        onTown({ relayUrl, state: "unreachable", detail: reason });
        retry = setTimeout(connect, o.retryMs ?? 2000);
      },
    });
  };
  connect();
  const tick = setInterval(() => synced && compute(), CLOCK_TICK_MS);
  return {
    stop() {
      stopped = true;
      clearInterval(tick);
      if (retry !== undefined) clearTimeout(retry);
      sub?.close();
    },
  };
}
