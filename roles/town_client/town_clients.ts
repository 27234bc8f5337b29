/**
 * A node's town clients, one per town of its profile (docs/ARCHITECTURE.md, "The town client";
 * docs/OPERATIONS.md, "Several towns"): the home town's first, the others' made up front when
 * their identity is known, else learned from their NIP-11 documents (`self`,
 * `fees.publication`) on first use. Each town's uplinks come from `uplinksFor` (its own first),
 * so a write to a town leaves by that town's own uplink when the node has one.
 *
 * Where a job's feedback and result go ({@linkcode TownClients.targetsFor}): the towns its
 * request names in its `relays` tag that the profile lists, else the town it was found on, else
 * the home town; and the profile's plain relays it names (free writes, docs/PROTOCOL.md "Plain
 * relays"). A request found on a plain relay is answered on plain relays only: nobody paid a
 * town for it, so nothing of it is paid for at a town. A write sent to several relays counts
 * once one stored it.
 *
 * @module
 */
import { RoleError } from "../role_error.ts";
import { fetchRelayInfo, townPublicationPrice } from "../../transport/relay_info.ts";
import type { EventTemplate, NostrEvent } from "../../protocol/nostr_event.ts";
import type { NodeSigner } from "../../protocol/node_signer.ts";
import { signChecked, TownClient, type TownClientOptions, type TownUplink } from "./town_client.ts";
import { isTransientWriteError, NoTownStoredError } from "./town_rejection.ts";
import { nextRetryWait, REQUEST_WRITE_RETRY } from "./town_retry.ts";
import { sleep } from "../../protocol/backoff.ts";
import { publishToPlainRelay } from "../../transport/plain_relay_publish.ts";

/** A town whose client is made on first use. */
export interface LaterTown {
  /** NIP-01 URL of the town. */
  relayUrl: string;
  /** The town's Nostr pubkey; default its NIP-11 `self`. */
  townPubkey?: string;
  /** The town's ILP address; default its NIP-11 `fees.publication[0].ilp_address`. */
  townAddress?: string;
}

/** Options for {@linkcode TownClients}. */
export interface TownClientsOptions {
  /** The home town's client (its relay URL is `home.relayUrl`). */
  home: TownClient;
  /** More towns' clients made already. */
  clients?: TownClient[];
  /** More towns of the profile whose clients are made on first use. */
  later?: LaterTown[];
  /** The uplinks a town's writes leave by, in order (its own first). */
  uplinksFor: (relayUrl: string) => TownUplink[];
  signer: NodeSigner;
  /** The payment log hook of the clients made on first use. */
  record?: TownClientOptions["record"];
  /** The writes in doubt of a client made on first use, by its town's address. Default: its own. */
  inDoubtFor?: (townAddress: string) => TownClientOptions["inDoubt"];
  /** Plain relays (not towns): written to for free, never paid. */
  plain?: string[];
  /** Stores an event on a plain relay. Default `publishToPlainRelay`. */
  publishPlain?: (relay: string, event: NostrEvent) => Promise<void>;
}

/** A town listed in the profile that does not say who it is (NIP-11 `self`, `ilp_address`). */
export class TownIdentityUnknownError extends RoleError {
  override name = "TownIdentityUnknownError";
}

/** The clients of every town of a profile. */
export class TownClients {
  #o: TownClientsOptions;
  #later = new Map<string, LaterTown>();
  #clients = new Map<string, Promise<TownClient>>();
  #made: TownClient[] = [];

  /**
   * @example
   * ```ts
   * import assert from "node:assert/strict";
   * import { generateSecretKey, getPublicKey } from "nostr-tools";
   * import { TownClients } from "./town_clients.ts";
   * import { TownClient } from "./town_client.ts";
   * import { localNodeSigner } from "../../identity/local_node_signer.ts";
   *
   * const signer = localNodeSigner(generateSecretKey());
   * const home = new TownClient({ relayUrl: "ws://127.0.0.1:7100", uplinks: [],
   *   townAddress: "test.home", townPubkey: getPublicKey(generateSecretKey()), signer });
   * const towns = new TownClients({ home, signer, uplinksFor: () => [],
   *   later: [{ relayUrl: "ws://127.0.0.1:7200" }] });
   * assert.deepEqual(towns.relays, ["ws://127.0.0.1:7100", "ws://127.0.0.1:7200"]);
   * ```
   */
  constructor(options: TownClientsOptions) {
    this.#o = options;
    for (const client of [options.home, ...options.clients ?? []]) {
      if (this.#clients.has(client.relayUrl)) continue;
      this.#clients.set(client.relayUrl, Promise.resolve(client));
      this.#made.push(client);
    }
    for (const town of options.later ?? []) {
      if (!this.#clients.has(town.relayUrl)) this.#later.set(town.relayUrl, town);
    }
  }

  /** Every town's relay URL, the home town's first. */
  get relays(): string[] {
    return [...new Set([...this.#clients.keys(), ...this.#later.keys()])];
  }

  /** The plain relays (not towns) of the profile. */
  get plainRelays(): string[] {
    return [...this.#o.plain ?? []];
  }

  /** Whether `relay` is one of the profile's plain relays (its writes are free). */
  isPlain(relay: string): boolean {
    return this.#o.plain?.includes(relay) ?? false;
  }

  /** The home town's client (blobs, direct-message replies). */
  get home(): TownClient {
    return this.#o.home;
  }

  /** Base units paid to towns so far (fulfilled writes and blobs), summed over towns. */
  get spent(): bigint {
    return this.#made.reduce((sum, c) => sum + c.spent, 0n);
  }

  /**
   * The towns a job's writes go to: those its request names (`relays` tag) that the profile
   * lists, else the town the request was found on, else the home town.
   *
   * @example
   * ```ts
   * import assert from "node:assert/strict";
   * import { generateSecretKey, getPublicKey } from "nostr-tools";
   * import { TownClients } from "./town_clients.ts";
   * import { TownClient } from "./town_client.ts";
   * import { localNodeSigner } from "../../identity/local_node_signer.ts";
   *
   * const signer = localNodeSigner(generateSecretKey());
   * const home = new TownClient({ relayUrl: "ws://127.0.0.1:7100", uplinks: [],
   *   townAddress: "test.home", townPubkey: getPublicKey(generateSecretKey()), signer });
   * const towns = new TownClients({ home, signer, uplinksFor: () => [],
   *   later: [{ relayUrl: "ws://127.0.0.1:7200" }], plain: ["wss://relay.example"] });
   * // A listed town the request names; an unlisted one is not paid.
   * const named = { tags: [["relays", "ws://127.0.0.1:7200", "ws://127.0.0.1:7300"]] };
   * assert.deepEqual(towns.targetsFor(named), ["ws://127.0.0.1:7200"]);
   * // No town named: the home town; found on a plain relay: plain relays only.
   * assert.deepEqual(towns.targetsFor({ tags: [] }), ["ws://127.0.0.1:7100"]);
   * assert.deepEqual(towns.targetsFor({ tags: [] }, "wss://relay.example"), ["wss://relay.example"]);
   * ```
   */
  targetsFor(request: Pick<NostrEvent, "tags">, foundOn?: string): string[] {
    const named = request.tags.filter((t) => t[0] === "relays" || t[0] === "relay")
      .flatMap((t) => t.slice(1));
    const plain = named.filter((r) => this.isPlain(r));
    if (foundOn !== undefined && this.isPlain(foundOn)) return [...new Set([foundOn, ...plain])];
    const known = new Set(this.relays);
    const targets = [...new Set(named.filter((r) => known.has(r)))];
    if (targets.length === 0) {
      targets.push(foundOn !== undefined && known.has(foundOn) ? foundOn : this.#o.home.relayUrl);
    }
    return [...new Set([...targets, ...plain])];
  }

  /**
   * Signs `template` (once) and stores it on each of `relays` (paid at each, in parallel);
   * resolves with the event once one town stored it. With `retryUntil` (epoch ms), a failure
   * that may pass (no answer, the town restarting, a T-class reject: `isTransientWriteError`)
   * sends the same event again with {@linkcode REQUEST_WRITE_RETRY}'s backoff until then; a town
   * that stored it before its answer was lost answers `duplicate` and is not paid twice.
   *
   * @example A town started here (in-process, port 0, a temporary state directory) stores a note once;
   * {@linkcode TownClients.writeTo} of the same event is its `duplicate`, stored, not paid again.
   *
   * ```ts
   * import assert from "node:assert/strict";
   * import { generateSecretKey } from "nostr-tools";
   * import { TownClients } from "./town_clients.ts";
   * import { TownClient } from "./town_client.ts";
   * import { startTownNode } from "../town/town_node.ts";
   * import { localNodeSigner } from "../../identity/local_node_signer.ts";
   * import { BtpClient } from "../../transport/btp_client.ts";
   *
   * const stateDir = await Deno.makeTempDir();
   * const node = await startTownNode({
   *   config: { host: "127.0.0.1", httpPort: 0, btpPort: 0, stateDir, network: "local",
   *     ilpAddress: "test.town", peers: [], acceptAnyToken: true, pricing: { pricePerByte: 10n },
   *     maxEventBytes: 65_536, assetCode: "USD", assetScale: 6 },
   *   secretKey: generateSecretKey(),
   *   databasePath: ":memory:",
   * });
   * const btp = new BtpClient({ url: `btp+ws://127.0.0.1:${node.btpPort}`, authToken: "t",
   *   reconnect: false });
   * await btp.connect();
   * const signer = localNodeSigner(generateSecretKey());
   * const home = new TownClient({ relayUrl: `ws://127.0.0.1:${node.httpPort}`, uplinks: [btp],
   *   townAddress: node.ilpAddress, townPubkey: node.pubkey, signer });
   * const towns = new TownClients({ home, signer, uplinksFor: () => [btp] });
   * const now = Math.floor(Date.now() / 1000);
   * const event = await towns.publishTo(towns.targetsFor({ tags: [] }),
   *   { kind: 1, created_at: now, tags: [], content: "hi" });
   * const spent = towns.spent;
   * assert.deepEqual(await towns.writeTo(towns.relays, event), [home.relayUrl]);
   * assert.equal(towns.spent, spent);
   * await btp.close();
   * await node.stop();
   * await Deno.remove(stateDir, { recursive: true });
   * ```
   * @throws {NoTownStoredError} when none did (one town: its own error).
   */
  async publishTo(
    relays: string[],
    template: EventTemplate,
    options: { retryUntil?: number } = {},
  ): Promise<NostrEvent> {
    const event = await signChecked(this.#o.signer, template);
    for (let retry = 0;; retry++) {
      try {
        await this.writeTo(relays, event);
        return event;
      } catch (err) {
        const wait = options.retryUntil !== undefined && isTransientWriteError(err)
          ? nextRetryWait(REQUEST_WRITE_RETRY, retry, { until: options.retryUntil })
          : undefined;
        if (wait === undefined) throw err;
        await sleep(wait);
      }
    }
  }

  /**
   * Pays for and stores a signed `event` on each of `relays` at once (a plain relay: free); resolves with the relays
   * that stored it once at least one did.
   *
   * @example
   * ```ts
   * import assert from "node:assert/strict";
   * import { finalizeEvent, generateSecretKey, getPublicKey } from "nostr-tools";
   * import { TownClients } from "./town_clients.ts";
   * import { TownClient } from "./town_client.ts";
   * import { localNodeSigner } from "../../identity/local_node_signer.ts";
   *
   * // A plain relay's write is free and needs no town: here one that keeps what it is sent.
   * const signer = localNodeSigner(generateSecretKey());
   * const home = new TownClient({ relayUrl: "ws://127.0.0.1:7100", uplinks: [],
   *   townAddress: "test.home", townPubkey: getPublicKey(generateSecretKey()), signer });
   * const kept: string[] = [];
   * const towns = new TownClients({ home, signer, uplinksFor: () => [],
   *   plain: ["wss://relay.example"], publishPlain: (relay, event) => {
   *     kept.push(`${relay} ${event.id}`);
   *     return Promise.resolve();
   *   } });
   * const event = finalizeEvent({ kind: 1, created_at: 1, tags: [], content: "hi" }, generateSecretKey());
   * assert.deepEqual(await towns.writeTo(["wss://relay.example"], event), ["wss://relay.example"]);
   * assert.deepEqual(kept, [`wss://relay.example ${event.id}`]);
   * ```
   * @throws {NoTownStoredError} when none did (one town: its own error).
   */
  async writeTo(relays: string[], event: NostrEvent, jobId?: string): Promise<string[]> {
    const publishPlain = this.#o.publishPlain ?? ((r, e) => publishToPlainRelay(r, e));
    const outcomes = await Promise.allSettled(
      relays.map(async (relay) =>
        this.isPlain(relay)
          ? await publishPlain(relay, event)
          : await (await this.clientOf(relay)).write(event, jobId)
      ),
    );
    const stored = relays.filter((_, i) => outcomes[i].status === "fulfilled");
    if (stored.length > 0) return stored;
    const errors = outcomes.map((o) => (o as PromiseRejectedResult).reason as Error);
    if (errors.length === 1) throw errors[0];
    throw new NoTownStoredError(
      errors,
      `no town stored the event: ${errors.map((e) => e.message).join("; ")}`,
    );
  }

  /**
   * The client of the town at `relay` (made on first use for a town learned from NIP-11).
   *
   * @example
   * ```ts
   * import assert from "node:assert/strict";
   * import { generateSecretKey, getPublicKey } from "nostr-tools";
   * import { TownClients } from "./town_clients.ts";
   * import { TownClient } from "./town_client.ts";
   * import { localNodeSigner } from "../../identity/local_node_signer.ts";
   *
   * // A later town whose identity the profile gives: its client is made without asking it.
   * const signer = localNodeSigner(generateSecretKey());
   * const home = new TownClient({ relayUrl: "ws://127.0.0.1:7100", uplinks: [],
   *   townAddress: "test.home", townPubkey: getPublicKey(generateSecretKey()), signer });
   * const towns = new TownClients({ home, signer, uplinksFor: () => [], later: [{
   *   relayUrl: "ws://127.0.0.1:7200", townAddress: "test.other",
   *   townPubkey: getPublicKey(generateSecretKey()) }] });
   * const town = await towns.clientOf("ws://127.0.0.1:7200");
   * assert.equal(town.townAddress, "test.other");
   * ```
   * @throws {RangeError} when `relay` is not a town of the profile.
   * @throws {TownIdentityUnknownError} when the town does not say who it is.
   */
  clientOf(relay: string): Promise<TownClient> {
    const known = this.#clients.get(relay);
    if (known !== undefined) return known;
    const town = this.#later.get(relay);
    if (town === undefined) return Promise.reject(new RangeError(`${relay} is not a town here`));
    const made = this.#make(town);
    // A town that could not be asked now is asked again at the next write.
    made.then((client) => this.#made.push(client), () => {
      if (this.#clients.get(relay) === made) this.#clients.delete(relay);
    });
    this.#clients.set(relay, made);
    return made;
  }

  async #make(town: LaterTown): Promise<TownClient> {
    const info = town.townPubkey && town.townAddress
      ? undefined
      : await fetchRelayInfo(town.relayUrl);
    const fee = (info?.fees as { publication?: Record<string, unknown>[] } | undefined)
      ?.publication?.[0];
    const townPubkey = town.townPubkey ??
      (typeof info?.self === "string" && /^[0-9a-f]{64}$/.test(info.self) ? info.self : undefined);
    const townAddress = town.townAddress ??
      (typeof fee?.ilp_address === "string" ? fee.ilp_address : undefined);
    if (townPubkey === undefined || townAddress === undefined) {
      throw new TownIdentityUnknownError(
        `${town.relayUrl} publishes no pubkey or ILP address (NIP-11 self, fees): set them in ` +
          `its [towns.<name>] table`,
      );
    }
    return new TownClient({
      relayUrl: town.relayUrl,
      uplinks: () => this.#o.uplinksFor(town.relayUrl),
      townAddress,
      townPubkey,
      signer: this.#o.signer,
      pricePerByte: (info && townPublicationPrice(info)) ?? 10n,
      record: this.#o.record,
      inDoubt: this.#o.inDoubtFor?.(townAddress),
    });
  }
}
