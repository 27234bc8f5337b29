import { assertEquals } from "../../../harness/assert.ts";
import { loadSettings } from "../../../config/settings.ts";
import { resolveChainConfig } from "../../../config/chain_config.ts";

const TN = "0x" + "11".repeat(20);

Deno.test("chain settings: flags and environment laid over the chain table they apply to", async () => {
  const dir = await Deno.makeTempDir({ prefix: "chain_settings_" });
  try {
    await Deno.writeTextFile(
      `${dir}/config.toml`,
      `[chains."evm:base:31337"]\nrpc_url = "http://127.0.0.1:1"\ntoken_network = "${TN}"\n`,
    );
    const table = (l: { sections: Record<string, Record<string, unknown>> }, id: string) => ({
      ...(l.sections.chains[id] as Record<string, unknown>),
    });
    const env = (vars: Record<string, string>) => (name: string) => vars[name];
    // The file alone.
    let loaded = await loadSettings({ flags: { stateDir: dir }, env: env({}) });
    assertEquals(table(loaded, "evm:base:31337").rpc_url, "http://127.0.0.1:1");
    // The environment wins over the file, for the file's only chain.
    loaded = await loadSettings({
      flags: { stateDir: dir },
      env: env({ TURNPIKE_RPC_URL: "http://127.0.0.1:2" }),
    });
    assertEquals(table(loaded, "evm:base:31337"), {
      rpc_url: "http://127.0.0.1:2",
      token_network: TN,
    });
    // A flag wins over the environment; --chain picks the table.
    loaded = await loadSettings({
      flags: { stateDir: dir, rpcUrl: "http://127.0.0.1:3", chain: "evm:base:84532" },
      env: env({ TURNPIKE_RPC_URL: "http://127.0.0.1:2", TURNPIKE_TOKEN_NETWORK: TN }),
    });
    assertEquals(table(loaded, "evm:base:84532"), {
      rpc_url: "http://127.0.0.1:3",
      token_network: TN,
    });
    assertEquals(table(loaded, "evm:base:31337").rpc_url, "http://127.0.0.1:1");
    // The Crosstown name of the Base Sepolia RPC.
    loaded = await loadSettings({
      flags: { stateDir: dir },
      env: env({ GASTOWN_BASE_SEPOLIA_RPC: "https://sepolia.example" }),
    });
    assertEquals(table(loaded, "evm:base:84532").rpc_url, "https://sepolia.example");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("Base Sepolia needs only a TokenNetwork: public RPC and M2M by default", () => {
  const chain = resolveChainConfig("evm:base:84532", { section: { token_network: TN } });
  assertEquals(chain.rpcUrl, "https://sepolia.base.org");
  assertEquals(chain.tokenAddress, "0x39eaF99Cd4965A28DFe8B1455DD42aB49D0836B9");
  assertEquals(chain.tokenNetworkAddress, TN);
});
