/**
 * The URLs a NIP-42 answer may name as the town (docs/PROTOCOL.md "Private events: NIP-42
 * AUTH"): the operator's public relay URLs (`[town] public_relay_url`) when set, else the URLs the
 * town listens on (`ws://` or, with a certificate, `wss://`, its host and bound port; a wildcard
 * host stands for every address of the machine and `localhost`). Never the request's `Host`
 * header: a relay in the middle forges that header on its own connection to the town and hands
 * the town's challenge to a victim, whose answer names the relay in the middle.
 *
 * Two URLs name the same relay when their scheme, host, port (the scheme's default filled in) and
 * path (trailing slashes dropped) are equal; the query and fragment (`?format=toon`) do not count.
 *
 * @module
 */
import { relayUrlKey } from "../../../protocol/relay_url_key.ts";

/** Options for {@linkcode townRelayUrls}. */
export interface TownRelayUrlsOptions {
  /** The address the NIP-01 port is bound to (`127.0.0.1`, `0.0.0.0`, `::`...). */
  host: string;
  /** The bound port (after a `0` was resolved). */
  port: number;
  /** Whether the port serves TLS (`wss://`). */
  tls: boolean;
  /** The operator's public relay URLs; when non-empty, they are the answer. */
  publicUrls?: readonly string[];
  /** The machine's addresses (default `Deno.networkInterfaces()`, none without `--allow-sys`). */
  interfaces?: () => readonly string[];
}

/**
 * The town's relay URLs, each as {@linkcode relayUrlKey} keys it.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { townRelayUrls } from "./relay_urls.ts";
 *
 * assert.deepEqual(townRelayUrls({ host: "127.0.0.1", port: 7100, tls: false }), [
 *   "ws://127.0.0.1:7100",
 *   "ws://localhost:7100",
 * ]);
 * assert.deepEqual(
 *   townRelayUrls({ host: "0.0.0.0", port: 443, tls: true, publicUrls: ["wss://Town.example/"] }),
 *   ["wss://town.example"],
 * );
 * ```
 */
export function townRelayUrls(options: TownRelayUrlsOptions): string[] {
  const keys = new Set<string>();
  const add = (url: string) => {
    const key = relayUrlKey(url);
    if (key !== undefined) keys.add(key);
  };
  if (options.publicUrls !== undefined && options.publicUrls.length > 0) {
    options.publicUrls.forEach(add);
    return [...keys];
  }
  const scheme = options.tls ? "wss" : "ws";
  const bare = options.host.replace(/^\[(.*)\]$/, "$1");
  const hosts = isWildcard(bare)
    ? [...(options.interfaces ?? machineAddresses)(), "localhost"]
    : isLoopback(bare)
    ? [bare, "localhost"]
    : [bare];
  for (const host of hosts) {
    add(`${scheme}://${host.includes(":") ? `[${host}]` : host}:${options.port}`);
  }
  return [...keys];
}

function isWildcard(host: string): boolean {
  return host === "0.0.0.0" || host === "::" || host === "";
}

function isLoopback(host: string): boolean {
  return host === "localhost" || host === "::1" || /^127\./.test(host);
}

function machineAddresses(): string[] {
  try {
    return Deno.networkInterfaces().map((i) => i.address.replace(/%.*$/, ""));
  } catch {
    // No --allow-sys: the operator's public_relay_url is then the way to name the town.
    return [];
  }
}
