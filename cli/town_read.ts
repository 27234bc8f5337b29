/**
 * What the commands that only read a town (`providers`, `stats --network`, `dash`) share: the
 * relay URL and network from the settings (`--relay-url`, env, config.toml), and relay failures
 * as CLI errors.
 *
 * @module
 */
import type { Command } from "commander";
import { loadSettings, type Network } from "../config/settings.ts";
import { ConfigError } from "../config/config_error.ts";
import { profileTowns } from "../config/town_list.ts";
import type { RelayQueryError } from "../transport/relay_query.ts";
import { CLI_ERRORS, errorCase, toCliError } from "./cli_error_map.ts";
import { settingsFlagsFrom } from "./settings_flags.ts";
import type { GlobalOptions } from "./global_options.ts";

/** Flags of a town-reading command. */
export interface TownReadFlags extends GlobalOptions {
  relayUrl?: string;
  allowInsecure?: boolean;
}

/** Where to read and which network it is. */
export interface TownReadTarget {
  relayUrl: string;
  /** The profile's more towns (`[towns.<name>]`), read too; none when `--relay-url` names one. */
  moreRelays: string[];
  network: Network;
  stateDir: string;
}

/**
 * Adds `--relay-url` and `--allow-insecure` to a command.
 *
 * @example
 * ```ts
 * import { Command } from "commander";
 *
 * const program = new Command("turnpike");
 * addTownReadOptions(program.command("providers"));
 * ```
 */
export function addTownReadOptions(cmd: Command): Command {
  return cmd
    .option("--relay-url <url>", "the town's NIP-01 URL (default ws://127.0.0.1:7100)")
    .option("--allow-insecure", "allow a non-loopback ws:// URL");
}

/**
 * The relay URL, network and state dir from flags, env and config.toml; a bad one exits 2.
 *
 * It reads the profile the command's flags name, so it has no example that runs here:
 * tests/e2e/cli_test.ts
 */
export async function townReadTarget(opts: TownReadFlags, cmd: Command): Promise<TownReadTarget> {
  try {
    const loaded = await loadSettings({
      flags: settingsFlagsFrom(opts, cmd, ["relayUrl", "allowInsecure"]),
    });
    const { settings, sources } = loaded;
    const towns = sources.relayUrl.kind === "flag" ? [] : profileTowns(loaded, {
      allowInsecure: settings.allowInsecure,
      requireBtp: false,
    });
    return {
      relayUrl: settings.relayUrl,
      moreRelays: towns.map((t) => t.relayUrl),
      network: settings.network,
      stateDir: settings.stateDir,
    };
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    throw CLI_ERRORS.badSetting(err);
  }
}

/**
 * A relay read's failure as a CLI error (`town-unreachable`, exit 1); other errors unchanged.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { townReadError } from "./town_read.ts";
 *
 * const plain = new Error("disk full"); // not a town read's: passed on as it was
 * assert.equal(townReadError(plain, "ws://127.0.0.1:7100"), plain);
 * ```
 */
export function townReadError(err: unknown, relayUrl: string): unknown {
  return toCliError(err, [
    errorCase<RelayQueryError>("RelayQueryError", (e) => CLI_ERRORS.townUnread(e, relayUrl)),
  ]);
}
