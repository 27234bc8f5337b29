/**
 * Test helper: the README's set-up by CLI processes only, for a payer that runs its channel by
 * itself: `init` a town (account alice) and a requester (alice), `chain up --config` both (it
 * funds their wallets, writes the chain tables, the town's `[channels] chains` and alice's
 * `[channels] auto = true`), `town up`. Alice has no channel yet. Extra `[channels]` keys for
 * alice can be given; they are written with the config editor, as a user's edit would be.
 *
 * @module
 */
import { assertEquals } from "./assert.ts";
import { type CliProcess, spawnCli } from "./cli_process.ts";
import { type CliResult, runCli } from "./run_cli.ts";
import { freePort } from "./free_port.ts";
import { editConfigFile, setTableKeys } from "../config/config_file.ts";
import { resolveChainConfig } from "../config/chain_config.ts";
import { TokenNetworkClient } from "../chain/token_network_client.ts";
import { localEvmAccount } from "../identity/local_evm_account.ts";
import { readWalletFile, walletFilePath } from "../identity/wallet_file.ts";

/** Options for {@linkcode startAutoChannelNetwork}. */
export interface AutoChannelNetworkOptions {
  /** Prefix of the temporary TURNPIKE_HOME. */
  prefix: string;
  /** Keys added to alice's `[channels]` table (after `chain up` wrote `auto = true`). */
  channels?: Record<string, unknown>;
  /** Other tables for alice's config (e.g. `{ alerts: { webhook: "http://..." } }`). */
  tables?: Record<string, Record<string, unknown>>;
  /** M2M each wallet gets (`chain up --tokens`). Default 100. */
  tokens?: string;
  /** Also a provider, beta (`init --role provider`, `node up` with the built-in skills). */
  provider?: boolean;
  /**
   * The town pays beta on chain (docs/OPERATIONS.md "Paying providers"): beta gets the chain
   * table too (`[channels] auto = false`: it pays its writes without a channel), and the town's
   * `[town.payouts]` these keys and `[town.payouts.addresses]` `beta = <its wallet address>`.
   */
  payProvider?: Record<string, unknown>;
}

/** The running chain and town; disposing stops both and removes the home dir. */
export interface AutoChannelNetwork extends AsyncDisposable {
  home: string;
  townState: string;
  aliceState: string;
  townPort: number;
  /** `chain up`'s ready line (rpcUrl, tokenNetwork, token). */
  chain: { rpcUrl: string; tokenNetwork: string; token: string };
  /** The running `town up` (the latest, after {@linkcode AutoChannelNetwork.restartTown}). */
  town: CliProcess;
  /** Stops the town (SIGINT, exit 0 required); the network stays down until restarted. */
  stopTown(): Promise<void>;
  /** Starts the town again from its state dir, on the same ports; resolves once it is up. */
  restartTown(): Promise<void>;
  /** The provider's `node up`, with {@linkcode AutoChannelNetworkOptions.provider}. */
  provider?: CliProcess;
  betaState: string;
  /** The environment the CLI runs with (TURNPIKE_HOME). */
  env: Record<string, string>;
  /** The passphrase flags (`--passphrase-file <f> --non-interactive`). */
  secret: string[];
  /** Runs `turnpike --profile alice <args> <passphrase flags>`. */
  alice(...args: string[]): Promise<CliResult>;
  /** A client reading the chain's TokenNetwork and token (a throwaway key: it signs nothing). */
  chainReader(): TokenNetworkClient;
}

/**
 * Sets up and starts everything; alice is ready to `job submit` with no channel.
 *
 * It starts a town, a provider and anvil as processes, so it has no example here:
 * tests/e2e/profile_node_test.ts and tests/e2e/agent_town_outage_test.ts run on it.
 */
export async function startAutoChannelNetwork(
  options: AutoChannelNetworkOptions,
): Promise<AutoChannelNetwork> {
  const home = await Deno.makeTempDir({ prefix: options.prefix });
  const pass = `${home}/pass`;
  await Deno.writeTextFile(pass, "auto channel passphrase\n");
  const env = { TURNPIKE_HOME: home };
  const secret = ["--passphrase-file", pass, "--non-interactive"];
  const [townPort, btpPort] = [freePort(), freePort()];
  const townState = `${home}/town`;
  const aliceState = `${home}/alice`;
  const betaState = `${home}/beta`;
  let chain: CliProcess | undefined;
  let town: CliProcess | undefined;
  let provider: CliProcess | undefined;
  let townStopped = false;
  const towns: CliProcess[] = [];
  const stopTown = async () => {
    if (!town || townStopped) return;
    townStopped = true;
    town.child.kill("SIGINT");
    const status = await town.done;
    assertEquals(status.code, 0, town.stderr.join("\n"));
  };
  const startTown = async () => {
    town = spawnCli(["--profile", "town", "town", "up", ...secret], { env });
    towns.push(town);
    townStopped = false;
    await town.waitForLine((l) => l.startsWith("  learns"));
  };
  const stop = async () => {
    try {
      // The profile's node a command started in the background (docs/ARCHITECTURE.md).
      await runCli(["--profile", "alice", "node", "stop"], { env });
      if (provider) {
        provider.child.kill("SIGINT");
        await provider.done;
      }
      await stopTown();
    } finally {
      if (chain) {
        chain.child.kill("SIGINT");
        await chain.done;
      }
      if (Deno.env.get("TURNPIKE_KEEP_TEST_HOME")) {
        // For a failure's post-mortem (docs/OPERATIONS.md "Debugging a failed test"): the
        // processes' stderr beside their state dirs, and the home kept.
        const logs: [string, CliProcess | undefined][] = [
          ...towns.map((t, i): [string, CliProcess] => [`town-${i}`, t]),
          ["beta", provider],
          ["chain", chain],
        ];
        for (const [name, p] of logs) {
          if (p) await Deno.writeTextFile(`${home}/${name}.stderr`, p.stderr.join("\n"));
        }
        console.error(`kept the test's home: ${home}`);
      } else {
        await Deno.remove(home, { recursive: true });
      }
    }
  };
  try {
    const initTown = await runCli([
      "--profile",
      "town",
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
      ...secret,
    ], { env });
    assertEquals(initTown.code, 0, initTown.stderr);
    // Beta pays its writes without a channel: on a town that settles on the chain that is the
    // town's credit (docs/PROTOCOL.md "Credit without a channel"), as `chain up` grants it.
    await editConfigFile(
      `${townState}/config.toml`,
      (text) => setTableKeys(text, ["town"], { peer_credit_limit: "1000000" }),
    );
    if (options.provider) {
      const initBeta = await runCli([
        "--profile",
        "beta",
        "init",
        "--role",
        "provider",
        "--town",
        `ws://127.0.0.1:${townPort}`,
        "--btp-url",
        `btp+ws://127.0.0.1:${btpPort}`,
        "--btp-token",
        "beta-token",
        ...secret,
      ], { env });
      assertEquals(initBeta.code, 0, initBeta.stderr);
      if (options.payProvider) {
        const { evmAddress } = await readWalletFile(walletFilePath(betaState));
        await editConfigFile(
          `${betaState}/config.toml`,
          (text) => setTableKeys(text, ["channels"], { auto: false }),
        );
        await editConfigFile(
          `${townState}/config.toml`,
          (text) =>
            setTableKeys(
              setTableKeys(text, ["town", "payouts"], options.payProvider!),
              ["town", "payouts", "addresses"],
              { beta: evmAddress },
            ),
        );
      }
    }
    const initAlice = await runCli([
      "--profile",
      "alice",
      "init",
      "--role",
      "requester",
      "--town",
      `ws://127.0.0.1:${townPort}`,
      "--btp-url",
      `btp+ws://127.0.0.1:${btpPort}`,
      "--btp-token",
      "alice-token",
      ...secret,
    ], { env });
    assertEquals(initAlice.code, 0, initAlice.stderr);
    chain = spawnCli([
      "--output",
      "json",
      "chain",
      "up",
      "--port",
      "0",
      "--tokens",
      options.tokens ?? "100",
      "--config",
      townState,
      "--config",
      aliceState,
      ...(options.payProvider ? ["--config", betaState] : []),
    ], { env });
    const ready = JSON.parse(await chain.waitForLine((l) => l.includes('"chain-ready"')));
    await editConfigFile(`${aliceState}/config.toml`, (text) => {
      let next = setTableKeys(text, ["channels"], options.channels ?? {});
      for (const [name, entries] of Object.entries(options.tables ?? {})) {
        next = setTableKeys(next, [name], entries);
      }
      return next;
    });
    await startTown();
    if (options.provider) {
      provider = spawnCli(["--profile", "beta", "node", "up", ...secret], { env });
      await provider.waitForLine((l) => l === "provider up");
    }
    return {
      home,
      townState,
      aliceState,
      betaState,
      provider,
      env,
      secret,
      townPort,
      chain: { rpcUrl: ready.rpcUrl, tokenNetwork: ready.tokenNetwork, token: ready.token },
      get town() {
        return town!;
      },
      stopTown,
      async restartTown() {
        await stopTown();
        await startTown();
      },
      alice: (...args) => runCli(["--profile", "alice", ...args, ...secret], { env }),
      chainReader: () =>
        new TokenNetworkClient({
          chain: resolveChainConfig("evm:base:31337", {
            section: {
              rpc_url: ready.rpcUrl,
              token_network: ready.tokenNetwork,
              token: ready.token,
            },
          }),
          account: localEvmAccount(crypto.getRandomValues(new Uint8Array(32))),
        }),
      [Symbol.asyncDispose]: stop,
    };
  } catch (err) {
    await stop().catch(() => {});
    throw err;
  }
}

/**
 * Waits until the town lists an online provider of `kind` for alice (its announcement and
 * heartbeat are stored), so that a job is not refused `no-provider`.
 *
 * It reads a running network's town, so it has no example here: tests/e2e/profile_node_test.ts
 * waits with it.
 */
export async function providerOnline(env: Record<string, string>, kind = "echo"): Promise<void> {
  for (let i = 0; i < 200; i++) {
    const out = await runCli(["--profile", "alice", "--json", "providers", "--kind", kind], {
      env,
    });
    assertEquals(out.code, 0, out.stderr);
    const providers = JSON.parse(out.stdout).providers as { online: boolean }[];
    if (providers.some((p) => p.online)) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`no provider of ${kind} came online`);
}
