/**
 * The network a profile is labelled with comes from its chains through the one table of known
 * chains (config/known_chains.ts): a profile set up for Base Sepolia is on the testnet, one set
 * up for Base on mainnet (it printed "local (test funds)"), an unknown chain id is treated as
 * real funds; the `network` setting names it only for a profile with no chain. Resolving a chain
 * of real funds needs `allowMainnet` (`--mainnet`), its refusal naming the chain and the flag.
 */
import { assertEquals, assertThrows } from "../../../harness/assert.ts";
import { loadSettings } from "../../../config/settings.ts";
import {
  KNOWN_CHAINS,
  knownChain,
  networkOfChains,
  networkText,
} from "../../../config/known_chains.ts";
import {
  MainnetConsentError,
  networkLabel,
  resolveChainConfig,
} from "../../../config/chain_config.ts";
import { networkField } from "../../../cli/network_line.ts";

async function networkWith(toml: string, env: Record<string, string> = {}) {
  const dir = await Deno.makeTempDir({ prefix: "network_label_" });
  try {
    await Deno.writeTextFile(`${dir}/config.toml`, toml);
    const loaded = await loadSettings({ flags: { stateDir: dir }, env: (n) => env[n] });
    return loaded.settings.network;
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

Deno.test("network label: from the configured chains through the table, whatever the network setting says", async () => {
  assertEquals(
    await networkWith('[chains."evm:base:84532"]\nrpc_url = "https://sepolia.base.org"\n'),
    "testnet",
  );
  assertEquals(await networkWith('[channels]\nchains = ["evm:base:84532"]\n'), "testnet");
  assertEquals(
    await networkWith('[chains."evm:base:31337"]\nrpc_url = "http://127.0.0.1:8545"\n'),
    "local",
  );
  assertEquals(await networkWith(""), "local");
  // Base: mainnet (it was "local (test funds)"), even with the network setting saying local.
  assertEquals(await networkWith('[chains."evm:base:8453"]\nrpc_url = "http://x:1"\n'), "mainnet");
  assertEquals(await networkWith('network = "local"\n[chains."evm:base:8453"]\n'), "mainnet");
  assertEquals(
    await networkWith('[chains."evm:base:84532"]\n', { TURNPIKE_NETWORK: "local" }),
    "testnet",
  );
  // No chain: the setting names it.
  assertEquals(await networkWith('network = "testnet"\n'), "testnet");
  // Chains on two networks: the riskier; an id the table does not know: unknown.
  assertEquals(
    networkOfChains({ chains: { "evm:base:84532": {}, "evm:base:31337": {} } }),
    "testnet",
  );
  assertEquals(networkOfChains({ chains: { "evm:base:8453": {}, "evm:x:999": {} } }), "unknown");
  assertEquals(networkOfChains({}, "evm:optimism:10"), "mainnet");
});

Deno.test("known chains: Ethereum, Base, Optimism, Arbitrum, Polygon, their test nets and local", () => {
  const table = Object.fromEntries(KNOWN_CHAINS.map((c) => [c.chainId, c.network]));
  assertEquals(table, {
    1: "mainnet",
    11155111: "testnet",
    8453: "mainnet",
    84532: "testnet",
    10: "mainnet",
    11155420: "testnet",
    42161: "mainnet",
    421614: "testnet",
    137: "mainnet",
    80002: "testnet",
    31337: "local",
    1337: "local",
  });
  assertEquals(knownChain(999), { chainId: 999, name: "chain 999", network: "unknown" });
  assertEquals(networkText("unknown"), "unknown: treated as real funds");
  assertEquals(networkField("unknown").line, "Network: unknown: treated as real funds");
  assertEquals(networkField("unknown").realFunds, true);
  assertEquals(networkField("mainnet").line, "Network: MAINNET (real funds)");
  assertEquals(networkField("testnet").line, "Network: testnet (test funds)");
});

Deno.test("resolving a chain: any evm:<name>:<id>; mainnet and unknown ids need allowMainnet, the refusal names the chain", () => {
  const section = { rpc_url: "http://127.0.0.1:8545" };
  const arb = assertThrows(
    () => resolveChainConfig("evm:arbitrum:42161", { section }),
    MainnetConsentError,
  );
  assertEquals(
    arb.message,
    "chain evm:arbitrum:42161: Arbitrum One (chain id 42161) is MAINNET: real funds; pass " +
      "--mainnet to confirm",
  );
  const unknown = assertThrows(
    () => resolveChainConfig("evm:mine:999", { section }),
    MainnetConsentError,
  );
  assertEquals(
    unknown.message,
    "chain evm:mine:999: chain id 999 is not in the table of known chains (unknown: treated as " +
      "real funds); pass --mainnet to confirm",
  );
  const ok = resolveChainConfig("evm:mine:999", { section, allowMainnet: true });
  assertEquals(networkLabel(ok), "chain 999 (evm:mine:999, unknown: treated as real funds)");
  const amoy = resolveChainConfig("evm:polygon:80002", { section });
  assertEquals(networkLabel(amoy), "Polygon Amoy (evm:polygon:80002, testnet)");
  assertEquals(
    networkLabel(resolveChainConfig("evm:base:8453", { section, allowMainnet: true })),
    "Base (evm:base:8453, MAINNET, real funds)",
  );
});
