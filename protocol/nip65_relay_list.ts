/**
 * NIP-65 relay list metadata (kind 10002, replaceable): the relays (towns) a node reads and
 * writes, one `r` tag each (`["r", url]`; a `read` or `write` marker narrows it). A node on
 * several towns publishes it on each (docs/PROTOCOL.md, "Several towns").
 *
 * @module
 */
import type { EventTemplate, NostrEvent } from "./nostr_event.ts";

/** The kind of a relay list. */
export const RELAY_LIST_KIND = 10002;

/** One relay of a list. */
export interface RelayListEntry {
  url: string;
  /** Absent: both. */
  marker?: "read" | "write";
}

/**
 * The kind 10002 template of these relays (each once, in order).
 *
 * @example
 * ```ts
 * buildRelayList({ relays: [{ url: "wss://a.example" }, { url: "wss://b.example" }], createdAt: 1 });
 * // { kind: 10002, tags: [["r", "wss://a.example"], ["r", "wss://b.example"]], ... }
 * ```
 */
export function buildRelayList(
  options: { relays: RelayListEntry[]; createdAt: number },
): EventTemplate {
  const seen = new Set<string>();
  const tags: string[][] = [];
  for (const { url, marker } of options.relays) {
    if (seen.has(url)) continue;
    seen.add(url);
    tags.push(marker === undefined ? ["r", url] : ["r", url, marker]);
  }
  return { kind: RELAY_LIST_KIND, created_at: options.createdAt, tags, content: "" };
}

/**
 * The relays of a kind 10002 event (tags other than well-formed `r` ones ignored).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { parseRelayList } from "./nip65_relay_list.ts";
 *
 * const event = { kind: 10002, tags: [["r", "wss://a.example"], ["r", "wss://b.example", "read"]] };
 * assert.deepEqual(parseRelayList(event), [
 *   { url: "wss://a.example" },
 *   { url: "wss://b.example", marker: "read" },
 * ]);
 * ```
 */
export function parseRelayList(event: Pick<NostrEvent, "kind" | "tags">): RelayListEntry[] {
  if (event.kind !== RELAY_LIST_KIND) return [];
  const out: RelayListEntry[] = [];
  for (const tag of event.tags) {
    if (tag[0] !== "r" || typeof tag[1] !== "string" || !/^wss?:\/\//.test(tag[1])) continue;
    const marker = tag[2] === "read" || tag[2] === "write" ? tag[2] : undefined;
    out.push(marker === undefined ? { url: tag[1] } : { url: tag[1], marker });
  }
  return out;
}
