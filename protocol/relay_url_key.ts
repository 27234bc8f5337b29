/**
 * Which relay a URL names (docs/PROTOCOL.md "Private events: NIP-42 AUTH"): two URLs name the
 * same relay when their scheme, host, port (the scheme's default filled in) and path (trailing
 * slashes dropped) are equal; the query and fragment (`?format=toon`) do not count. The town
 * checks an AUTH's `relay` tag with it; a provider, a request's `relays` tag against its towns.
 *
 * @module
 */

/**
 * A relay URL reduced to what names the relay (`scheme://host[:port][/path]`, lowercase host,
 * default port and trailing slashes dropped, no query), or undefined when it is no `ws://` or
 * `wss://` URL.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { relayUrlKey } from "./relay_url_key.ts";
 *
 * assert.deepEqual(relayUrlKey("wss://Town.example:443/?format=toon"), "wss://town.example");
 * assert.deepEqual(relayUrlKey("ws://127.0.0.1:7100/relay/"), "ws://127.0.0.1:7100/relay");
 * assert.deepEqual(relayUrlKey("https://town.example"), undefined);
 * ```
 */
export function relayUrlKey(url: string): string | undefined {
  let parsed: URL;
  try {
    parsed = new URL(url.trim());
  } catch {
    return undefined;
  }
  if (parsed.protocol !== "ws:" && parsed.protocol !== "wss:") return undefined;
  if (parsed.username !== "" || parsed.password !== "") return undefined;
  // The WHATWG parser drops a scheme's default port (80 for ws, 443 for wss) already.
  return `${parsed.protocol}//${parsed.host}${parsed.pathname.replace(/\/+$/, "")}`;
}
