/**
 * NIP-42 on one connection to the town (docs/PROTOCOL.md "Private events: NIP-42 AUTH"): the
 * challenge the town sends when the connection opens, the check of the client's signed answer
 * (kind 22242), and who may read what. Events of a private kind (gift wraps, 1059, and any kind
 * the operator lists) are served only to a connection authenticated as one of their `p`-tagged
 * recipients, or as their author; a REQ that names a private kind on a connection not yet
 * authenticated is refused `auth-required:`. Writes are unchanged: their payment authenticates
 * them.
 *
 * @module
 */
import { bytesToHex } from "@noble/hashes/utils.js";
import { EventValidationError, verifyEvent } from "../../../protocol/event_verifier.ts";
import type { NostrEvent } from "../../../protocol/nostr_event.ts";
import type { NostrFilter } from "../../../protocol/nostr_filter.ts";
import { relayUrlKey } from "../../../protocol/relay_url_key.ts";

/** NIP-42's kind of the client's answer. */
export const AUTH_EVENT_KIND = 22242;

/** Private kinds by default: NIP-59 gift wraps. */
export const DEFAULT_PRIVATE_KINDS: readonly number[] = [1059];

/** How far an answer's `created_at` may be from the town's clock, seconds. */
const AUTH_WINDOW_SEC = 600;

/** Options for {@linkcode RelayAuth}. */
export interface RelayAuthOptions {
  /**
   * The town's relay URLs (roles/town/relay/relay_urls.ts): the answer's `relay` tag must name one of
   * them, so an answer signed for another relay is refused (never the request's `Host` header,
   * which a relay in the middle forges).
   */
  relayUrls: readonly string[];
  /** Kinds served only to their recipients. Default {@linkcode DEFAULT_PRIVATE_KINDS}. */
  privateKinds?: ReadonlySet<number>;
  /** Clock, ms (tests). */
  now?: () => number;
}

/**
 * One connection's NIP-42 state.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { RelayAuth } from "./relay_auth.ts";
 *
 * const auth = new RelayAuth({ relayUrls: ["wss://town.example"], privateKinds: new Set([1059]) });
 * assert.match(auth.challenge, /^[0-9a-f]{32,}$/); // sent as ["AUTH", challenge] when the connection opens
 * assert.equal(auth.needsAuth([{ kinds: [1059], "#p": ["ab".repeat(32)] }]), true); // until authenticated
 * assert.equal(auth.needsAuth([{ kinds: [1] }]), false);
 * ```
 */
export class RelayAuth {
  /** This connection's challenge: random, never reused. */
  readonly challenge: string = bytesToHex(crypto.getRandomValues(new Uint8Array(16)));
  readonly #o: RelayAuthOptions;
  readonly #private: ReadonlySet<number>;
  readonly #pubkeys = new Set<string>();
  readonly #urls: ReadonlySet<string>;

  constructor(options: RelayAuthOptions) {
    this.#o = options;
    this.#urls = new Set(options.relayUrls.flatMap((u) => relayUrlKey(u) ?? []));
    this.#private = options.privateKinds ?? new Set(DEFAULT_PRIVATE_KINDS);
  }

  /** The pubkeys this connection authenticated as. */
  get pubkeys(): ReadonlySet<string> {
    return this.#pubkeys;
  }

  /** The town's `OK` to a client's AUTH event (its pubkey added when accepted). */
  reply(event: NostrEvent): ["OK", string, boolean, string] {
    const refused = this.answer(event);
    return ["OK", event.id, refused === undefined, refused ?? ""];
  }

  /**
   * Checks a client's AUTH event: undefined when it authenticates the connection (its pubkey
   * added), else the reason for `["OK", id, false, reason]`.
   */
  answer(event: NostrEvent): string | undefined {
    if (event.kind !== AUTH_EVENT_KIND) return `invalid: an AUTH event is kind ${AUTH_EVENT_KIND}`;
    try {
      verifyEvent(event);
    } catch (err) {
      if (err instanceof EventValidationError) return `invalid: ${err.message}`;
      throw err;
    }
    const now = Math.floor((this.#o.now?.() ?? Date.now()) / 1000);
    if (Math.abs(event.created_at - now) > AUTH_WINDOW_SEC) {
      return `invalid: created_at is more than ${AUTH_WINDOW_SEC} s from the town's clock`;
    }
    const tag = (name: string) => event.tags.find((t) => t[0] === name)?.[1];
    if (tag("challenge") !== this.challenge) return "invalid: not this connection's challenge";
    const relay = tag("relay");
    const key = relay === undefined ? undefined : relayUrlKey(relay);
    if (key === undefined || !this.#urls.has(key)) {
      // Not listed: on a wildcard host they are every address of the machine.
      return "restricted: the relay tag does not name this town (its public relay URL)";
    }
    this.#pubkeys.add(event.pubkey);
    return undefined;
  }

  /** Whether these filters name a private kind while the connection is not authenticated. */
  needsAuth(filters: readonly NostrFilter[]): boolean {
    return this.#pubkeys.size === 0 && this.namesPrivateKind(filters);
  }

  /** Whether any of these filters names a private kind. */
  namesPrivateKind(filters: readonly NostrFilter[]): boolean {
    return filters.some((f) => f.kinds?.some((k) => this.#private.has(k)) ?? false);
  }

  /**
   * NIP-45 count of the public events matching `filters` (none names a private kind: refused
   * before). A filter naming no kind matches private events too: they are counted apart, with
   * the filter narrowed to the private kinds, and taken away. Counted second, a private event
   * stored between the two counts is taken away without having been counted (one less), never
   * counted without being taken away.
   */
  async countPublic(
    filters: readonly NostrFilter[],
    count: (filters: readonly NostrFilter[]) => Promise<number>,
  ): Promise<number> {
    const all = await count(filters);
    const kinds = [...this.#private];
    const unnamed = filters.filter((f) => f.kinds === undefined).map((f) => ({ ...f, kinds }));
    return unnamed.length === 0 ? all : Math.max(0, all - await count(unnamed));
  }

  /** Whether events of this kind are private (each then checked with {@linkcode mayRead}). */
  isPrivate(kind: number): boolean {
    return this.#private.has(kind);
  }

  /** Whether this connection may read a private event: its recipient or its author. */
  mayRead(event: Pick<NostrEvent, "pubkey" | "tags">): boolean {
    if (this.#pubkeys.has(event.pubkey)) return true;
    return event.tags.some((t) => t[0] === "p" && this.#pubkeys.has(t[1]));
  }
}
