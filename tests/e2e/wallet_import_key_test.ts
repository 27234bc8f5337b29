/**
 * `wallet init --import --key-file`: an existing funded key (here anvil's account 1, as a user's
 * testnet key would be) becomes the profile's identity as is: the same EVM address, no mnemonic
 * printed; the signer unlocks it (`wallet show --reveal`); a bad key is refused with exit 2.
 */
import { assert, assertEquals, assertMatch } from "../../harness/assert.ts";
import { runCli } from "../../harness/run_cli.ts";
import { ANVIL_ACCOUNT_KEYS } from "../../chain/anvil.ts";
import { privateKeyToAccount } from "viem/accounts";

Deno.test("wallet init --import --key-file: a funded key kept as is; a bad key refused", async () => {
  const dir = await Deno.makeTempDir({ prefix: "wallet_key_import_" });
  try {
    await Deno.writeTextFile(`${dir}/pw`, "correct horse battery staple\n");
    await Deno.writeTextFile(`${dir}/key`, `${ANVIL_ACCOUNT_KEYS[1]}\n`, { mode: 0o600 });
    const flags = ["--passphrase-file", `${dir}/pw`, "--non-interactive"];
    const init = await runCli([
      "--state-dir",
      `${dir}/p`,
      "--json",
      "wallet",
      "init",
      "--import",
      "--key-file",
      `${dir}/key`,
      ...flags,
    ]);
    assertEquals(init.code, 0, init.stderr);
    const out = JSON.parse(init.stdout);
    const expected = privateKeyToAccount(ANVIL_ACCOUNT_KEYS[1]).address;
    assertEquals([out.imported, out.evmAddress ?? out.evm_address, out.mnemonic], [
      true,
      expected,
      undefined,
    ]);
    const shown = await runCli(["--state-dir", `${dir}/p`, "wallet", "show", "--reveal", ...flags]);
    assertEquals(shown.code, 0, shown.stderr);
    assert(shown.stdout.includes(expected), shown.stdout);
    assertMatch(shown.stdout, /nsec1/);

    await Deno.writeTextFile(`${dir}/bad`, "0x1234\n");
    const bad = await runCli([
      "--state-dir",
      `${dir}/q`,
      "wallet",
      "init",
      "--import",
      "--key-file",
      `${dir}/bad`,
      ...flags,
    ]);
    assertEquals(bad.code, 2, bad.stderr);
    assertMatch(bad.stderr, /^Error: invalid secret key in --key-file/m);
    const noImport = await runCli([
      "--state-dir",
      `${dir}/q`,
      "wallet",
      "init",
      "--key-file",
      `${dir}/key`,
      ...flags,
    ]);
    assertEquals(noImport.code, 2);
    assertMatch(noImport.stderr, /--key-file needs --import/);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
