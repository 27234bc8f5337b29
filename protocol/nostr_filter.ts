/**
 * NIP-01 subscription filters: the type, strict validation of filters read from the network
 * (bounded list sizes, exact shapes) and matching of events against filters.
 *
 * @module
 */
import { ProtocolError } from "./protocol_error.ts";
import type { NostrEvent } from "./nostr_event.ts";

/** A NIP-01 filter. Tag queries are `#<single letter>` keys (`"#e": [id]`). */
export interface NostrFilter {
  /** Event ids, each 64 lowercase hex (no prefixes). */
  ids?: string[];
  /** Author pubkeys, each 64 lowercase hex (no prefixes). */
  authors?: string[];
  /** Event kinds, each an integer 0-65535. */
  kinds?: number[];
  /** Unix seconds; matches `created_at >= since`. */
  since?: number;
  /** Unix seconds; matches `created_at <= until`. */
  until?: number;
  /** Most stored events returned by the initial query; ignored when matching live events. */
  limit?: number;
  /** NIP-50 full-text search (see {@linkcode matchFilter} for how it is evaluated). */
  search?: string;
  /** `#x` (one letter): some tag named `x` has its first value in the list. */
  [tag: `#${string}`]: string[] | undefined;
}

/** Bounds applied by {@linkcode validateFilter}. */
export interface FilterLimits {
  /** Most values in one list (`ids`, `authors`, `kinds`, one `#x`). Default 1000. */
  maxListItems?: number;
  /** Most `#x` tag keys in one filter. Default 26 + 26 (all single letters). */
  maxTagKeys?: number;
  /** Longest tag value or search string, in characters. Default 1024. */
  maxValueLength?: number;
}

/** Default for {@linkcode FilterLimits.maxListItems}. */
export const DEFAULT_MAX_FILTER_LIST_ITEMS = 1000;
/** Default for {@linkcode FilterLimits.maxValueLength}. */
export const DEFAULT_MAX_FILTER_VALUE_LENGTH = 1024;

/** A filter that is not a well-formed NIP-01 filter or exceeds a limit. */
export class NostrFilterError extends ProtocolError {
  /** `"NostrFilterError"`: explicit so it survives bundling. */
  override name = "NostrFilterError";
}

const HEX64 = /^[0-9a-f]{64}$/;
const TAG_KEY = /^#[a-zA-Z]$/;

/**
 * Checks that `value` is a NIP-01 filter within `limits` and returns it typed. Unknown keys are
 * rejected rather than ignored: a filter this node does not understand cannot be answered right.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * const f = validateFilter({ kinds: [5050], "#p": ["ab".repeat(32)], since: 1700000000 });
 * assert.deepEqual(f.kinds, [5050]);
 * assert.throws(() => validateFilter({ kinds: [-1] }), NostrFilterError);
 * ```
 */
export function validateFilter(value: unknown, limits: FilterLimits = {}): NostrFilter {
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    throw new NostrFilterError("filter is not an object");
  }
  const maxItems = limits.maxListItems ?? DEFAULT_MAX_FILTER_LIST_ITEMS;
  const maxTagKeys = limits.maxTagKeys ?? 52;
  const maxLen = limits.maxValueLength ?? DEFAULT_MAX_FILTER_VALUE_LENGTH;
  let tagKeys = 0;
  for (const [key, v] of Object.entries(value)) {
    switch (key) {
      case "ids":
      case "authors":
        checkList(key, v, maxItems, (x) => typeof x === "string" && HEX64.test(x), "64 hex");
        break;
      case "kinds":
        checkList(key, v, maxItems, isKind, "integer 0..65535");
        break;
      case "since":
      case "until":
      case "limit":
        if (!isNonNegativeInteger(v)) {
          throw new NostrFilterError(`"${key}" is not a non-negative integer`);
        }
        break;
      case "search":
        if (typeof v !== "string" || v.length > maxLen) {
          throw new NostrFilterError(`"search" is not a string of at most ${maxLen} characters`);
        }
        break;
      default:
        if (!TAG_KEY.test(key)) throw new NostrFilterError(`unknown filter key "${clip(key)}"`);
        if (++tagKeys > maxTagKeys) throw new NostrFilterError(`more than ${maxTagKeys} tag keys`);
        checkList(
          key,
          v,
          maxItems,
          (x) => typeof x === "string" && x.length <= maxLen,
          `string of at most ${maxLen} characters`,
        );
    }
  }
  return value as NostrFilter;
}

function checkList(
  key: string,
  v: unknown,
  max: number,
  ok: (x: unknown) => boolean,
  what: string,
): void {
  if (!Array.isArray(v)) throw new NostrFilterError(`"${key}" is not an array`);
  if (v.length > max) throw new NostrFilterError(`"${key}" has more than ${max} items`);
  for (const x of v) {
    if (!ok(x)) throw new NostrFilterError(`"${key}" has an item that is not a ${what}`);
  }
}

function isNonNegativeInteger(v: unknown): v is number {
  // -0 is refused: it would be written back as 0, so a filter would not round-trip.
  return typeof v === "number" && Number.isSafeInteger(v) && v >= 0 && !Object.is(v, -0);
}

function isKind(v: unknown): boolean {
  return isNonNegativeInteger(v) && v <= 65535;
}

function clip(s: string): string {
  return s.length > 32 ? s.slice(0, 32) + "..." : s;
}

/**
 * NIP-01 matching of one event against one filter: every present condition must hold; a list
 * condition holds when the event's value is in the list (so an empty list matches nothing);
 * `#x` holds when some tag named `x` has its first value in the list. `limit` is for queries and
 * is ignored here. `search` (NIP-50 leaves its meaning to relays) holds when every
 * space-separated term that is not a `key:value` extension occurs in the content, ignoring case.
 * Not nostr-tools' `matchFilter`: that one has no `search`, reads `until: 0` as absent, and is
 * 2-3x slower in the town's fan-out loop (docs/ARCHITECTURE.md "Matching filters",
 * bench/nostr_filter_bench.ts).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 *
 * const jobId = "ab".repeat(32);
 * const event = { id: "01".repeat(32), pubkey: "02".repeat(32), created_at: 1700000000, kind: 7000, tags: [["e", jobId]], content: "", sig: "03".repeat(64) };
 * assert.equal(matchFilter(event, { kinds: [7000], "#e": [jobId] }), true);
 * assert.equal(matchFilter(event, { kinds: [6050] }), false);
 * ```
 */
export function matchFilter(event: NostrEvent, filter: NostrFilter): boolean {
  if (filter.ids !== undefined && !filter.ids.includes(event.id)) return false;
  if (filter.authors !== undefined && !filter.authors.includes(event.pubkey)) return false;
  if (filter.kinds !== undefined && !filter.kinds.includes(event.kind)) return false;
  if (filter.since !== undefined && event.created_at < filter.since) return false;
  if (filter.until !== undefined && event.created_at > filter.until) return false;
  for (const key in filter) {
    if (key.length !== 2 || key[0] !== "#") continue;
    const values = filter[key as `#${string}`];
    if (values === undefined) continue;
    const name = key[1];
    if (!event.tags.some((t) => t[0] === name && t.length > 1 && values.includes(t[1]))) {
      return false;
    }
  }
  if (filter.search !== undefined && !matchSearch(event.content, filter.search)) return false;
  return true;
}

function matchSearch(content: string, search: string): boolean {
  const haystack = content.toLowerCase();
  return search.toLowerCase().split(/\s+/).filter((t) => t !== "" && !t.includes(":"))
    .every((term) => haystack.includes(term));
}

/**
 * True when the event matches at least one of the filters (NIP-01: filters of one REQ are ORed).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 *
 * const me = "ab".repeat(32);
 * const event = { id: "01".repeat(32), pubkey: "02".repeat(32), created_at: 1700000000, kind: 7000, tags: [["p", me]], content: "", sig: "03".repeat(64) };
 * assert.equal(matchFilters(event, [{ kinds: [6050] }, { kinds: [7000], "#p": [me] }]), true);
 * ```
 */
export function matchFilters(event: NostrEvent, filters: readonly NostrFilter[]): boolean {
  return filters.some((f) => matchFilter(event, f));
}
