/**
 * Where a requester profile fetches a result's blobs by hash: its towns' Blossom servers, never
 * a URL a provider names (docs/PROTOCOL.md "Outputs").
 *
 * @module
 */
import type { Command } from "commander";
import { loadSettings } from "../config/settings.ts";
import { profileTowns, type TownEndpoint } from "../config/town_list.ts";
import { blobServerOf } from "../transport/relay_info.ts";
import { CLI_ERRORS } from "./cli_error_map.ts";
import type { RequesterCliOptions } from "./job_read_command.ts";
import { settingsFlagsFrom, TOWN_CONNECTION_FLAGS } from "./settings_flags.ts";

/**
 * The profile's towns' Blossom servers (`relay_url` first, then `[towns]`): where a result's
 * blobs are fetched by hash (roles/requester/town_blob_fetch.ts).
 *
 * @example
 * ```ts
 * import { profileBlobServers } from "./profile_blob_servers.ts";
 * import type { RequesterCliOptions } from "./job_read_command.ts";
 * import type { Command } from "commander";
 *
 * declare const opts: RequesterCliOptions;
 * declare const cmd: Command;
 * console.log(await profileBlobServers(opts, cmd)); // ["http://127.0.0.1:7100"]
 * ```
 */
export async function profileBlobServers(
  opts: RequesterCliOptions,
  cmd: Command,
): Promise<string[]> {
  const loaded = await loadSettings({
    flags: settingsFlagsFrom(opts, cmd, TOWN_CONNECTION_FLAGS),
  }).catch((err) => {
    throw CLI_ERRORS.usage(err as Error);
  });
  let more: TownEndpoint[];
  try {
    more = profileTowns(loaded);
  } catch (err) {
    throw CLI_ERRORS.usage(err as Error);
  }
  const relays = [loaded.settings.relayUrl, ...more.map((t) => t.relayUrl)];
  return [...new Set(relays.map(blobServerOf))];
}
