/**
 * The one table of EVM chains turnpike knows by chain id, and the network label each gets:
 * `local`, `testnet` or `mainnet`. A chain id not in the table is `unknown` and treated as real
 * funds: like a mainnet it needs the explicit `--mainnet` flag on every command that moves funds
 * (docs/OPERATIONS.md "A chain of your choice"). The label every command prints comes from here,
 * never from a separate setting.
 *
 * @module
 */

/** The network a chain id is on; `unknown` is a chain id outside {@linkcode KNOWN_CHAINS}. */
export type ChainNetwork = "local" | "testnet" | "mainnet" | "unknown";

/** One row of the table. */
export interface KnownChain {
  /** The EVM chain id (`eth_chainId`). */
  chainId: number;
  /** Its name as people call it. */
  name: string;
  /** Local, test net or main net. */
  network: Exclude<ChainNetwork, "unknown">;
}

/** The chains turnpike knows, by chain id: Ethereum, Base, Optimism, Arbitrum, Polygon, local. */
export const KNOWN_CHAINS: readonly KnownChain[] = [
  { chainId: 1, name: "Ethereum", network: "mainnet" },
  { chainId: 11155111, name: "Sepolia", network: "testnet" },
  { chainId: 8453, name: "Base", network: "mainnet" },
  { chainId: 84532, name: "Base Sepolia", network: "testnet" },
  { chainId: 10, name: "Optimism", network: "mainnet" },
  { chainId: 11155420, name: "OP Sepolia", network: "testnet" },
  { chainId: 42161, name: "Arbitrum One", network: "mainnet" },
  { chainId: 421614, name: "Arbitrum Sepolia", network: "testnet" },
  { chainId: 137, name: "Polygon", network: "mainnet" },
  { chainId: 80002, name: "Polygon Amoy", network: "testnet" },
  { chainId: 31337, name: "local anvil", network: "local" },
  { chainId: 1337, name: "local hardhat", network: "local" },
];

const BY_ID = new Map(KNOWN_CHAINS.map((c) => [c.chainId, c]));

/**
 * The table's row for a chain id, or a row named `chain <id>` on the `unknown` network.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * assert.deepEqual(knownChain(8453), { chainId: 8453, name: "Base", network: "mainnet" });
 * assert.equal(knownChain(999).network, "unknown");
 * ```
 */
export function knownChain(chainId: number): {
  chainId: number;
  name: string;
  network: ChainNetwork;
} {
  return BY_ID.get(chainId) ?? { chainId, name: `chain ${chainId}`, network: "unknown" };
}

/**
 * Whether funds on this network are real: mainnet, and any chain the table does not know.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * assert.equal(isRealFunds("unknown"), true);
 * assert.equal(isRealFunds("testnet"), false);
 * ```
 */
export function isRealFunds(network: ChainNetwork): boolean {
  return network === "mainnet" || network === "unknown";
}

/**
 * The label of a network as printed: `local`, `testnet`, `mainnet`, or
 * `unknown: treated as real funds`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * assert.equal(networkText("unknown"), "unknown: treated as real funds");
 * ```
 */
export function networkText(network: ChainNetwork): string {
  return network === "unknown" ? "unknown: treated as real funds" : network;
}

/**
 * Of several networks, the one whose funds are most at stake (unknown, mainnet, testnet, local):
 * a profile set up for two chains is labelled by the riskier one.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * assert.equal(riskiestNetwork(["local", "mainnet"]), "mainnet");
 * assert.equal(riskiestNetwork([]), undefined);
 * ```
 */
export function riskiestNetwork(networks: Iterable<ChainNetwork>): ChainNetwork | undefined {
  const order: ChainNetwork[] = ["unknown", "mainnet", "testnet", "local"];
  const seen = new Set(networks);
  return order.find((n) => seen.has(n));
}

/**
 * The numeric chain id of a chain id string `evm:<name>:<chain id>` (the name is free:
 * `evm:base:8453`, `evm:ethereum:1`), or undefined when it is not of that form.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * assert.equal(parseChainId("evm:optimism:10"), 10);
 * assert.equal(parseChainId("base-8453"), undefined);
 * ```
 */
export function parseChainId(id: string): number | undefined {
  const m = /^evm:[a-z0-9-]+:([0-9]{1,12})$/.exec(id);
  return m === null ? undefined : Number(m[1]);
}

/**
 * The network of the chains a profile sets up (`[chains."<id>"]` tables, `[channels] chains`
 * and the `chain` setting), by config/known_chains.ts's table: the riskiest of them (unknown,
 * mainnet, testnet, local); undefined when it names no chain.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * assert.equal(networkOfChains({ chains: { "evm:base:84532": {} } }), "testnet");
 * assert.equal(networkOfChains({ chains: { "evm:base:8453": {} } }), "mainnet");
 * ```
 */
export function networkOfChains(
  sections: Record<string, Record<string, unknown>>,
  chain?: string,
): ChainNetwork | undefined {
  return riskiestNetwork(profileChainIds(sections, chain).map(networkOfChainId));
}

/**
 * The network of a chain id string by the table (`unknown` for one not of the form
 * `evm:<name>:<chain id>` too).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * assert.equal(networkOfChainId("evm:base:84532"), "testnet");
 * ```
 */
export function networkOfChainId(id: string): ChainNetwork {
  const chainId = parseChainId(id);
  return chainId === undefined ? "unknown" : knownChain(chainId).network;
}

/**
 * The chain id strings a profile sets up: `[chains."<id>"]` tables, `[channels] chains` and the
 * `chain` setting.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * assert.deepEqual(profileChainIds({ chains: { "evm:base:8453": {} } }), ["evm:base:8453"]);
 * ```
 */
export function profileChainIds(
  sections: Record<string, Record<string, unknown>>,
  chain?: string,
): string[] {
  const listed = sections.channels?.chains;
  return [
    ...new Set([
      ...Object.keys(sections.chains ?? {}),
      ...(Array.isArray(listed) ? listed.filter((c): c is string => typeof c === "string") : []),
      ...(chain === undefined ? [] : [chain]),
    ]),
  ];
}
