/**
 * `turnpike init --role requester|provider|town` as a user runs it: the wallet is created with
 * the passphrase from a file (or kept when there is one), config.toml holds what the role needs
 * (read back through config/settings.ts and the town's own config resolution), the next command
 * is printed exactly, an existing config is refused without --force (with a suggestion) and
 * rewritten in place with it (a chain table kept, and listed in a town's `[channels] chains`),
 * `--output json` prints one JSON object, and flags of another role are usage errors.
 */
import { parse as parseToml } from "smol-toml";
import { assert, assertEquals, assertStringIncludes } from "../../harness/assert.ts";
import { runCli } from "../../harness/run_cli.ts";
import { loadSettings } from "../../config/settings.ts";
import { resolveTownSettings } from "../../config/town_settings.ts";
import { readWalletFile } from "../../identity/wallet_file.ts";
import { makeCertificates } from "../support/test_certificates.ts";

async function withHome(fn: (home: string, pass: string) => Promise<void>): Promise<void> {
  const home = await Deno.makeTempDir({ prefix: "init_cli_" });
  const pass = `${home}/pass`;
  await Deno.writeTextFile(pass, "init test passphrase\n");
  try {
    await fn(home, pass);
  } finally {
    await Deno.remove(home, { recursive: true });
  }
}

const read = (path: string) => Deno.readTextFile(path);

Deno.test("init --role requester: wallet, config, the next command; refuses to overwrite", async () => {
  await withHome(async (home, pass) => {
    const env = { TURNPIKE_HOME: home };
    const secret = ["--passphrase-file", pass, "--non-interactive"];
    const init = (...args: string[]) =>
      runCli(["--profile", "alice", "init", "--role", "requester", ...args, ...secret], { env });
    const made = await init("--btp-token", "alice-token", "--town", "ws://127.0.0.1:7200");
    assertEquals(made.code, 0, made.stderr);
    const dir = `${home}/alice`;
    const wallet = await readWalletFile(`${dir}/wallet.toml`);
    assertStringIncludes(made.stdout, `Wallet created: ${dir}/wallet.toml`);
    assertStringIncludes(made.stdout, `EVM address  ${wallet.evmAddress}`);
    assertStringIncludes(made.stdout, "Recovery mnemonic (shown ONCE");
    assertStringIncludes(made.stdout, `Config written: ${dir}/config.toml (role requester)`);
    assertStringIncludes(made.stdout, 'btp_token = "(hidden)"');
    assert(!made.stdout.includes("alice-token"), "the token is not printed");
    assertStringIncludes(
      made.stdout,
      `Next: turnpike --profile alice job submit echo --input text:hello --bid 50000 --wait ` +
        `--passphrase-file ${pass} --non-interactive`,
    );
    assertStringIncludes(
      made.stdout,
      `Then: to pay the town over a payment channel: turnpike chain up --config ${dir}`,
    );
    assertEquals((await Deno.stat(`${dir}/config.toml`)).mode! & 0o777, 0o600);
    // The settings module reads it back: the town's URLs (BTP on the town's host, port 3000).
    const { settings, sources } = await loadSettings({
      flags: { stateDir: dir },
      env: () => undefined,
    });
    assertEquals(settings.role, "requester");
    assertEquals(settings.relayUrl, "ws://127.0.0.1:7200");
    assertEquals(settings.connectorBtpUrl, "btp+ws://127.0.0.1:3000");
    assertEquals(settings.btpToken, "alice-token");
    assertEquals(sources.btpToken.kind, "file");

    const again = await init("--btp-token", "other");
    assertEquals(again.code, 1, again.stderr);
    assertStringIncludes(again.stderr, `Error: a config already exists (${dir}/config.toml)`);
    assertStringIncludes(again.stderr, "Suggestion: pass --force");
    assertStringIncludes(await read(`${dir}/config.toml`), 'btp_token = "alice-token"');

    // --force rewrites init's keys only; the wallet is kept (no passphrase needed).
    await Deno.writeTextFile(
      `${dir}/config.toml`,
      `${await read(`${dir}/config.toml`)}\n[requester]\nmax_per_job = 5000\n` +
        '\n[chains."evm:base:31337"]\nrpc_url = "http://127.0.0.1:8545"\n',
    );
    const forced = await runCli([
      "--profile",
      "alice",
      "init",
      "--role",
      "requester",
      "--btp-token",
      "new-token",
      "--force",
      "--non-interactive",
    ], { env });
    assertEquals(forced.code, 0, forced.stderr);
    assertStringIncludes(forced.stdout, `Wallet kept (already there): ${dir}/wallet.toml`);
    const text = await read(`${dir}/config.toml`);
    const toml = parseToml(text) as Record<string, Record<string, unknown>>;
    assertEquals(toml.btp_token as unknown, "new-token");
    assertEquals(toml.relay_url as unknown, "ws://127.0.0.1:7100");
    assertEquals(toml.requester.max_per_job, 5000);
    // A chain is configured: the payer runs its channel by itself from now on.
    assertEquals(toml.channels.auto, true);
    assertEquals((await readWalletFile(`${dir}/wallet.toml`)).evmAddress, wallet.evmAddress);
  });
});

Deno.test("init --role town: ports, peers, chains when a local chain is configured; json", async () => {
  await withHome(async (home, pass) => {
    const env = { TURNPIKE_HOME: home };
    const dir = `${home}/town`;
    const made = await runCli([
      "--profile",
      "town",
      "--output",
      "json",
      "init",
      "--role",
      "town",
      "--town-port",
      "7300",
      "--peer",
      "alice:alice-token",
      "--peer",
      "beta:beta-token:5000",
      "--passphrase-file",
      pass,
      "--non-interactive",
    ], { env });
    assertEquals(made.code, 0, made.stderr);
    const lines = made.stdout.trim().split("\n");
    assertEquals(lines.length, 1, "one JSON object");
    const out = JSON.parse(lines[0]);
    assertEquals(out.role, "town");
    assertEquals(out.wallet.created, true);
    assertEquals(out.wallet.mnemonic.split(" ").length, 24);
    assertEquals(out.configFile, `${dir}/config.toml`);
    assertEquals(out.config.top, {
      role: "town",
      host: "127.0.0.1",
      town_port: 7300,
      btp_port: 3000,
    });
    assertEquals(out.config.tables, [{
      path: ["town"],
      entries: {
        peers: [
          { account: "alice", token: "(hidden)" },
          { account: "beta", token: "(hidden)", max_packet_amount: "5000" },
        ],
      },
    }]);
    assertEquals(
      out.next,
      `turnpike --profile town town up --passphrase-file ${pass} --non-interactive`,
    );
    assertStringIncludes(out.then[0], `turnpike chain up --config ${dir}`);
    // The town's own config resolution accepts it; no chain yet, so none is announced.
    const loaded = await loadSettings({ flags: { stateDir: dir }, env: () => undefined });
    const config = resolveTownSettings({ loaded, env: () => undefined });
    assertEquals([config.httpPort, config.btpPort], [7300, 3000]);
    assertEquals(config.peers.map((p) => p.account), ["alice", "beta"]);
    assertEquals(config.peers[1].maxPacketAmount, 5000n);
    assertEquals(config.settlement?.chains, []);

    // A local chain configured (as `chain up --config` writes it): --force lists it.
    await Deno.writeTextFile(
      `${dir}/config.toml`,
      `${await read(`${dir}/config.toml`)}\n# the chain\n[chains."evm:base:31337"]\n` +
        'rpc_url = "http://127.0.0.1:8545"\ntoken_network = "0x' + "11".repeat(20) + '"\n',
    );
    const forced = await runCli(
      ["--profile", "town", "init", "--role", "town", "--force", "--peer", "alice:alice-token"],
      { env },
    );
    assertEquals(forced.code, 0, forced.stderr);
    assertStringIncludes(forced.stdout, '[channels]\n  chains = [ "evm:base:31337" ]');
    assertStringIncludes(forced.stdout, "Next: turnpike --profile town town up\n");
    const text = await read(`${dir}/config.toml`);
    assertStringIncludes(text, '# the chain\n[chains."evm:base:31337"]');
    const reloaded = resolveTownSettings({
      loaded: await loadSettings({ flags: { stateDir: dir }, env: () => undefined }),
      env: () => undefined,
    });
    assertEquals(reloaded.settlement?.chains.map((c) => c.chain), ["evm:base:31337"]);
    assertEquals(reloaded.peers.map((p) => p.account), ["alice"]);
  });
});

Deno.test("init --role provider in a state dir; usage errors name the flag", async () => {
  await withHome(async (home, pass) => {
    const dir = `${home}/beta`;
    const made = await runCli([
      "--state-dir",
      dir,
      "init",
      "--role",
      "provider",
      "--btp-token",
      "beta-token",
      "--btp-url",
      "btp+ws://127.0.0.1:3100",
      "--passphrase-file",
      pass,
      "--non-interactive",
    ]);
    assertEquals(made.code, 0, made.stderr);
    assertStringIncludes(
      made.stdout,
      `Next: turnpike --state-dir ${dir} node up --passphrase-file ${pass} --non-interactive`,
    );
    const toml = parseToml(await read(`${dir}/config.toml`)) as Record<string, unknown>;
    assertEquals(toml.role, "provider");
    assertEquals(toml.connector_btp_url, "btp+ws://127.0.0.1:3100");

    const usage = async (args: string[], words: string) => {
      const r = await runCli(["--state-dir", `${home}/x`, "init", ...args, "--non-interactive"]);
      assertEquals(r.code, 2, r.stderr);
      assertStringIncludes(r.stderr, words);
      assert(!(await Deno.stat(`${home}/x`).then(() => true, () => false)), "nothing written");
    };
    await usage(["--role", "provider"], "Error: --role provider needs --btp-token");
    await usage(
      ["--role", "town", "--btp-token", "t"],
      "Error: --btp-token does not apply to --role town",
    );
    await usage(
      ["--role", "requester", "--btp-token", "t", "--peer", "a:b"],
      "--peer does not apply",
    );
    await usage(["--role", "town", "--peer", "relay:t"], 'peer account "relay" is not usable');
    await usage(["--role", "town", "--chain", "base"], "channels.chains must be a list");
    await usage(
      ["--role", "requester", "--btp-token", "t", "--town", "ws://10.1.2.3:7100"],
      "unencrypted",
    );
    await usage(["--role", "wizard"], "error: option '--role <role>' argument 'wizard' is invalid");
  });
});

Deno.test("init --ca-file: writes ca_file for a town on a private CA; a file that is no PEM certificate is refused", async () => {
  await withHome(async (home, pass) => {
    const tls = `${home}/tls`;
    await makeCertificates(tls);
    const dir = `${home}/alice`;
    const made = await runCli([
      "--state-dir",
      dir,
      "init",
      "--role",
      "requester",
      "--btp-token",
      "alice-token",
      "--town",
      "wss://127.0.0.1:7100",
      "--ca-file",
      `${tls}/ca.pem`,
      "--passphrase-file",
      pass,
      "--non-interactive",
    ]);
    assertEquals(made.code, 0, made.stderr);
    assertStringIncludes(made.stdout, `ca_file = "${tls}/ca.pem"`);
    const toml = parseToml(await read(`${dir}/config.toml`)) as Record<string, unknown>;
    assertEquals([toml.ca_file, toml.connector_btp_url], [
      `${tls}/ca.pem`,
      "btp+wss://127.0.0.1:3000",
    ]);
    const { settings } = await loadSettings({ flags: { stateDir: dir }, env: () => undefined });
    assertEquals(settings.caFile, `${tls}/ca.pem`);

    // A relative path is written absolute (the profile is read from any directory).
    const town = await runCli(
      [
        "--state-dir",
        `${home}/town`,
        "init",
        "--role",
        "town",
        "--ca-file",
        "tls/ca.pem",
        "--passphrase-file",
        pass,
        "--non-interactive",
      ],
      { cwd: home },
    );
    assertEquals(town.code, 0, town.stderr);
    assertEquals(
      (parseToml(await read(`${home}/town/config.toml`)) as { ca_file: string }).ca_file,
      `${tls}/ca.pem`,
    );

    await Deno.writeTextFile(
      `${tls}/broken.pem`,
      "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n",
    );
    const refused: [string, string][] = [
      [`${tls}/nothing-here.pem`, "cannot read the CA file"],
      [`${tls}/ca.key`, "holds no PEM certificate"],
      [`${tls}/broken.pem`, "certificate 1 is not a valid X.509 certificate"],
    ];
    for (const [file, words] of refused) {
      const r = await runCli([
        "--state-dir",
        `${home}/x`,
        "init",
        "--role",
        "provider",
        "--btp-token",
        "t",
        "--ca-file",
        file,
        "--non-interactive",
      ]);
      assertEquals(r.code, 2, r.stderr);
      assertStringIncludes(r.stderr, `Error: ca_file: `);
      assertStringIncludes(r.stderr, words);
      assert(!(await Deno.stat(`${home}/x`).then(() => true, () => false)), "nothing written");
    }
  });
});
