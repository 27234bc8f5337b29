/**
 * The profile's `ca_file` (`TURNPIKE_CA_FILE`, `--ca-file`; config/settings.ts): its CAs are
 * trusted by every TLS client of the process from the moment the settings are loaded
 * (transport/tls_trust.ts), so a town whose certificate a private CA signed is reached over
 * `wss://`, `btp+wss://` and `https://` (docs/OPERATIONS.md "A town on the internet").
 *
 * @module
 */
import { ConfigError, type SettingSource } from "./config_error.ts";

/**
 * The trust module, imported when a profile has a `ca_file`: a command that only reads local
 * files loads no transport code for it (docs/SCALE.md "A command's start"; as cli/lazy_import.ts).
 */
const TLS_TRUST = new URL("../transport/tls_trust.ts", import.meta.url);

/**
 * Trusts the CAs of `file` in this process; nothing without one.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { trustSettingsCaFile } from "./ca_file.ts";
 *
 * await trustSettingsCaFile(undefined); // no ca_file: the system's CAs only
 * await trustSettingsCaFile("/nonexistent/ca.pem").then(
 *   () => assert(false, "a missing file is refused"),
 *   (err) => assert(err.key === "caFile" && err.message.includes("ca_file")),
 * );
 * ```
 * @throws {ConfigError} naming `ca_file` when the file cannot be read or holds no certificate.
 */
export async function trustSettingsCaFile(
  file: string | undefined,
  source?: SettingSource,
): Promise<void> {
  if (file === undefined) return;
  const { trustCaFile } = await (import(TLS_TRUST.href) as Promise<
    typeof import("../transport/tls_trust.ts")
  >);
  try {
    await trustCaFile(file);
  } catch (err) {
    throw new ConfigError(`ca_file: ${(err as Error).message}`, {
      key: "caFile",
      source,
      cause: err,
    });
  }
}
