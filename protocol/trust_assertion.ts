/**
 * NIP-85 trusted assertions about a pubkey (kind 30382), as turnpike publishes and reads them
 * (docs/PROTOCOL.md "Trust assertions (NIP-85)"): an addressable event whose `d` tag is the
 * subject's pubkey and whose `rank` tag is the author's rank of it, a whole number 0-100. The
 * NIP's other tags (followers, zaps, posts) say nothing about job receipts: none is sent, and a
 * reader ignores them. Only the newest assertion of one author about one subject counts.
 *
 * @module
 */
import type { EventTemplate, NostrEvent } from "./nostr_event.ts";

/** NIP-85: an assertion about a pubkey. */
export const TRUST_ASSERTION_KIND = 30382;

/** An assertion read: who says what rank of whom, and when. */
export interface TrustAssertion {
  /** The author's pubkey (hex). */
  author: string;
  /** The subject's pubkey (hex): the `d` tag. */
  subject: string;
  /** 0-100. */
  rank: number;
  /** The event's `created_at`, unix seconds. */
  createdAt: number;
  /**
   * The rank service (NIP-85 kind 10040) that said it for `author`, when `author` did not sign it
   * (protocol/trust_provider_list.ts).
   */
  via?: string;
}

/** Options for {@linkcode trustAssertionEvent}. */
export interface TrustAssertionOptions {
  /** The pubkey the assertion is about (hex). */
  subject: string;
  /** The author's rank of it, 0-100 (rounded to a whole number). */
  rank: number;
  /** Unix seconds (default now). */
  createdAt?: number;
}

const HEX_KEY = /^[0-9a-f]{64}$/;

/**
 * The unsigned kind 30382 asserting `rank` of `subject`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { trustAssertionEvent } from "./trust_assertion.ts";
 *
 * const event = trustAssertionEvent({ subject: "cd".repeat(32), rank: 41.6 });
 * assert(event.tags[1][1] === "42");
 * ```
 */
export function trustAssertionEvent(o: TrustAssertionOptions): EventTemplate {
  return {
    kind: TRUST_ASSERTION_KIND,
    created_at: o.createdAt ?? Math.floor(Date.now() / 1000),
    tags: [["d", o.subject], ["rank", String(assertedRank(o.rank))]],
    content: "",
  };
}

/**
 * The whole-number rank an assertion carries for a score (0-100, one decimal).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { assertedRank } from "./trust_assertion.ts";
 *
 * assert(assertedRank(29.4) === 29);
 * ```
 */
export function assertedRank(rank: number): number {
  return Math.min(100, Math.max(0, Math.round(rank)));
}

/**
 * The assertion an event makes, or undefined when it is not a well-formed kind 30382 about a
 * pubkey (no `d` that is a hex key, no `rank` 0-100), or one about its own author.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { readTrustAssertion, trustAssertionEvent } from "./trust_assertion.ts";
 *
 * const template = trustAssertionEvent({ subject: "cd".repeat(32), rank: 42 });
 * const event = { ...template, pubkey: "ab".repeat(32), id: "0".repeat(64), sig: "0".repeat(128) };
 * assert(readTrustAssertion(event)?.rank === 42);
 * assert(readTrustAssertion({ ...event, pubkey: "cd".repeat(32) }) === undefined);
 * ```
 */
export function readTrustAssertion(event: NostrEvent): TrustAssertion | undefined {
  if (event.kind !== TRUST_ASSERTION_KIND) return undefined;
  const subject = event.tags.find((t) => t[0] === "d")?.[1] ?? "";
  const rankText = event.tags.find((t) => t[0] === "rank")?.[1] ?? "";
  // A self-assertion is no one's word about the subject.
  if (!HEX_KEY.test(subject) || subject === event.pubkey) return undefined;
  if (!/^\d{1,3}$/.test(rankText) || Number(rankText) > 100) return undefined;
  return { author: event.pubkey, subject, rank: Number(rankText), createdAt: event.created_at };
}

/**
 * The newest assertion per author and subject among `events` (malformed ones skipped).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { newestAssertions, trustAssertionEvent } from "./trust_assertion.ts";
 *
 * const signed = (rank: number, createdAt: number) => ({
 *   ...trustAssertionEvent({ subject: "cd".repeat(32), rank, createdAt }),
 *   pubkey: "ab".repeat(32),
 *   id: "0".repeat(64),
 *   sig: "0".repeat(128),
 * });
 * const [newest] = newestAssertions([signed(10, 1), signed(70, 2)]);
 * assert(newest.rank === 70);
 * ```
 */
export function newestAssertions(events: Iterable<NostrEvent>): TrustAssertion[] {
  const newest = new Map<string, TrustAssertion>();
  for (const event of events) {
    const said = readTrustAssertion(event);
    if (said === undefined) continue;
    const key = `${said.author}:${said.subject}`;
    const seen = newest.get(key);
    if (seen === undefined || seen.createdAt < said.createdAt) newest.set(key, said);
  }
  return [...newest.values()];
}
