/**
 * The more towns of a profile (docs/OPERATIONS.md, "Several towns"): besides the home town
 * (`relay_url`, `connector_btp_url`, `btp_token`), each `[towns.<name>]` table of config.toml
 * names one more town a node follows, announces on and posts jobs on:
 *
 * ```toml
 * [towns.b]
 * relay_url = "ws://127.0.0.1:7200"
 * btp_url = "btp+ws://127.0.0.1:7201"   # a requester's own uplink to it; a provider's is optional
 * btp_token = "secret"
 * town_pubkey = "<64 hex>"              # optional: else its NIP-11 `self`
 * town_address = "g.example.b"          # optional: else its NIP-11 fee address
 * ```
 *
 * @module
 */
import { ConfigError } from "./config_error.ts";
import type { ConfigFileContent } from "./settings.ts";
import { urlSetting } from "./setting_codecs.ts";

/** One more town of the profile. */
export interface TownEndpoint {
  /** The table's name (`[towns.<name>]`). */
  name?: string;
  /** NIP-01 URL of the town (`ws://` or `wss://`). */
  relayUrl: string;
  /** BTP URL of the town or of a connector in front of it (`btp+ws://`, `btp+wss://`). */
  btpUrl: string;
  btpToken: string;
  /** The town's Nostr pubkey; default its NIP-11 `self`. */
  townPubkey?: string;
  /** The town's ILP address; default its NIP-11 fee address, else the IL-DCP parent. */
  townAddress?: string;
}

/** Options for {@linkcode resolveTownList}. */
export interface TownListOptions {
  /** Allow `ws://` / `btp+ws://` to hosts off loopback. */
  allowInsecure?: boolean;
  /** Whether each town needs its BTP URL (a requester's); default true. */
  requireBtp?: boolean;
}

const KEYS = new Set(["relay_url", "btp_url", "btp_token", "town_pubkey", "town_address"]);

/**
 * Reads the `[towns]` table of config.toml (absent: no more towns).
 *
 * @example
 * ```ts
 * resolveTownList({ b: { relay_url: "ws://127.0.0.1:7200", btp_url: "btp+ws://127.0.0.1:7201",
 *   btp_token: "t" } });
 * // [{ name: "b", relayUrl: "ws://127.0.0.1:7200", btpUrl: "btp+ws://127.0.0.1:7201", btpToken: "t" }]
 * ```
 * @throws {ConfigError} naming the table and the key at fault.
 */
export function resolveTownList(
  table: Record<string, unknown> | undefined,
  options: TownListOptions = {},
): TownEndpoint[] {
  if (table === undefined) return [];
  const towns: TownEndpoint[] = [];
  for (const [name, value] of Object.entries(table)) {
    const where = `[towns.${name}]`;
    if (typeof value !== "object" || value === null || Array.isArray(value)) {
      throw new ConfigError(`${where} must be a table (relay_url, btp_url, btp_token)`);
    }
    const t = value as Record<string, unknown>;
    for (const key of Object.keys(t)) {
      if (!KEYS.has(key)) {
        throw new ConfigError(
          `unknown key "${key}" in ${where}; known keys: ${[...KEYS].join(", ")}`,
        );
      }
    }
    const text = (key: string): string | undefined => {
      const v = t[key];
      if (v === undefined) return undefined;
      if (typeof v !== "string" || v === "") {
        throw new ConfigError(`${where} ${key} must be a non-empty string`);
      }
      return v;
    };
    const relayUrl = text("relay_url");
    if (relayUrl === undefined) throw new ConfigError(`${where} needs relay_url`);
    checkUrl(where, "relay_url", relayUrl, ["ws:", "wss:"], options.allowInsecure);
    const btpUrl = text("btp_url");
    if (btpUrl === undefined && (options.requireBtp ?? true)) {
      throw new ConfigError(`${where} needs btp_url (this node's uplink to that town)`);
    }
    if (btpUrl !== undefined) {
      checkUrl(where, "btp_url", btpUrl, ["btp+ws:", "btp+wss:"], options.allowInsecure);
    }
    const townPubkey = text("town_pubkey");
    if (townPubkey !== undefined && !/^[0-9a-f]{64}$/.test(townPubkey)) {
      throw new ConfigError(`${where} town_pubkey must be 64 lowercase hex`);
    }
    towns.push({
      name,
      relayUrl,
      btpUrl: btpUrl ?? "",
      btpToken: text("btp_token") ?? "",
      townPubkey,
      townAddress: text("town_address"),
    });
  }
  return towns;
}

function checkUrl(
  where: string,
  key: string,
  value: string,
  schemes: string[],
  allowInsecure = false,
): void {
  // `where` is `[towns.<name>]`: the key is `towns.<name>.<key>`.
  urlSetting(value, `${where.slice(1, -1)}.${key}`, `${where} ${key}`, undefined, {
    schemes,
    allowInsecure,
  });
}

/**
 * The profile's more towns: {@linkcode resolveTownList} of its config's `[towns]` table
 * (`loadSettings`'s result or a parsed file fits).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { profileTowns } from "./town_list.ts";
 * import { loadSettings } from "./settings.ts";
 *
 * const env = () => undefined; // no TURNPIKE_* variables
 * const loaded = await loadSettings({ readFile: false, flags: { stateDir: "/srv/turnpike" }, env });
 * assert.deepEqual(profileTowns(loaded), []);
 * ```
 * @throws {ConfigError} naming the table and the key at fault.
 */
export function profileTowns(
  config: Pick<ConfigFileContent, "sections">,
  options: TownListOptions = {},
): TownEndpoint[] {
  return resolveTownList(config.sections.towns, options);
}
