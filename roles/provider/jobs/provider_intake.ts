/**
 * What comes into a provider from its towns (docs/ARCHITECTURE.md, "Pipelines and their
 * permissions"): one feed over every town of the profile carrying the job requests of its
 * skills' kinds, kind 5 deletions, and the kinds delivered to skills unpaid. Each event is
 * checked here (a request for other providers only is dropped before its signature is; the
 * others decoded, which verifies it) and routed: requests to admission, deletions to
 * cancellation, the rest to the skill that names its kind. The town each request was first found
 * on is remembered: its feedback and result fall back to it.
 *
 * A second feed follows the profile's plain relays (not towns, docs/PROTOCOL.md "Plain relays"):
 * requests of the skills' kinds only, no NIP-42 answer, messages up to 64 KiB, each request
 * through the {@linkcode PlainRelayGate} (author and relay rates, jobs open) before its
 * signature is checked. A request found there first is remembered as such: it is answered on
 * plain relays only, and its run waits behind every job from a town (run_queue.ts `behind`).
 *
 * @module
 */
import type { NodeSigner } from "../../../protocol/node_signer.ts";
import { authenticateWith } from "../../../protocol/nip42_auth.ts";
import type { NostrEvent } from "../../../protocol/nostr_event.ts";
import type { NostrFilter } from "../../../protocol/nostr_filter.ts";
import { isJobRequestKind } from "../../../protocol/nip90_job.ts";
import { decodeEventToon } from "../../../protocol/toon_codec.ts";
import { relayUrlKey } from "../../../protocol/relay_url_key.ts";
import type { StageLogEntry, SummaryChunk } from "../../../stages/chunks.ts";
import type { EventFeed } from "../../event_feed.ts";
import { openMultiTownFeed } from "../../multi_town_feed.ts";
import type { AlertKind } from "../../node_alerts.ts";
import type { EventDelivery } from "./event_delivery.ts";
import type { ProviderSkills } from "../skills/provider_skills.ts";
import { countDrop, type ProviderCounters } from "../provider_counters.ts";
import type { ProviderNodeOptions } from "../provider_options.ts";
import type { BackgroundWork } from "../background_work.ts";
import { PlainRelayGate, type PlainRelayGateOptions } from "./plain_relay_gate.ts";

/** How far before the job window delivered kinds are read (gift wraps back-date by 2 days). */
const DELIVERY_LOOKBACK_S = 3 * 86_400;
/** Largest message read from a plain relay: a request is far smaller. */
const PLAIN_MAX_MESSAGE_BYTES = 64 * 1024;

/** Options for {@linkcode ProviderIntake}. */
export interface ProviderIntakeOptions extends
  Pick<
    ProviderNodeOptions,
    | "relayUrl"
    | "moreTowns"
    | "plainRelays"
    | "maxAgeSec"
    | "addressedOnly"
    | "feedMode"
    | "feedStageModules"
  > {
  pubkey: string;
  /** Answers a town's NIP-42 challenge, for private request kinds and delivered kinds. */
  signer: Pick<NodeSigner, "signEvent">;
  skills: Pick<ProviderSkills, "announced" | "deliveryKinds" | "servableFor">;
  /** A job request, its signature checked. */
  onRequest: (event: NostrEvent, toon: string) => Promise<void>;
  /** A kind 5 deletion. */
  onDeletion: (event: NostrEvent) => Promise<void>;
  /** The plain relays' gate: whether a job taken is unfinished, and its limits. */
  plainGate: PlainRelayGateOptions;
  /** The delivery of non-job events, once open. */
  delivery: () => EventDelivery;
  /** The feed's description changed (a new feed). */
  onFeed: (description: string) => void;
  /** Raises an alert (a relay disconnected). */
  alert: (kind: AlertKind, message: string, details: Record<string, string>) => void;
  counters: ProviderCounters;
  work: Pick<BackgroundWork, "track" | "stopped" | "error">;
  log: (line: string) => void;
  markStatus: () => void;
}

/**
 * The feed of requests, cancellations and delivered kinds; see the module doc.
 *
 * It subscribes on a town: no example that runs here: tests/e2e/provider_admission_test.ts.
 */
export class ProviderIntake {
  #o: ProviderIntakeOptions;
  #feed?: EventFeed;
  /** The kinds delivered to skills (gift wraps): read authenticated, further back. */
  #privateFeed?: EventFeed;
  /** The plain relays' requests. */
  #plainFeed?: EventFeed;
  #gate: PlainRelayGate;
  /** Requests first found on a plain relay. */
  #outside = new Set<string>();
  #resubscribing: Promise<void> = Promise.resolve();
  /** The town each recent request was first found on (its writes' fallback). */
  #foundOn = new Map<string, string>();

  constructor(options: ProviderIntakeOptions) {
    this.#o = options;
    this.#gate = new PlainRelayGate(options.plainGate);
  }

  /** How the feed's stages run now; undefined between feeds. */
  get feedMode(): EventFeed["mode"] | undefined {
    return this.#feed?.mode;
  }

  /** The feed's stages and what each may do, in a line; undefined between feeds. */
  get feedDescription(): string | undefined {
    return this.#feed?.description;
  }

  /** The town a request was first found on, when it was not the home town. */
  foundOn(id: string): string | undefined {
    return this.#foundOn.get(id);
  }

  /** Whether the request `id` was found on a plain relay first (its run waits behind towns'). */
  fromPlainRelay(id: string): boolean {
    return this.#outside.has(id);
  }

  /**
   * The feed again with the skills as they are now. One at a time, the old feed closed first:
   * two feeds at once would hand the same request to admission twice.
   */
  resubscribe(): Promise<void> {
    const next = this.#resubscribing.then(async () => {
      const feeds = [this.#feed, this.#privateFeed, this.#plainFeed];
      this.#feed = this.#privateFeed = this.#plainFeed = undefined;
      for (const feed of feeds) await feed?.close().catch(() => {});
      await this.subscribe();
    });
    this.#resubscribing = next.catch(() => {});
    return next;
  }

  /** Closes the feed. */
  async close(): Promise<void> {
    await this.#feed?.close().catch(() => {});
    await this.#privateFeed?.close().catch(() => {});
    await this.#plainFeed?.close().catch(() => {});
  }

  /** Opens the feed of the skills' kinds (docs/ARCHITECTURE.md, "Pipelines and their permissions"). */
  async subscribe(): Promise<void> {
    const o = this.#o;
    if (o.work.stopped) return;
    const kinds = [...new Set(o.skills.announced().flatMap((s) => s.kinds))];
    // A margin past the max age, so requests just too old get an explicit, logged drop.
    const since = Math.floor(Date.now() / 1000) - (o.maxAgeSec ?? 600) - 60;
    const filters: NostrFilter[] = [{ kinds: [5], since }];
    if (kinds.length > 0) {
      filters.unshift(
        o.addressedOnly ? { kinds, "#p": [o.pubkey], since } : { kinds, since },
      );
    }
    // A town may keep request kinds private (NIP-42, docs/PROTOCOL.md "Private events"): both
    // feeds answer its challenge with the node's key, signed in this thread for the relay
    // source, whose worker holds no key (roles/event_feed.ts).
    const feed = await this.#openFeed(filters);
    const delivered = o.skills.deliveryKinds();
    // Gift wraps carry a created_at up to two days in the past (NIP-59): look back further;
    // the delivery log keeps each event to one delivery however often it comes back.
    const privateFeed = delivered.length === 0 ? undefined : await this.#openFeed(
      [{ kinds: delivered, "#p": [o.pubkey], since: since - DELIVERY_LOOKBACK_S }],
    );
    const plainFeed = kinds.length === 0 || !o.plainRelays?.length
      ? undefined
      : await this.#openPlainFeed([filters[0]]);
    if (o.work.stopped) {
      await privateFeed?.close();
      await plainFeed?.close();
      return await feed.close();
    }
    this.#feed = feed;
    this.#privateFeed = privateFeed;
    this.#plainFeed = plainFeed;
    o.onFeed(feed.description);
    for (const f of [feed, privateFeed]) {
      void f?.done.then(() => {
        // A feed ends on close, or when its stages gave up (a relay refusing us for good).
        if (!o.work.stopped && (this.#feed === f || this.#privateFeed === f)) {
          o.work.error(new Error("the feed of requests ended: no new jobs come in"));
          o.markStatus();
        }
      });
    }
  }

  #openFeed(filters: NostrFilter[]): Promise<EventFeed> {
    const o = this.#o;
    return openMultiTownFeed({
      relays: [o.relayUrl, ...(o.moreTowns ?? []).map((t) => t.relayUrl)],
      filters,
      mode: o.feedMode,
      stageModules: o.feedStageModules,
      authenticate: authenticateWith(o.signer),
      onEvent: (summary, relay) => this.#onFeedEvent(summary, relay),
      onLog: this.#onLog,
      onFailure: (f) => o.log(`feed: ${f.stage}: ${f.message}`),
    });
  }

  /** The plain relays' feed: requests only, unauthenticated, small messages, few remembered. */
  #openPlainFeed(filters: NostrFilter[]): Promise<EventFeed> {
    const o = this.#o;
    return openMultiTownFeed({
      relays: o.plainRelays!,
      filters,
      mode: o.feedMode,
      stageModules: o.feedStageModules,
      maxMessageBytes: PLAIN_MAX_MESSAGE_BYTES,
      maxSeen: 10_000,
      onEvent: (summary, relay) => this.#onPlainEvent(summary, relay),
      onLog: this.#onLog,
      onFailure: (f) => o.log(`plain relays' feed: ${f.stage}: ${f.message}`),
    });
  }

  /** A relay source's disconnects, CLOSED and NOTICE messages, logged (a disconnect alerted). */
  #onLog = (e: StageLogEntry, relay: string): void => {
    const o = this.#o;
    if (e.type === "closed" || e.type === "notice") {
      o.log(`relay ${relay} ${e.type}: ${e.message}`);
    } else if (e.type === "connecting" && e.attempt > 0) {
      // After a drop: when it subscribes again, and from when (docs/OPERATIONS.md).
      o.log(`relay ${relay} reconnecting (attempt ${e.attempt}, since ${e.since ?? "-"})`);
    } else if (e.type === "paused") {
      o.log(`relay ${relay} paused: the feed is behind`);
    } else if (e.type === "disconnected") {
      o.alert("relay-disconnected", `relay ${relay} disconnected`, {
        code: String(e.code),
        reason: String(e.reason),
      });
    }
  };

  /**
   * A request from a plain relay: its kind a request's, through the gate, then as a town's
   * (docs/PROTOCOL.md "Plain relays"). One found on a town first keeps its town.
   */
  async #onPlainEvent(summary: SummaryChunk, relay: string): Promise<void> {
    const o = this.#o;
    if (!isJobRequestKind(summary.kind)) return;
    if (summary.p.length > 0 && !summary.p.includes(o.pubkey)) {
      countDrop(o.counters, "other-provider");
      return o.markStatus();
    }
    const refusal = this.#gate.admit(relay, summary.pubkey, summary.id);
    if (refusal !== undefined) {
      countDrop(o.counters, "plain-relay-limit");
      o.markStatus();
      return o.log(`drop ${summary.id} from ${relay}: plain-relay-limit (${refusal})`);
    }
    // A turnpike requester posts to its towns first and names them in the request's `relays`
    // tag: one that names a town of ours is a town's job however it reached us first, answered
    // (and stored) on that town, never on the plain relays alone.
    let event: NostrEvent;
    try {
      event = decodeEventToon(summary.toon);
    } catch (err) {
      return o.log(`drop undecodable event: ${(err as Error).message}`);
    }
    const town = this.#townNamedBy(event);
    if (town === undefined && !this.#foundOn.has(summary.id)) {
      this.#outside.add(summary.id);
      if (this.#outside.size > 10_000) this.#outside.delete(this.#outside.values().next().value!);
    }
    await this.#onFeedEvent(summary, town ?? relay, event);
  }

  /** The first of this provider's towns a request's `relays` tag names, if any. */
  #townNamedBy(event: NostrEvent): string | undefined {
    const named = new Set(
      (event.tags.find((t) => t[0] === "relays")?.slice(1) ?? []).map(relayUrlKey),
    );
    const ours = [this.#o.relayUrl, ...(this.#o.moreTowns ?? []).map((t) => t.relayUrl)];
    return ours.find((url) => {
      const key = relayUrlKey(url);
      return key !== undefined && named.has(key);
    });
  }

  /** One event from the feed: verified here (a full decode checks the signature), then routed. */
  async #onFeedEvent(summary: SummaryChunk, relay?: string, decoded?: NostrEvent): Promise<void> {
    const o = this.#o;
    // A request addressed to other providers only is dropped before the full decode and the
    // signature check: its cost here must not grow with the number of providers on the town
    // (docs/ARCHITECTURE.md, "Pipelines and their permissions"). Counted, not logged: that is every other job.
    if (
      isJobRequestKind(summary.kind) && summary.p.length > 0 && !summary.p.includes(o.pubkey)
    ) {
      countDrop(o.counters, "other-provider");
      o.markStatus();
      return;
    }
    if (relay !== undefined && relay !== o.relayUrl && !this.#foundOn.has(summary.id)) {
      this.#foundOn.set(summary.id, relay);
      if (this.#foundOn.size > 10_000) this.#foundOn.delete(this.#foundOn.keys().next().value!);
    }
    let event: NostrEvent;
    try {
      event = decoded ?? decodeEventToon(summary.toon);
    } catch (err) {
      o.log(`drop undecodable event: ${(err as Error).message}`);
      return;
    }
    try {
      if (event.kind === 5) await o.onDeletion(event);
      else if (isJobRequestKind(event.kind)) await o.onRequest(event, summary.toon);
      else this.#deliver(event, summary.toon);
    } catch (err) {
      o.log(`error handling ${event.id}: ${(err as Error).message}`);
    }
  }

  /** Hands a non-job event to its skill in the background (bounded by EventDelivery). */
  #deliver(event: NostrEvent, toon: string): void {
    const skill = this.#o.skills.servableFor(event.kind);
    if (skill === undefined) return;
    this.#o.work.track(this.#o.delivery().deliver(event, toon, skill));
  }
}
