/**
 * The network line every command that touches a town, a chain or money prints first, so nobody
 * spends real funds by mistake: `Network: local (test funds)`, `Network: testnet (test funds)`,
 * `Network: MAINNET (real funds)`, `Network: unknown: treated as real funds` (a chain id outside
 * config/known_chains.ts's table). The network is the label of the profile's chains from that
 * table (config/settings.ts), never a separate guess. Human output gets it on stderr (stdout stays the command's
 * output); JSON output carries the same as a `network` field.
 *
 * @module
 */
import type { Network } from "../config/settings.ts";
import { isRealFunds, networkText } from "../config/known_chains.ts";

/** The network as JSON output carries it. */
export interface NetworkField {
  /** `local`, `testnet`, `mainnet` or `unknown`. */
  name: Network;
  /** True on mainnet and on an unknown chain. */
  realFunds: boolean;
  /** The line text mode prints. */
  line: string;
}

/**
 * The network field of JSON output.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { networkField } from "./network_line.ts";
 *
 * assert.deepEqual(networkField("mainnet"), {
 *   name: "mainnet",
 *   realFunds: true,
 *   line: "Network: MAINNET (real funds)",
 * });
 * ```
 */
export function networkField(network: Network): NetworkField {
  const realFunds = isRealFunds(network);
  const line = network === "mainnet"
    ? "Network: MAINNET (real funds)"
    : realFunds
    ? `Network: ${networkText(network)}`
    : `Network: ${network} (test funds)`;
  return { name: network, realFunds, line };
}

/**
 * Prints the network line on stderr (in every output mode: JSON mode keeps stdout for JSON).
 *
 * @example
 * ```ts
 * printNetworkLine("local"); // stderr: Network: local (test funds)
 * ```
 */
export function printNetworkLine(network: Network): NetworkField {
  const field = networkField(network);
  console.error(field.line);
  return field;
}
