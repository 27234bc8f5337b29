/**
 * The provider's announcer: what a provider tells the network about itself, as paid writes to
 * its town. Its kind 10032 peer info (ILP address, BTP endpoint, asset) and its NIP-89 kind
 * 31990 handler announcement (the job kinds and the quoted price of each skill) go out at start,
 * on every change of the skills, and every `refreshMs`. A NIP-38 style heartbeat goes out every
 * `heartbeatMs` and expires after three periods. All three cost money, so what they cost per day
 * is kept for the operator (docs/OPERATIONS.md, "Running a provider").
 *
 * @module
 */
import type { HandlerModelPreset } from "../../protocol/handler_models.ts";
import { buildRelayList } from "../../protocol/nip65_relay_list.ts";
import type { EventTemplate, NostrEvent } from "../../protocol/nostr_event.ts";
import { buildPeerInfo } from "../../protocol/peer_info.ts";
import { buildHandlerAnnouncement } from "../../protocol/nip89_handler.ts";
import { HEARTBEAT_KIND } from "../../protocol/provider_heartbeat.ts";

/** `d` tag of the heartbeat and of the 31990 announcement. */
export const PROVIDER_D_TAG = "turnpike-provider";

/**
 * Default heartbeat period: 1 h, each beat expiring after three periods. A beat is a paid write
 * (427 bytes: at the default price 4,270 units, 18.4 M a day at 20 s), so beating fast is the
 * operator's choice: `heartbeat = 20` shows a stopped provider offline within a minute and no
 * requester picks it (docs/PROTOCOL.md "Heartbeat"). An addressable event: the town keeps one.
 */
export const DEFAULT_HEARTBEAT_MS = 3_600_000;
/** Default refresh of the announcements (10032, 31990): 24 h, besides every skills change. */
export const DEFAULT_REFRESH_MS = 86_400_000;

/** A skill as announced: its job request kinds and what a job costs (base units). */
export interface AnnouncedSkill {
  name: string;
  kinds: number[];
  price: string;
  /**
   * An agent-task skill's presets: name, price and most model spend per job (base units), and
   * the agent's wall time in seconds.
   */
  agents?: { name: string; price: string; budget: string; host?: boolean; timeout?: number }[];
  /** An agent-task skill takes a new base as a delta (docs/PROTOCOL.md "A new base as a delta"). */
  repoDeltas?: true;
  /** A text-generation skill's model presets (protocol/handler_models.ts). */
  models?: HandlerModelPreset[];
}

/** Options for {@linkcode ProviderAnnouncer}. */
export interface ProviderAnnouncerOptions {
  /** Signs and sends one event as a paid write; resolves once the town accepted it. */
  publish: (template: EventTemplate) => Promise<NostrEvent>;
  /** What the provider has spent on writes so far (base units): costs are read around writes. */
  spent: () => bigint;
  ilpAddress: string;
  /** BTP endpoint others may reach this provider at (10032, informational). */
  btpEndpoint: string;
  assetCode: string;
  assetScale: number;
  /**
   * The towns the provider is on, when several: announced with the rest as its NIP-65 relay list
   * (kind 10002, protocol/nip65_relay_list.ts).
   */
  relays?: string[];
  /** The 31990's metadata name and about (default: "turnpike-provider", the skills listed). */
  name?: string;
  about?: string;
  heartbeatMs?: number;
  refreshMs?: number;
  /** The skills served now, with their quoted prices; read as each announcement is built. */
  skills: () => AnnouncedSkill[];
  /** Unfinished jobs, for the heartbeat's text. */
  inFlight: () => number;
  /** Something was published: the announcer's getters changed. */
  onChange?: () => void;
  /** A periodic write failed (the next period tries again). */
  onError: (err: Error) => void;
  /** Clock, ms (tests). */
  now?: () => number;
}

/**
 * Announces a provider; see the module doc.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { finalizeEvent, generateSecretKey } from "nostr-tools/pure";
 * import { ProviderAnnouncer } from "./announcer.ts";
 *
 * // The provider's paid writes to its town (its TownClient's publish), here signed and kept.
 * const key = generateSecretKey();
 * const published: number[] = [];
 * const announcer = new ProviderAnnouncer({
 *   publish: (t) => {
 *     published.push(t.kind);
 *     return Promise.resolve(finalizeEvent(t, key));
 *   },
 *   spent: () => 0n,
 *   ilpAddress: "g.town.provider",
 *   btpEndpoint: "btp+ws://127.0.0.1:7768",
 *   assetCode: "USD",
 *   assetScale: 6,
 *   skills: () => [{ name: "echo", kinds: [5100], price: "25000" }],
 *   inFlight: () => 0,
 *   onError: (err) => assert.fail(err),
 * });
 * await announcer.start();
 * announcer.stop();
 * // ILP peer info (10032), the NIP-89 handler (31990), then a heartbeat.
 * assert.deepEqual(published.slice(0, 2).sort(), [10032, 31990]);
 * assert.equal(published.length, 3);
 * ```
 */
export class ProviderAnnouncer {
  #o: ProviderAnnouncerOptions;
  #now: () => number;
  #queue: Promise<void> = Promise.resolve();
  /** created_at of the last announcement (unix seconds). */
  #announcedAt = 0;
  #cost = { heartbeat: 0n, announce: 0n };
  #intervals: ReturnType<typeof setInterval>[] = [];
  /** The skills last announced. */
  skills: AnnouncedSkill[] = [];
  lastAnnounceAt?: Date;
  lastHeartbeatAt?: Date;

  constructor(options: ProviderAnnouncerOptions) {
    this.#o = options;
    this.#now = options.now ?? Date.now;
  }

  get #heartbeatMs(): number {
    return this.#o.heartbeatMs ?? DEFAULT_HEARTBEAT_MS;
  }

  get #refreshMs(): number {
    return this.#o.refreshMs ?? DEFAULT_REFRESH_MS;
  }

  /** Cost per day of the heartbeat and announcements (base units), at their last price. */
  get costPerDay(): bigint {
    const perDay = (c: bigint, ms: number) => c * BigInt(Math.round(86_400_000 / ms));
    return perDay(this.#cost.heartbeat, this.#heartbeatMs) +
      perDay(this.#cost.announce, this.#refreshMs);
  }

  /** Announces and beats once (errors thrown: a provider that cannot announce does not start), then on their periods. */
  async start(): Promise<void> {
    await this.announce();
    await this.heartbeat();
    const background = (p: Promise<void>) => p.catch((err) => this.#o.onError(err as Error));
    this.#intervals.push(
      setInterval(() => background(this.heartbeat()), this.#heartbeatMs),
      setInterval(() => background(this.announce()), this.#refreshMs),
    );
  }

  /** Stops the periodic writes. */
  stop(): void {
    for (const i of this.#intervals) clearInterval(i);
    this.#intervals = [];
  }

  /**
   * Publishes the 10032 and 31990 with the skills as they are when it runs. One at a time: an
   * older one finishing after a newer one would put back skills that are gone (in the status
   * file and in the town's kind 31990 alike), as catalog changes in quick succession showed.
   */
  announce(): Promise<void> {
    const next = this.#queue.then(() => this.#announceNow());
    this.#queue = next.catch(() => {});
    return next;
  }

  /** Publishes a heartbeat that expires after three periods. */
  async heartbeat(): Promise<void> {
    const period = Math.ceil(this.#heartbeatMs / 1000);
    const before = this.#o.spent();
    const now = Math.floor(this.#now() / 1000);
    await this.#o.publish({
      kind: HEARTBEAT_KIND,
      created_at: now,
      tags: [["d", PROVIDER_D_TAG], ["expiration", String(now + 3 * period)]],
      content: `serving ${this.#o.skills().map((s) => s.name).join(",")}; ` +
        `${this.#o.inFlight()} jobs in flight`,
    });
    this.#cost.heartbeat = this.#o.spent() - before;
    this.lastHeartbeatAt = new Date(this.#now());
    this.#o.onChange?.();
  }

  async #announceNow(): Promise<void> {
    const o = this.#o;
    const before = o.spent();
    const skills = o.skills();
    // Replaceable events: of two with the same created_at the town keeps the lower id (NIP-01),
    // so a second announcement within a second would be refused as older. Each one is later.
    const createdAt = Math.max(Math.floor(this.#now() / 1000), this.#announcedAt + 1);
    this.#announcedAt = createdAt;
    await o.publish(buildPeerInfo({
      ilpAddress: o.ilpAddress,
      btpEndpoint: o.btpEndpoint,
      assetCode: o.assetCode,
      assetScale: o.assetScale,
      supportedChains: [],
      settlementAddresses: {},
      tokenNetworks: {},
      preferredTokens: {},
    }, { createdAt }));
    const kinds = [...new Set(skills.flatMap((s) => s.kinds))].sort();
    if (kinds.length > 0) await o.publish(this.#handler(skills, kinds, createdAt));
    if (o.relays !== undefined && o.relays.length > 1) {
      await o.publish(buildRelayList({ relays: o.relays.map((url) => ({ url })), createdAt }));
    }
    this.skills = skills;
    this.lastAnnounceAt = new Date(this.#now());
    this.#cost.announce = o.spent() - before;
    o.onChange?.();
  }

  #handler(skills: AnnouncedSkill[], kinds: number[], createdAt: number): EventTemplate {
    const o = this.#o;
    const min = skills.map((s) => BigInt(s.price)).reduce((a, b) => (b < a ? b : a));
    const listed = skills.map((s) => `${s.name} (${s.kinds.join(",")}) ${s.price}`).join("; ");
    return buildHandlerAnnouncement({
      createdAt,
      d: PROVIDER_D_TAG,
      kinds,
      metadata: {
        name: o.name ?? "turnpike-provider",
        about: o.about ?? `skills: ${listed}`,
        price: {
          amount: String(min),
          assetCode: o.assetCode,
          assetScale: o.assetScale,
          per: "job",
        },
        paymentMethods: ["ilp"],
        encryption: ["nip44", "nip04"],
        skills,
      },
    });
  }
}
