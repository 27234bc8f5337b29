/**
 * Test helper: a real `turnpike town up` process (bob's wallet) settling with the account
 * "alice" (token "alice-token", credit limit 0) over a channel alice just opened on the pair's
 * anvil, configured in TOML (`[[town.peers]] channel`, the chain table); the town's channel
 * file, and alice's (her wallet and chain in her own state dir), come from `turnpike channel
 * recover`. Gives the connection flags a CLI run of alice needs to reach the town.
 *
 * @module
 */
import { assertEquals } from "../../harness/assert.ts";
import { runCli } from "../../harness/run_cli.ts";
import {
  ALICE_MNEMONIC,
  BOB_MNEMONIC,
  type ChannelPair,
} from "../../harness/anvil_channel_pair.ts";
import { chainToml } from "../../harness/chain_toml.ts";
import { type CliTown, startCliTown } from "../../harness/cli_town.ts";
import { createCliWallet } from "../../harness/cli_wallet.ts";
import { openPairChannel, type PairChannel } from "../../harness/pair_channel.ts";

/** Options for {@linkcode startChannelCliTown}. */
export interface ChannelCliTownOptions {
  /** Prefix of the temporary dir holding both state dirs. */
  prefix: string;
  /** Alice's deposit (base units). Default 50 M2M. */
  deposit?: bigint;
  /** false: no state dir for alice (she pays from the test process). Default true. */
  alice?: boolean;
  /** Written before the chain table in alice's `config.toml`. */
  aliceConfig?: string;
  /** Added to `channel recover` and `town up` (e.g. `--mainnet` on a mainnet chain id). */
  args?: string[];
  /** More `[[town.peers]]` tables for the town's `config.toml` (accounts besides alice). */
  morePeers?: string;
}

/** The running town and both state dirs; disposing stops the town and removes the dirs. */
export interface ChannelCliTown extends AsyncDisposable {
  dir: string;
  channelId: `0x${string}`;
  /** The channel as opened, with both sides' first records. */
  channel: PairChannel;
  townState: string;
  /** Alice's state dir (`<dir>/alice`), when `alice` was not false. */
  aliceState: string;
  /** Passphrase flags for both state dirs. */
  secret: string[];
  town: CliTown;
  /**
   * `--relay-url`, `--connector-btp-url`, `--btp-token alice-token` and the passphrase flags:
   * what alice's `job submit` or `node up` needs to reach the town.
   */
  connection: string[];
}

/**
 * Opens alice's channel, prepares both state dirs and starts the town (up once it printed the
 * line of the peer that settles).
 *
 * @example
 * ```ts
 * import { startChannelPair } from "../../harness/anvil_channel_pair.ts";
 * import { runCli } from "../../harness/run_cli.ts";
 *
 * await using pair = await startChannelPair();
 * await using t = await startChannelCliTown(pair, { prefix: "requester_channel_" });
 * const paid = await runCli(["--state-dir", t.aliceState, "job", "submit", "echo", ...t.connection]);
 * ```
 */
export async function startChannelCliTown(
  pair: ChannelPair,
  options: ChannelCliTownOptions,
): Promise<ChannelCliTown> {
  const channel = await openPairChannel(pair, { deposit: options.deposit ?? 50_000_000n });
  const { channelId } = channel;
  const dir = await Deno.makeTempDir({ prefix: options.prefix });
  const remove = () => Deno.remove(dir, { recursive: true });
  try {
    const bob = await createCliWallet({
      dir,
      name: "town",
      mnemonic: BOB_MNEMONIC,
      config: `[town]
ilp_address = "test.chtown"

[[town.peers]]
account = "alice"
token = "alice-token"
channel = "${channelId}"
credit_limit = "0"

${options.morePeers ?? ""}${chainToml(pair)}`,
    });
    const wallets = [bob];
    if (options.alice !== false) {
      wallets.push(
        await createCliWallet({
          dir,
          name: "alice",
          mnemonic: ALICE_MNEMONIC,
          config: `${options.aliceConfig ?? ""}${chainToml(pair)}`,
        }),
      );
    }
    for (const wallet of wallets) {
      const recovered = await wallet.run([
        "channel",
        "recover",
        "--chain",
        pair.chain.id,
        ...(options.args ?? []),
      ]);
      assertEquals(recovered.code, 0, recovered.stderr);
    }
    const town = await startCliTown({
      stateDir: bob.stateDir,
      secret: [...bob.secret, ...(options.args ?? [])],
      ready: (l) => l.includes("settles"),
    });
    return {
      dir,
      channelId,
      channel,
      townState: bob.stateDir,
      aliceState: `${dir}/alice`,
      secret: bob.secret,
      town,
      connection: [
        "--relay-url",
        town.relayUrl,
        "--connector-btp-url",
        town.btpUrl,
        "--btp-token",
        "alice-token",
        ...bob.secret,
      ],
      async [Symbol.asyncDispose]() {
        try {
          // The profile's node a `job submit` started in the background (docs/ARCHITECTURE.md).
          await runCli(["--state-dir", `${dir}/alice`, "node", "stop"]);
          await town.stop();
        } finally {
          await remove();
        }
      },
    };
  } catch (err) {
    await remove();
    throw err;
  }
}
