/**
 * `turnpike chain up` as a user runs it: a real anvil with the contracts, two funded addresses,
 * the chain's table written into a state dir's config.toml (kept: the rest of the file), usable
 * by the chain client, and a town's state dir also gets the chain in `[channels] chains` (what
 * it announces); Ctrl-C stops anvil. Bad flags are usage errors (exit 2).
 */
import { localEvmAccount } from "../../identity/local_evm_account.ts";
import { assert, assertEquals, assertStringIncludes } from "../../harness/assert.ts";
import { spawnCli } from "../../harness/cli_process.ts";
import { runCli } from "../../harness/run_cli.ts";
import { parse as parseToml } from "smol-toml";
import { resolveChainConfig } from "../../config/chain_config.ts";
import { TokenNetworkClient } from "../../chain/token_network_client.ts";

const ALICE = "0x109c6dc6595b41043eC14ef7f29ff02137b116c9" as const;
const BOB = "0x92a0F8713918dCc133d6A0289b357476a60E06d2" as const;

Deno.test("chain up: anvil with the contracts, funded accounts, config written, Ctrl-C stops it", async () => {
  const dir = await Deno.makeTempDir({ prefix: "chain_up_" });
  const town = `${dir}/town`;
  try {
    await Deno.mkdir(town);
    await Deno.writeTextFile(
      `${town}/config.toml`,
      'role = "town"\n[channels]\nmax_deposit = "9"\n',
    );
    // An existing config: its other tables and comments stay; a stale chain table is replaced.
    await Deno.writeTextFile(
      `${dir}/config.toml`,
      '# mine\n[channels]\nchains = ["evm:base:31337"]\n\n[chains."evm:base:31337"]\n' +
        'rpc_url = "http://127.0.0.1:1"\n\n[requester]\nbtp_token = "t"\n',
    );
    const chain = spawnCli([
      "--output",
      "json",
      "chain",
      "up",
      "--port",
      "0",
      "--fund",
      ALICE,
      "--fund",
      BOB,
      "--tokens",
      "7.5",
      "--config",
      dir,
      "--config",
      town,
    ]);
    let ready: Record<string, unknown>;
    try {
      ready = JSON.parse(await chain.waitForLine((l) => l.includes('"chain-ready"')));
      const text = await Deno.readTextFile(`${dir}/config.toml`);
      assertStringIncludes(text, "# mine\n[channels]");
      const config = parseToml(text) as Record<string, Record<string, Record<string, string>>>;
      assertEquals(config.requester.btp_token as unknown, "t");
      const table = config.chains["evm:base:31337"];
      assertEquals(table.rpc_url, ready.rpcUrl);
      assertEquals(table.token_network, ready.tokenNetwork);
      assertEquals(table.token, ready.token);
      assertEquals(text.match(/\[chains\."evm:base:31337"\]/g)?.length, 1);
      // A payer's state dir runs its channel by itself from now on.
      assertEquals(config.channels.auto as unknown, true);
      // The town's state dir: it announces the chain; the other one already listed it.
      assertEquals(ready.settles, [`${town}/config.toml`]);
      const townToml = parseToml(await Deno.readTextFile(`${town}/config.toml`)) as Record<
        string,
        Record<string, unknown>
      >;
      assertEquals({ ...townToml.channels }, { chains: ["evm:base:31337"], max_deposit: "9" });
      assertEquals(Object.keys(townToml.chains as object), ["evm:base:31337"]);
      // The table is all a node needs to reach the chain.
      const client = new TokenNetworkClient({
        chain: resolveChainConfig("evm:base:31337", { section: table }),
        account: localEvmAccount(crypto.getRandomValues(new Uint8Array(32))),
      });
      for (const who of [ALICE, BOB]) assertEquals(await client.tokenBalance(who), 7_500_000n);
    } finally {
      chain.child.kill("SIGINT");
    }
    const status = await chain.done;
    assertEquals(status.code, 0, chain.stderr.join("\n"));
    assertStringIncludes(chain.stdout(), '"chain-stopped"');
    const gone = await fetch(String(ready!.rpcUrl), { method: "POST", body: "{}" }).then(
      () => false,
      () => true,
    );
    assert(gone, "anvil stopped with the command");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("chain up: bad flags are usage errors", async () => {
  const badFund = await runCli(["chain", "up", "--fund", "0x1234"]);
  assertEquals(badFund.code, 2, badFund.stderr);
  assertStringIncludes(badFund.stderr, "Error: --fund must be a 0x EVM address");
  const badPort = await runCli(["chain", "up", "--port", "70000"]);
  assertEquals(badPort.code, 2, badPort.stderr);
  assertStringIncludes(badPort.stderr, "Error: --port must be 0-65535");
});
