/**
 * The network line every command that touches a town, a chain or money prints first, so nobody
 * spends real funds by mistake: `Network: local (test funds)`, `Network: testnet (test funds)`,
 * `Network: MAINNET (real funds)`. Human output gets it on stderr (stdout stays the command's
 * output); JSON output carries the same as a `network` field.
 *
 * @module
 */
import type { Network } from "../config/settings.ts";

/** The network as JSON output carries it. */
export interface NetworkField {
  /** `local`, `testnet` or `mainnet`. */
  name: Network;
  /** True on mainnet only. */
  realFunds: boolean;
  /** The line text mode prints. */
  line: string;
}

/**
 * The network field of JSON output.
 *
 * @example
 * ```ts
 * networkField("mainnet"); // { name: "mainnet", realFunds: true, line: "Network: MAINNET (real funds)" }
 * ```
 */
export function networkField(network: Network): NetworkField {
  const realFunds = network === "mainnet";
  const line = realFunds ? "Network: MAINNET (real funds)" : `Network: ${network} (test funds)`;
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
