/**
 * What a requester sends to its plain relays (`[[relays]]`, not towns; docs/PROTOCOL.md "Plain
 * relays"): a public job request, free, after its towns stored it, and nothing else of the job.
 * An encrypted request stays on the towns: its parts are for its provider only. A plain relay
 * that does not store the request is a warning, never the job's failure: the towns have it.
 *
 * @module
 */
import type { NostrEvent } from "../../protocol/nostr_event.ts";
import type { TownLinks } from "./town_links.ts";

/** Whether a request may go to plain relays: not encrypted (docs/PROTOCOL.md "Plain relays"). */
function isPublicRequest(request: Pick<NostrEvent, "tags">): boolean {
  return !request.tags.some((t) => t[0] === "encrypted");
}

/**
 * The `relays` tag of a request: the towns (the home town's alone while none is linked), and the
 * plain relays when it is public (its provider answers there too, free).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { requestRelays } from "./plain_relay_posts.ts";
 *
 * const links = { relays: ["ws://town"], plainRelays: ["ws://plain"] };
 * assert.deepEqual(requestRelays(links, "ws://town", false), ["ws://town", "ws://plain"]);
 * assert.deepEqual(requestRelays(links, "ws://town", true), ["ws://town"]);
 * assert.deepEqual(requestRelays(undefined, "ws://town", false), ["ws://town"]);
 * ```
 */
export function requestRelays(
  links: Pick<TownLinks, "relays" | "plainRelays"> | undefined,
  home: string,
  encrypted: boolean,
): string[] {
  if (links === undefined) return [home];
  return encrypted ? links.relays : [...links.relays, ...links.plainRelays];
}

/**
 * Posts a public request to the plain relays in the background; a failure is warned about.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { finalizeEvent, generateSecretKey } from "nostr-tools/pure";
 * import { postToPlainRelays } from "./plain_relay_posts.ts";
 * import type { NostrEvent } from "../../protocol/nostr_event.ts";
 *
 * const request = finalizeEvent({ kind: 5600, created_at: 1, tags: [["i", "hi", "text"]], content: "" }, generateSecretKey());
 * const posted: NostrEvent[] = [];
 * postToPlainRelays({ writePlain: (e) => Promise.resolve(posted.push(e)).then(() => []) }, request);
 * assert.deepEqual(posted, [request]);
 * ```
 */
export function postToPlainRelays(
  links: Pick<TownLinks, "writePlain">,
  request: NostrEvent,
  warn?: (line: string) => void,
): void {
  if (!isPublicRequest(request)) return;
  links.writePlain(request).catch((err) =>
    warn?.(`request ${request.id.slice(0, 12)} not on the plain relays: ${(err as Error).message}`)
  );
}
