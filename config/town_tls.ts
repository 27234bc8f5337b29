/**
 * The town's certificate (docs/OPERATIONS.md "A town on the internet"): `--tls-cert <pem>` and
 * `--tls-key <pem>`, `TURNPIKE_TOWN_TLS_CERT` and `TURNPIKE_TOWN_TLS_KEY`, or `[town] tls_cert`
 * and `tls_key` (the town's precedence, config/settings.ts `roleSettingPicker`). Both or neither:
 * with them the town serves `wss://`, `https://` and `btp+wss://` on its ports, without them
 * plain `ws://`, `http://` and `btp+ws://`.
 *
 * @module
 */
import { ConfigError } from "./config_error.ts";
import { filePathSetting } from "./setting_codecs.ts";
import type { RoleSettingPicker } from "./settings.ts";

/** The files of the town's certificate chain and private key (PEM), read again on SIGHUP. */
export interface TownTls {
  certFile: string;
  keyFile: string;
}

/**
 * The town's certificate files, or undefined without them.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { resolveTownTls } from "./town_tls.ts";
 *
 * const pick = (flag: unknown) => flag;
 * const tls = resolveTownTls(pick, { tlsCert: "/etc/town/cert.pem", tlsKey: "/etc/town/key.pem" });
 * assert(tls?.keyFile === "/etc/town/key.pem");
 * assert(resolveTownTls(pick, {}) === undefined);
 * ```
 * @throws {ConfigError} when only one of the two is given, or a value is not a path.
 */
export function resolveTownTls(
  pick: RoleSettingPicker,
  flags: { tlsCert?: string; tlsKey?: string },
): TownTls | undefined {
  const cert = pick(flags.tlsCert, "TURNPIKE_TOWN_TLS_CERT", "tls_cert");
  const key = pick(flags.tlsKey, "TURNPIKE_TOWN_TLS_KEY", "tls_key");
  if (cert === undefined && key === undefined) return undefined;
  if (cert === undefined || key === undefined) {
    throw new ConfigError(
      "tls_cert and tls_key go together: give both (--tls-cert and --tls-key) or neither",
      { key: cert === undefined ? "tlsCert" : "tlsKey" },
    );
  }
  return {
    certFile: filePathSetting(cert, "tlsCert", "tls_cert"),
    keyFile: filePathSetting(key, "tlsKey", "tls_key"),
  };
}
