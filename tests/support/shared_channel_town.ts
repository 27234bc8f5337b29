/**
 * Test helper: a town of several `turnpike town up` processes over one PostgreSQL database,
 * gating one payment channel of alice's (docs/OPERATIONS.md "A town on several machines"): the
 * profile made once (its wallet, `[store]`, alice as a peer paying over the channel, the
 * channel recovered from the chain; or, with `learn`, the town learning it from alice's first
 * claim as a town on `[channels] chains` does), copied into a state dir per process; and alice's
 * claim clients, one per process, signing one sequence of claims.
 *
 * @module
 */
import { assertEquals } from "../../harness/assert.ts";
import { BOB_MNEMONIC, type ChannelPair } from "../../harness/anvil_channel_pair.ts";
import { chainToml } from "../../harness/chain_toml.ts";
import { type CliWallet, createCliWallet } from "../../harness/cli_wallet.ts";
import { type CliTown, startCliTown } from "../../harness/cli_town.ts";
import { type ClaimClient, connectClaimClient } from "../../harness/channel_town.ts";
import type { ChannelRecord } from "../../state/channels/channel_file.ts";

/** Options for {@linkcode prepareSharedChannelTown}. */
export interface SharedChannelTownOptions {
  pair: ChannelPair;
  channelId: `0x${string}`;
  /** The town's database (`freshDatabase`). */
  storeUrl: string;
  /** Where the state dirs go. */
  dir: string;
  /** State dirs to make, one per process. */
  processes: number;
  /** The town's ILP address. Default `test.shtown`. */
  ilpAddress?: string;
  /**
   * The town learns alice's channel from her first claim (`[channels] chains`) instead of having
   * it configured and recovered: only the process that takes a claim on it knows it then. A second
   * peer, `mallory` (token `mallory-token`), has no channel.
   */
  learn?: boolean;
}

/** The town's profile, in one state dir per process. */
export interface SharedChannelTown {
  /** The wallet of the first state dir (`bob.run` runs the CLI there). */
  bob: CliWallet;
  /** One per process; the first is `bob.stateDir`. */
  stateDirs: string[];
  /** `town up` in state dir `i`, up once it printed its `settles` line. */
  start(i: number): Promise<CliTown>;
}

/**
 * Makes the town's profile and copies it, one state dir per process.
 *
 * @example
 * ```ts
 * import { prepareSharedChannelTown } from "./shared_channel_town.ts";
 * import type { ChannelPair } from "../../harness/anvil_channel_pair.ts";
 * declare const pair: ChannelPair;
 * declare const channelId: `0x${string}`;
 * declare const storeUrl: string;
 * const dir = await Deno.makeTempDir();
 * const town = await prepareSharedChannelTown({ pair, channelId, storeUrl, dir, processes: 2 });
 * const first = await town.start(0);
 * await first.stop();
 * ```
 */
export async function prepareSharedChannelTown(
  options: SharedChannelTownOptions,
): Promise<SharedChannelTown> {
  const { pair, channelId, dir } = options;
  const learn = options.learn === true;
  const bob = await createCliWallet({
    dir,
    name: "town0",
    mnemonic: BOB_MNEMONIC,
    config: `[store]
url = "${options.storeUrl}"
processes = ${options.processes}

[channels]
watch_interval = 1
${learn ? `chains = ["evm:base:31337"]\n` : ""}
[town]
ilp_address = "${options.ilpAddress ?? "test.shtown"}"

[[town.peers]]
account = "alice"
token = "alice-token"
${
      learn
        ? `\n[[town.peers]]\naccount = "mallory"\ntoken = "mallory-token"\n`
        : `channel = "${channelId}"\ncredit_limit = "0"\n`
    }
${chainToml(pair)}`,
  });
  if (!learn) {
    const recovered = await bob.run(["channel", "recover"]);
    assertEquals(recovered.code, 0, recovered.stderr);
  }
  const stateDirs = [bob.stateDir];
  // The other processes: the same profile copied (docs/OPERATIONS.md), their own state dirs.
  for (let i = 1; i < options.processes; i++) {
    const copy = `${dir}/town${i}`;
    await new Deno.Command("cp", { args: ["-a", bob.stateDir, copy] }).output();
    stateDirs.push(copy);
  }
  return {
    bob,
    stateDirs,
    start: (i) =>
      startCliTown({
        stateDir: stateDirs[i],
        secret: bob.secret,
        ready: (l) => learn ? l.startsWith("  learns") : l.includes("settles"),
      }),
  };
}

/** Options for {@linkcode connectAlice}. */
export interface ConnectAliceOptions {
  pair: ChannelPair;
  /** Alice's state dir (her channel file, her claims). */
  stateDir: string;
  record: ChannelRecord;
  /** A client whose sequence of claims this one shares (the first connection's). */
  shareClaimsOf?: ClaimClient;
}

/**
 * Alice's claim client on one process of the town.
 *
 * @example
 * ```ts
 * import { connectAlice } from "./shared_channel_town.ts";
 * import type { ChannelPair } from "../../harness/anvil_channel_pair.ts";
 * import type { CliTown } from "../../harness/cli_town.ts";
 * import type { ChannelRecord } from "../../state/channels/channel_file.ts";
 * declare const pair: ChannelPair;
 * declare const town: CliTown;
 * declare const record: ChannelRecord;
 * const alice = await connectAlice(town, { pair, stateDir: "/tmp/alice", record });
 * await alice.close();
 * ```
 */
export function connectAlice(town: CliTown, options: ConnectAliceOptions): Promise<ClaimClient> {
  return connectClaimClient({
    url: town.btpUrl,
    townAddress: town.field("ilpAddress"),
    townPubkey: town.field("pubkey"),
    stateDir: options.stateDir,
    secretKey: options.pair.aliceKey,
    record: options.record,
    shareClaimsOf: options.shareClaimsOf,
  });
}
