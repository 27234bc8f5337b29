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
 * It reads the profile the command's flags name, so it has no example that runs here:
 * tests/e2e/job_results_save_fetch_test.ts
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
