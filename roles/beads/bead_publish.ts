/**
 * The profile's node publishes a sync's bead events (docs/AGENTS.md "Beads across machines"):
 * `turnpike beads sync` signs them and hands them over (`gt` op, `{do: "publish"}`), and the
 * node pays for each on every town of the profile, as any of its writes. Only bead events of the
 * profile's own key are taken, so the node is no open relay for whatever a command hands it.
 *
 * @module
 */
import { BEAD_KIND } from "../../protocol/bead_event.ts";
import type { NostrEvent } from "../../protocol/nostr_event.ts";
import { encodeEventToon } from "../../protocol/toon_codec.ts";
import { RoleError } from "../role_error.ts";

/** An event handed to the node that is not a bead event of the profile's key. */
export class BeadPublishError extends RoleError {
  /** `"BeadPublishError"`: explicit so it survives bundling. */
  override name = "BeadPublishError";
}

/** Options for {@linkcode publishBeadEvents}. */
export interface PublishBeadEventsOptions {
  events: NostrEvent[];
  /** The profile's key: the author every event must have. */
  pubkey: string;
  /** A paid write on every town of the profile; resolves with the towns that stored it. */
  write: (event: NostrEvent) => Promise<unknown>;
  /** The price per byte of each town written to (its cost is the sum). */
  prices: bigint[];
  /** Writes at once (default 8). */
  concurrency?: number;
}

/** One event published. */
export interface PublishedBead {
  id: string;
  /** Its TOON bytes, what a town charges by. */
  bytes: number;
  /** What the writes cost, base units, as a string. */
  cost: string;
}

/**
 * Pays for and stores each event; resolves once every one is stored.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { finalizeEvent, generateSecretKey, getPublicKey } from "nostr-tools/pure";
 * import { beadTemplate } from "../../protocol/bead_event.ts";
 * import type { NostrEvent } from "../../protocol/nostr_event.ts";
 * import { publishBeadEvents } from "./bead_publish.ts";
 *
 * const key = generateSecretKey();
 * const template = beadTemplate({ rig: "myrig", id: "gt-1", members: [], content: "x", createdAt: 1 });
 * const event = finalizeEvent(template, key);
 * const written: NostrEvent[] = [];
 * const write = (e: NostrEvent) => Promise.resolve(written.push(e));
 * const [done] = await publishBeadEvents({ events: [event], pubkey: getPublicKey(key), write, prices: [10n] });
 * assert.equal(done.id, event.id);
 * assert.equal(done.cost, String(BigInt(done.bytes) * 10n));
 * assert.deepEqual(written, [event]);
 * ```
 * @throws {BeadPublishError} before anything is paid, when an event is not the profile's bead.
 */
export async function publishBeadEvents(
  options: PublishBeadEventsOptions,
): Promise<PublishedBead[]> {
  for (const e of options.events) {
    if (e.kind !== BEAD_KIND || e.pubkey !== options.pubkey) {
      throw new BeadPublishError(
        `the node publishes only the profile's bead events (kind ${BEAD_KIND}), not kind ${e.kind}`,
      );
    }
  }
  const price = options.prices.reduce((a, b) => a + b, 0n);
  const out: PublishedBead[] = new Array(options.events.length);
  let next = 0;
  const lane = async () => {
    for (let i = next++; i < options.events.length; i = next++) {
      const event = options.events[i];
      await options.write(event);
      const bytes = new TextEncoder().encode(encodeEventToon(event)).length;
      out[i] = { id: event.id, bytes, cost: String(BigInt(bytes) * price) };
    }
  };
  await Promise.all(Array.from({ length: options.concurrency ?? 8 }, lane));
  return out;
}
