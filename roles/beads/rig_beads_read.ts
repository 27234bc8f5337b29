/**
 * Reads a rig's bead events from the towns (free reads; docs/PROTOCOL.md "Beads as events"): one
 * filter per bucket (`#b`), at most 10 filters a REQ, the members' events only; a bucket that
 * fills the town's limit is read again below its oldest event until a page brings nothing new.
 *
 * @module
 */
import { BEAD_KIND, rigBuckets } from "../../protocol/bead_event.ts";
import type { NostrEvent } from "../../protocol/nostr_event.ts";
import type { NostrFilter } from "../../protocol/nostr_filter.ts";
import { queryRelays } from "../../transport/relay_query_many.ts";
import type { QueryRelayOptions } from "../../transport/relay_query.ts";

/** A town's most events per filter (docs/PROTOCOL.md "The town's read side"). */
const PAGE = 500;

/** Options for {@linkcode readRigBeads}. */
export interface ReadRigBeadsOptions {
  relays: string[];
  rig: string;
  /** Whose events are read: the rig's members. */
  authors: string[];
  /** NIP-42, for a town that keeps the bead kind private. */
  authenticate?: QueryRelayOptions["authenticate"];
}

/** What {@linkcode readRigBeads} read. */
export interface RigBeadsRead {
  events: NostrEvent[];
  /** Bytes received. */
  bytes: number;
}

/**
 * The members' bead events of `rig`, each id once. It reads towns: no example that runs here:
 * tests/e2e/beads_sync_test.ts.
 * @throws {RelayQueryError} when no town could be read.
 */
export async function readRigBeads(options: ReadRigBeadsOptions): Promise<RigBeadsRead> {
  const byId = new Map<string, NostrEvent>();
  let bytes = 0;
  const query = async (filters: NostrFilter[]) => {
    const read = await queryRelays(options.relays, filters, {
      maxEvents: PAGE * filters.length + 1,
      maxBytes: 64 * 1024 * 1024,
      timeoutMs: 30_000,
      authenticate: options.authenticate,
    });
    bytes += read.bytes;
    return read.events;
  };
  const buckets = rigBuckets(options.rig);
  for (let i = 0; i < buckets.length; i += 8) {
    const page = buckets.slice(i, i + 8);
    const events = await query(page.map((b) => ({
      kinds: [BEAD_KIND],
      authors: options.authors,
      "#b": [b],
      limit: PAGE,
    })));
    for (const e of events) byId.set(e.id, e);
    // A bucket at the limit may hold more: read it again below its oldest event.
    for (const b of page) {
      let inBucket = events.filter((e) => e.tags.some((t) => t[0] === "b" && t[1] === b));
      while (inBucket.length >= PAGE) {
        const until = Math.min(...inBucket.map((e) => e.created_at));
        inBucket = await query([
          { kinds: [BEAD_KIND], authors: options.authors, "#b": [b], until, limit: PAGE },
        ]);
        const fresh = inBucket.filter((e) => !byId.has(e.id));
        if (fresh.length === 0) break;
        for (const e of fresh) byId.set(e.id, e);
      }
    }
  }
  return { events: [...byId.values()], bytes };
}
