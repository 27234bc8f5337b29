/**
 * The network a profile is labelled with follows its chains unless chosen: a profile set up for
 * Base Sepolia only (as `chain deploy` writes it) is on the testnet, not "local (test funds)".
 */
import { assertEquals } from "../support/assert.ts";
import { loadSettings, networkOfChains } from "../../config/settings.ts";

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

Deno.test("network label: from the configured chains when not chosen", async () => {
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
  // Chosen explicitly, it wins (file or environment).
  assertEquals(await networkWith('network = "local"\n[chains."evm:base:84532"]\n'), "local");
  assertEquals(
    await networkWith('[chains."evm:base:84532"]\n', { TURNPIKE_NETWORK: "local" }),
    "local",
  );
  // Chains on two networks, or mainnet: never guessed.
  assertEquals(
    networkOfChains({ chains: { "evm:base:84532": {}, "evm:base:31337": {} } }),
    undefined,
  );
  assertEquals(networkOfChains({ chains: { "evm:base:8453": {} } }), undefined);
});
