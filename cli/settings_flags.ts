/**
 * Turning a command's parsed options into the {@linkcode SettingsFlags} that
 * `config/settings.ts` ranks above the environment and the config file. Shared so every
 * command treats `--profile` and boolean flags alike.
 *
 * @module
 */
import type { Command } from "commander";
import type { SettingKey, SettingsFlags } from "../config/settings.ts";
import type { GlobalOptions } from "./global_options.ts";

/**
 * The settings a command that connects to a town takes as flags (`--relay-url`,
 * `--connector-btp-url`, `--price-per-byte`, `--price-ceiling`, `--allow-insecure`,
 * `--btp-token`): `node up` and the requester's commands.
 */
export const TOWN_CONNECTION_FLAGS = [
  "relayUrl",
  "connectorBtpUrl",
  "pricePerByte",
  "priceCeiling",
  "allowInsecure",
  "btpToken",
] as const;

/**
 * The `--profile` the user typed, or undefined when it is the root's default. The root gives
 * `--profile` a default so help can show it; only an explicit one may beat `TURNPIKE_PROFILE`,
 * so commander is asked where the value came from.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { Command } from "commander";
 * import { explicitProfile } from "./settings_flags.ts";
 *
 * const cmd = new Command("turnpike").option("--profile <name>", "the profile", "default");
 * cmd.parse(["--profile", "alice"], { from: "user" });
 * assert.equal(explicitProfile(cmd.opts(), cmd), "alice");
 * ```
 */
export function explicitProfile(opts: GlobalOptions, cmd: Command): string | undefined {
  const source = cmd.getOptionValueSourceWithGlobals("profile");
  return source === "default" || source === undefined ? undefined : opts.profile;
}

/**
 * Collects the given settings from the command's options: the explicit `--profile`,
 * `--state-dir`, then each of `keys` the user gave. A boolean flag counts only when set, so
 * an absent `--allow-insecure` leaves the environment and config file in charge.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { Command } from "commander";
 * import { settingsFlagsFrom } from "./settings_flags.ts";
 *
 * const cmd = new Command("turnpike").option("--relay-url <url>").option("--allow-insecure");
 * cmd.parse(["--relay-url", "ws://127.0.0.1:7100"], { from: "user" });
 * const flags = settingsFlagsFrom(cmd.opts(), cmd, ["relayUrl", "allowInsecure"]);
 * assert.deepEqual(flags, { relayUrl: "ws://127.0.0.1:7100" }); // no --allow-insecure: not set
 * ```
 */
export function settingsFlagsFrom<T extends GlobalOptions>(
  opts: T,
  cmd: Command,
  keys: readonly (SettingKey & keyof T)[],
): SettingsFlags {
  const flags: SettingsFlags = {};
  const profile = explicitProfile(opts, cmd);
  if (profile !== undefined) flags.profile = profile;
  if (opts.stateDir !== undefined) flags.stateDir = opts.stateDir;
  for (const key of keys) {
    const value: unknown = opts[key];
    if (typeof value === "boolean") {
      if (value) flags[key] = true;
    } else if (typeof value === "string" || typeof value === "number") {
      flags[key] = value;
    }
  }
  return flags;
}
