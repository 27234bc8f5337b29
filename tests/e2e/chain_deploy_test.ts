/**
 * `turnpike chain deploy` to a separate anvil reached only by its RPC URL (the code path of a
 * remote chain): the town's wallet deploys the test token and the TokenNetwork, mints tokens to
 * itself and the payers, and writes its chain table and `[channels] chains`. Then a full paid
 * job on that chain, by CLI processes configured through the environment only
 * (`TURNPIKE_RPC_URL`, `TURNPIKE_CHANNELS_AUTO`): the provider (`node up`) and the requester
 * (`job submit --wait`) each open their channel with the town by themselves, from its kind 10032,
 * and the job ends done, paid. A mainnet chain is refused without `--mainnet`.
 */
import { assert, assertEquals, assertMatch, assertStringIncludes } from "../../harness/assert.ts";
import { initWalletWithCli, runCli } from "../../harness/run_cli.ts";
import { spawnCli } from "../../harness/cli_process.ts";
import { freePort } from "../../harness/free_port.ts";
import { fundAccount, startAnvil } from "../../chain/anvil.ts";
import { readWalletFile, walletFilePath } from "../../identity/wallet_file.ts";
import { listChannels } from "../../state/channels/channel_file.ts";
import { parse as parseToml } from "smol-toml";

Deno.test("chain deploy to a second anvil by RPC URL, then a paid job on it with automatic channels", async () => {
  const anvil = await startAnvil();
  const home = await Deno.makeTempDir({ prefix: "chain_deploy_" });
  const pass = `${home}/pass`;
  await Deno.writeTextFile(pass, "deploy passphrase\n");
  const secret = ["--passphrase-file", pass, "--non-interactive"];
  const env = { TURNPIKE_HOME: home };
  // The payers know the chain only from the environment.
  const payerEnv = { ...env, TURNPIKE_RPC_URL: anvil.rpcUrl, TURNPIKE_CHANNELS_AUTO: "true" };
  const [townPort, btpPort] = [freePort(), freePort()];
  const as = (profile: string, args: string[], e: Record<string, string> = env) =>
    runCli(["--profile", profile, ...args, ...secret], { env: e });
  let town: ReturnType<typeof spawnCli> | undefined;
  let provider: ReturnType<typeof spawnCli> | undefined;
  try {
    const made = await as("town", [
      "init",
      "--role",
      "town",
      "--town-port",
      String(townPort),
      "--btp-port",
      String(btpPort),
      "--peer",
      "alice:alice-token",
      "--peer",
      "beta:beta-token",
    ]);
    assertEquals(made.code, 0, made.stderr);
    for (
      const [name, role, token] of [["alice", "requester", "alice"], ["beta", "provider", "beta"]]
    ) {
      const init = await as(name, [
        "init",
        "--role",
        role,
        "--town",
        `ws://127.0.0.1:${townPort}`,
        "--btp-url",
        `btp+ws://127.0.0.1:${btpPort}`,
        "--btp-token",
        `${token}-token`,
      ]);
      assertEquals(init.code, 0, init.stderr);
    }
    const address = async (name: string) =>
      (await readWalletFile(walletFilePath(`${home}/${name}`))).evmAddress as `0x${string}`;
    const [townAddress, alice, beta] = await Promise.all(["town", "alice", "beta"].map(address));
    // Gas only: the tokens come from the deployer's test token.
    for (const to of [townAddress, alice, beta]) {
      await fundAccount({
        rpcUrl: anvil.rpcUrl,
        tokenAddress: "0x0000000000000000000000000000000000000000",
        to,
        tokens: 0n,
        wei: 10n ** 18n,
      });
    }

    const mainnet = await as("town", [
      "chain",
      "deploy",
      "--rpc",
      anvil.rpcUrl,
      "--chain",
      "evm:base:8453",
    ]);
    assertEquals(mainnet.code, 2, mainnet.stderr);
    assertStringIncludes(
      mainnet.stderr,
      "Base (chain id 8453) is MAINNET: real funds; pass --mainnet to confirm",
    );
    assertStringIncludes(mainnet.stderr, "Suggestion: pass --mainnet if you mean it");

    const deployed = await as("town", [
      "--output",
      "json",
      "chain",
      "deploy",
      "--rpc",
      anvil.rpcUrl,
      "--fund",
      alice,
      "--fund",
      beta,
    ]);
    assertEquals(deployed.code, 0, deployed.stderr);
    const result = JSON.parse(deployed.stdout);
    assertEquals(result.chain, "evm:base:31337");
    assertEquals(result.testToken, true);
    assertEquals(result.deployer.toLowerCase(), townAddress.toLowerCase());
    assertEquals(result.minted.length, 3);
    assertMatch(result.tokenNetwork, /^0x[0-9a-fA-F]{40}$/);
    const townToml = parseToml(await Deno.readTextFile(`${home}/town/config.toml`)) as Record<
      string,
      Record<string, unknown>
    >;
    assertEquals((townToml.channels as Record<string, unknown>).chains, ["evm:base:31337"]);
    assertEquals(
      { ...(townToml.chains as Record<string, Record<string, string>>)["evm:base:31337"] },
      { rpc_url: anvil.rpcUrl, token_network: result.tokenNetwork, token: result.token },
    );

    town = spawnCli(["--profile", "town", "town", "up", ...secret], { env });
    await town.waitForLine((l) => l.startsWith("  learns"));
    // The provider's channel runs low at once (1 M2M, top-up below 0.999): low balance, top-up.
    provider = spawnCli(["--profile", "beta", "node", "up", ...secret], {
      env: { ...payerEnv, TURNPIKE_CHANNELS_DEPOSIT: "1", TURNPIKE_CHANNELS_TOPUP_BELOW: "0.999" },
    });
    await provider.waitForLine((l) => /^ {2}network\s/.test(l));
    assertStringIncludes(provider.stderr.join("\n"), "channel: opened 0x");
    // The top-up runs beside the node: follow `node status` until it reports it.
    const nodeStatus = () => runCli(["--profile", "beta", "node", "status"], { env });
    let status = await nodeStatus();
    for (let i = 0; i < 100 && status.code === 0 && !status.stdout.includes(" topup: "); i++) {
      await new Promise((r) => setTimeout(r, 50));
      status = await nodeStatus();
    }
    assertEquals(status.code, 0, status.stderr);
    assertStringIncludes(status.stdout, " low-balance: channel ");
    assertStringIncludes(status.stdout, " topup: channel ");

    const job = await as(
      "alice",
      ["job", "submit", "echo", "--input", "text:on a deployed chain", "--bid", "50000", "--wait"],
      { ...payerEnv, TURNPIKE_CHANNELS_DEPOSIT: "5" },
    );
    assertEquals(job.code, 0, job.stderr);
    assertStringIncludes(job.stderr, "channel: opened 0x");
    assertStringIncludes(job.stderr, "deposit 5 M2M");
    assertStringIncludes(job.stdout, "on a deployed chain");
    const [mine] = await listChannels(`${home}/alice`);
    assertEquals(mine.tokenNetworkAddress.toLowerCase(), result.tokenNetwork.toLowerCase());
    assert(mine.sent > 0n, "the requester paid over its channel");
    const [theirs] = await listChannels(`${home}/beta`);
    assert(theirs.sent > 0n, "the provider paid its writes over its channel");
  } finally {
    // alice's `job submit` started her profile's node, which goes on writing in her profile dir
    // (seen: the removal below met a file it had just made): stopped first.
    const stopped = await runCli(["--profile", "alice", "node", "stop"], { env });
    for (const p of [provider, town]) {
      if (!p) continue;
      try {
        p.child.kill("SIGINT");
      } catch {
        // it already exited: its status says how
      }
      const status = await p.done;
      assertEquals(status.code, 0, p.stderr.join("\n"));
    }
    await anvil.stop();
    await Deno.remove(home, { recursive: true });
    assertEquals(stopped.code, 0, stopped.stderr);
  }
});

Deno.test("chain deploy to an RPC that does not answer: one Error line naming the URL, a Suggestion, exit 1", async () => {
  const home = await Deno.makeTempDir({ prefix: "chain_deploy_silent_" });
  try {
    const pass = `${home}/pass`;
    await Deno.writeTextFile(pass, "deploy passphrase\n", { mode: 0o600 });
    await initWalletWithCli({ stateDir: `${home}/town`, passphraseFile: pass });
    // A loopback port nobody listens on: the connection is refused, as an unreachable RPC's is.
    const rpc = `http://127.0.0.1:${freePort()}`;
    const res = await runCli([
      "--state-dir",
      `${home}/town`,
      "chain",
      "deploy",
      "--chain",
      "evm:base:84532",
      "--rpc",
      rpc,
      "--passphrase-file",
      pass,
      "--non-interactive",
    ]);
    assertEquals(res.code, 1, res.stderr);
    assertMatch(
      res.stderr,
      new RegExp(`^Error: the RPC ${rpc} did not answer: .+ \\(Base Sepolia`, "m"),
    );
    assertStringIncludes(
      res.stderr,
      "Suggestion: check this machine's network, or pass --rpc <url>",
    );
    assert(!res.stderr.includes("Request body:"), res.stderr);
  } finally {
    await Deno.remove(home, { recursive: true });
  }
});
