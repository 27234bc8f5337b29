/**
 * The provider's paid writes on every town of its profile (docs/ARCHITECTURE.md, "Several
 * towns"), all through its one BTP uplink (its home town routes a write for another town
 * through its ILP peers, e.g. the reference connector): a {@linkcode TownPublisher} per town,
 * the home town's made by the node, the others' learned from their NIP-11 documents (`self`,
 * `fees.publication`) on first use.
 *
 * Where a job's feedback and result go: the towns its request names in its `relays` tag that
 * the profile lists (the provider can pay those), else the town it found the request on, else
 * the home town. Announcements and heartbeats go to every town. A write counts once one town
 * stored it.
 *
 * @module
 */
import { fetchRelayInfo, townPublicationPrice } from "../../transport/relay_info.ts";
import type { EventTemplate, NostrEvent } from "../../protocol/nostr_event.ts";
import type { NodeSigner } from "../../protocol/node_signer.ts";
import type { PrepareSender } from "../town/spsp_ilp_client.ts";
import { TownPublisher, type TownPublisherOptions } from "./town_publisher.ts";

/** One more town a provider follows and writes to (its ILP route is the home town's). */
export interface ProviderTown {
  /** NIP-01 URL of the town. */
  relayUrl: string;
  /** The town's Nostr pubkey; default its NIP-11 `self`. */
  townPubkey?: string;
  /** The town's ILP address; default its NIP-11 `fees.publication[0].ilp_address`. */
  townAddress?: string;
}

/** Options for {@linkcode TownPublishers}. */
export interface TownPublishersOptions {
  /** The home town's publisher and relay URL. */
  home: TownPublisher;
  homeRelay: string;
  /** More towns of the profile. */
  more?: ProviderTown[];
  /** The uplink every write leaves by. */
  sender: PrepareSender;
  signer: NodeSigner;
  /** The payment log hook, as {@linkcode TownPublisherOptions.record}, with the town's address. */
  record?: (
    paid: Parameters<NonNullable<TownPublisherOptions["record"]>>[0] & { townAddress: string },
  ) => Promise<void>;
}

/** No town stored a write. */
export class NoTownWroteError extends AggregateError {
  override name = "NoTownWroteError";
}

/** A town listed in the profile that does not say who it is (NIP-11 `self`, `ilp_address`). */
export class TownIdentityUnknownError extends Error {
  override name = "TownIdentityUnknownError";
}

/** The publishers of every town of a provider's profile. */
export class TownPublishers {
  #o: TownPublishersOptions;
  #more = new Map<string, ProviderTown>();
  #publishers = new Map<string, Promise<TownPublisher>>();

  /**
   * @example
   * ```ts
   * const towns = new TownPublishers({ home, homeRelay, sender: btp, signer,
   *   more: [{ relayUrl: "ws://127.0.0.1:7200" }] });
   * await towns.publishAll(announcementTemplate);
   * ```
   */
  constructor(options: TownPublishersOptions) {
    this.#o = options;
    this.#publishers.set(options.homeRelay, Promise.resolve(options.home));
    for (const town of options.more ?? []) {
      if (town.relayUrl !== options.homeRelay) this.#more.set(town.relayUrl, town);
    }
  }

  /** Every town's relay URL, the home town's first. */
  get relays(): string[] {
    return [this.#o.homeRelay, ...this.#more.keys()];
  }

  /** The home town's publisher (blobs, direct-message replies). */
  get home(): TownPublisher {
    return this.#o.home;
  }

  #othersSpent = 0n;

  /** Base units paid to towns so far (fulfilled writes and blobs), summed over towns. */
  get spent(): bigint {
    return this.#o.home.spent + this.#othersSpent;
  }

  /**
   * The towns a job's writes go to: those its request names (`relays` tag) that the profile
   * lists, else the town the request was found on, else the home town.
   *
   * @example
   * ```ts
   * towns.targetsFor(request, "ws://127.0.0.1:7200"); // ["ws://127.0.0.1:7200"]
   * ```
   */
  targetsFor(request: Pick<NostrEvent, "tags">, foundOn?: string): string[] {
    const named = request.tags.filter((t) => t[0] === "relays" || t[0] === "relay")
      .flatMap((t) => t.slice(1));
    const known = new Set(this.relays);
    const targets = [...new Set(named.filter((r) => known.has(r)))];
    if (targets.length > 0) return targets;
    return [foundOn !== undefined && known.has(foundOn) ? foundOn : this.#o.homeRelay];
  }

  /** Signs `template` and stores it on every town; resolves once one stored it. */
  async publishAll(template: EventTemplate): Promise<NostrEvent> {
    return await this.publishTo(this.relays, template);
  }

  /**
   * Signs `template` (once) and stores it on each of `relays` (paid at each, in parallel);
   * resolves with the event once one town stored it.
   *
   * @throws {NoTownWroteError} when none did.
   */
  async publishTo(relays: string[], template: EventTemplate): Promise<NostrEvent> {
    const event = await this.#o.signer.signEvent(template);
    const outcomes = await Promise.allSettled(
      relays.map(async (relay) => await (await this.#publisherOf(relay)).publishSigned(event)),
    );
    if (outcomes.some((o) => o.status === "fulfilled")) return event;
    const errors = outcomes.map((o) => (o as PromiseRejectedResult).reason as Error);
    if (errors.length === 1) throw errors[0];
    throw new NoTownWroteError(
      errors,
      `no town stored the event: ${errors.map((e) => e.message).join("; ")}`,
    );
  }

  #publisherOf(relay: string): Promise<TownPublisher> {
    const known = this.#publishers.get(relay);
    if (known !== undefined) return known;
    const town = this.#more.get(relay);
    if (town === undefined) return Promise.reject(new RangeError(`${relay} is not a town here`));
    const made = this.#make(town);
    // A town that could not be asked now is asked again at the next write.
    made.catch(() => {
      if (this.#publishers.get(relay) === made) this.#publishers.delete(relay);
    });
    this.#publishers.set(relay, made);
    return made;
  }

  async #make(town: ProviderTown): Promise<TownPublisher> {
    const info = town.townPubkey && town.townAddress ? undefined : await fetchRelayInfo(
      town.relayUrl,
    );
    const fee = (info?.fees as { publication?: Record<string, unknown>[] } | undefined)
      ?.publication?.[0];
    const townPubkey = town.townPubkey ??
      (typeof info?.self === "string" && /^[0-9a-f]{64}$/.test(info.self) ? info.self : undefined);
    const townAddress = town.townAddress ??
      (typeof fee?.ilp_address === "string" ? fee.ilp_address : undefined);
    if (townPubkey === undefined || townAddress === undefined) {
      throw new TownIdentityUnknownError(
        `${town.relayUrl} publishes no pubkey or ILP address (NIP-11 self, fees): set them in ` +
          `its [[towns]] entry`,
      );
    }
    return new TownPublisher({
      sender: this.#o.sender,
      townAddress,
      townPubkey,
      signer: this.#o.signer,
      pricePerByte: (info && townPublicationPrice(info)) ?? 10n,
      record: async (paid) => {
        this.#othersSpent += paid.amount;
        await this.#o.record?.({ ...paid, townAddress });
      },
    });
  }
}
