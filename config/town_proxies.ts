/**
 * The proxies a town trusts to name its clients (docs/OPERATIONS.md "A town on the internet"):
 * `--trusted-proxy <address>` (repeat), `TURNPIKE_TOWN_TRUSTED_PROXIES` (comma-separated) or
 * `[town] trusted_proxies = ["10.0.0.5"]`. A connection from one of these addresses must start
 * with a PROXY header (HAProxy's `send-proxy-v2`; transport/proxy_protocol.ts) and counts as the
 * client it names for every per-address limit; other connections are counted as they come.
 *
 * @module
 */
import { ConfigError } from "./config_error.ts";
import type { RoleSettingPicker } from "./settings.ts";

const IPV4 = /^(25[0-5]|2[0-4]\d|1?\d?\d)(\.(25[0-5]|2[0-4]\d|1?\d?\d)){3}$/;
const IPV6 = /^[0-9a-f:]+$/i;

/**
 * The trusted proxies' addresses (empty: none).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { resolveTrustedProxies } from "./town_proxies.ts";
 *
 * const pick = (flag: unknown) => flag;
 * assert(resolveTrustedProxies(pick, ["127.0.0.1"], false)[0] === "127.0.0.1");
 * assert(resolveTrustedProxies(pick, undefined, true).length === 0);
 * ```
 * @throws {ConfigError} for a value that is not an IP address, or proxies on a town that serves
 * TLS itself (a PROXY header comes before TLS, which the town's own TLS port does not read).
 */
export function resolveTrustedProxies(
  pick: RoleSettingPicker,
  flags: string[] | undefined,
  townServesTls: boolean,
): string[] {
  const given = pick(flags, "TURNPIKE_TOWN_TRUSTED_PROXIES", "trusted_proxies");
  if (given === undefined) return [];
  const list = typeof given === "string" ? given.split(",") : given;
  if (!Array.isArray(list)) {
    throw new ConfigError("trusted_proxies must be a list of IP addresses", {
      key: "trustedProxies",
    });
  }
  const addresses = list.map((a) => String(a).trim()).filter((a) => a !== "");
  for (const a of addresses) {
    if (!IPV4.test(a) && !(a.includes(":") && IPV6.test(a))) {
      throw new ConfigError(`trusted_proxies: "${a}" is not an IP address`, {
        key: "trustedProxies",
      });
    }
  }
  if (addresses.length > 0 && townServesTls) {
    throw new ConfigError(
      "trusted_proxies and tls_cert do not go together: a proxy that passes the client's " +
        "address terminates TLS itself and connects to the town's plain ports",
      { key: "trustedProxies" },
    );
  }
  return addresses.map((a) => a.toLowerCase());
}
