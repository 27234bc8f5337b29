/**
 * The plain relays of a profile (docs/OPERATIONS.md "Plain relays"): Nostr relays that are not
 * towns, where writes are free and nothing is paid. Each `[[relays]]` entry of config.toml names
 * one; `paid = false` says so (a paid relay is a town: `[[towns]]`):
 *
 * ```toml
 * [[relays]]
 * url = "wss://relay.example.org"
 * paid = false
 * ```
 *
 * @module
 */
import { ConfigError } from "./config_error.ts";
import type { ConfigFileContent } from "./settings.ts";
import { urlSetting } from "./setting_codecs.ts";

/** Most plain relays a profile follows: each is one more subscription and socket. */
export const MAX_PLAIN_RELAYS = 8;

/** Options for {@linkcode resolvePlainRelays}. */
export interface PlainRelaysOptions {
  /** Allow `ws://` to hosts off loopback. */
  allowInsecure?: boolean;
}

const KEYS = new Set(["url", "paid"]);

/**
 * The relay URLs of the `[[relays]]` entries (config/settings.ts keeps them as a table by
 * position: `relay-1`, `relay-2`...); absent: none.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * assert.deepEqual(resolvePlainRelays({ "relay-1": { url: "ws://127.0.0.1:7300", paid: false } }),
 *   ["ws://127.0.0.1:7300"]);
 * ```
 * @throws {ConfigError} naming the entry and the key at fault.
 */
export function resolvePlainRelays(
  table: Record<string, unknown> | undefined,
  options: PlainRelaysOptions = {},
): string[] {
  if (table === undefined) return [];
  const urls: string[] = [];
  for (const [name, value] of Object.entries(table)) {
    const where = `[[relays]] entry ${name.replace("relay-", "")}`;
    if (typeof value !== "object" || value === null || Array.isArray(value)) {
      throw new ConfigError(`${where} must be a table (url, paid = false)`);
    }
    const entry = value as Record<string, unknown>;
    for (const key of Object.keys(entry)) {
      if (!KEYS.has(key)) {
        throw new ConfigError(`unknown key "${key}" in ${where}; known keys: url, paid`);
      }
    }
    if (entry.paid !== undefined && entry.paid !== false) {
      throw new ConfigError(
        `${where}: paid must be false (a relay that is paid is a town: list it in [[towns]])`,
      );
    }
    if (typeof entry.url !== "string" || entry.url === "") {
      throw new ConfigError(`${where} needs url (ws:// or wss://)`);
    }
    urlSetting(entry.url, `relays.${name}.url`, `${where} url`, undefined, {
      schemes: ["ws:", "wss:"],
      allowInsecure: options.allowInsecure,
    });
    if (!urls.includes(entry.url)) urls.push(entry.url);
  }
  if (urls.length > MAX_PLAIN_RELAYS) {
    throw new ConfigError(`at most ${MAX_PLAIN_RELAYS} [[relays]] (${urls.length} listed)`);
  }
  return urls;
}

/**
 * The `[[relays]]` entries as the table config/settings.ts keeps them in `sections.relays`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * assert.deepEqual(plainRelayArrayAsTable([{ url: "ws://a" }]), { "relay-1": { url: "ws://a" } });
 * ```
 */
export function plainRelayArrayAsTable(entries: readonly unknown[]): Record<string, unknown> {
  return Object.fromEntries(entries.map((entry, i) => [`relay-${i + 1}`, entry]));
}

/**
 * The profile's plain relays: {@linkcode resolvePlainRelays} of its config's `[[relays]]`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { profilePlainRelays } from "./plain_relays.ts";
 * import { parseConfigText } from "./settings.ts";
 *
 * const file = parseConfigText('[[relays]]\nurl = "ws://127.0.0.1:7300"\npaid = false\n');
 * assert.deepEqual(profilePlainRelays(file), ["ws://127.0.0.1:7300"]);
 * ```
 * @throws {ConfigError} naming the entry and the key at fault.
 */
export function profilePlainRelays(
  config: Pick<ConfigFileContent, "sections">,
  options: PlainRelaysOptions = {},
): string[] {
  return resolvePlainRelays(config.sections.relays, options);
}
