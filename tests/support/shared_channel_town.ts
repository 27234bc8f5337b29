/**
 * Test helper: a town of several `turnpike town up` processes over one PostgreSQL database,
 * gating one payment channel of alice's (docs/OPERATIONS.md "A town on several machines"): the
 * profile made once (its wallet, `[store]`, alice as a peer paying over the channel, the
 * channel recovered from the chain; or, with `learn`, the town learning it from alice's first
 * claim as a town on `[channels] chains` does), copied into a state dir per process; and alice's
 * claim clients, one per process, signing one sequence of claims. {@linkcode startSharedChannelTown}
 * sets up the whole run the shared channel tests share: anvil, a PostgreSQL server, alice's
 * channel, the town's processes and alice's record, all ended when it is disposed.
 *
 * @module
 */
import { assertEquals } from "../../harness/assert.ts";
import {
  closeCooperatively,
  type CooperativeClose,
} from "../../roles/channels/channel_cosign_chain.ts";
import type { CosignTransport } from "../../roles/channels/channel_cosign_request.ts";
import { localNodeSigner } from "../../identity/local_node_signer.ts";
import {
  BOB_MNEMONIC,
  type ChannelPair,
  startChannelPair,
} from "../../harness/anvil_channel_pair.ts";
import { chainToml } from "../../harness/chain_toml.ts";
import { type CliWallet, createCliWallet } from "../../harness/cli_wallet.ts";
import { type CliTown, startCliTown } from "../../harness/cli_town.ts";
import {
  type ClaimClient,
  connectClaimClient,
  unfulfillablePayment,
} from "../../harness/channel_town.ts";
import { openPairChannel, type PairChannel } from "../../harness/pair_channel.ts";
import { freshDatabase } from "../../harness/postgres_database.ts";
import { startPostgresServer } from "../../state/postgres/postgres_server.ts";
import { openPostgresClaimBooks } from "../../state/postgres/postgres_claim_books.ts";
import type { ClaimBook } from "../../state/channels/channel_book.ts";
import {
  channelFilePath,
  type ChannelRecord,
  readChannel,
  saveChannel,
} from "../../state/channels/channel_file.ts";

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

/** Tokens {@linkcode startChannelPair} mints alice and bob each. */
export const MINTED = 100_000_000n;

/** Options for {@linkcode startSharedChannelTown}. */
export interface SharedChannelRunOptions {
  /** The temp dir's prefix. */
  prefix: string;
  /** Alice's deposit in her channel with the town. Default 50 M2M. */
  deposit?: bigint;
  /** State dirs to make, one per process. Default 2. */
  processes?: number;
  /** Processes started at once, `0` to `up - 1`. Default 2. */
  up?: number;
  /** As {@linkcode SharedChannelTownOptions.learn}. */
  learn?: boolean;
}

/** A shared channel town's run; disposing closes alice's clients, stops it, removes it all. */
export interface SharedChannelRun extends AsyncDisposable {
  pair: ChannelPair;
  /** The town's database. */
  storeUrl: string;
  /** Alice's channel with the town (bob). */
  channel: PairChannel;
  channelId: `0x${string}`;
  /** The temp dir: the town's state dirs and alice's. */
  dir: string;
  /** The town's profile. */
  town: SharedChannelTown;
  /** The processes started, in order. */
  towns: CliTown[];
  /** Alice's state dir: her channel file, her claims. */
  aliceDir: string;
  /** Alice's record of the channel as opened. */
  record: ChannelRecord;
  /** `town up` in state dir `i`, kept in `towns`. */
  start(i: number): Promise<CliTown>;
  /** Alice's claim client on `town`, closed at the end; `shareClaimsOf` as in `connectAlice`. */
  connect(town: CliTown, shareClaimsOf?: ClaimClient): Promise<ClaimClient>;
  /** The channel's shared book as the database holds it now. */
  readBook(): Promise<ClaimBook | undefined>;
  /** Alice closes cooperatively from `record`, asking `peer`, as `turnpike channel close` does. */
  closeCooperatively(peer: CosignTransport, record: ChannelRecord): Promise<CooperativeClose>;
  /** Chain = books: bob holds {@linkcode MINTED} and `delivered`, alice the rest. */
  assertChainPaid(delivered: bigint): Promise<void>;
}

/**
 * Starts anvil with alice's channel to the town, a PostgreSQL server with a fresh database, the
 * town's profile in `processes` state dirs and its first `up` processes; alice's channel file
 * saved in her own state dir.
 *
 * It starts anvil, PostgreSQL and town processes, so it has no example that runs here:
 * tests/e2e/town_shared_cosign_test.ts runs on it.
 */
export async function startSharedChannelTown(
  options: SharedChannelRunOptions,
): Promise<SharedChannelRun> {
  const pair = await startChannelPair();
  const towns: CliTown[] = [];
  const clients: ClaimClient[] = [];
  const ends: (() => Promise<void>)[] = [async () => await pair[Symbol.asyncDispose]()];
  // Every step runs; the first failure (the temp dir not removed) is thrown after the last.
  const end = async () => {
    for (const c of clients) await c.close().catch(() => {});
    for (const t of towns) await t.stop().catch(() => {});
    const failed: unknown[] = [];
    for (const e of ends.splice(0).reverse()) await e().catch((err) => failed.push(err));
    if (failed.length > 0) throw failed[0];
  };
  try {
    const pg = await startPostgresServer();
    ends.push(() => pg[Symbol.asyncDispose]());
    const storeUrl = await freshDatabase(pg.url);
    const channel = await openPairChannel(pair, { deposit: options.deposit ?? 50_000_000n });
    const { channelId } = channel;
    const dir = await Deno.makeTempDir({ prefix: options.prefix });
    ends.push(() => Deno.remove(dir, { recursive: true }));
    const town = await prepareSharedChannelTown({
      pair,
      channelId,
      storeUrl,
      dir,
      processes: options.processes ?? 2,
      learn: options.learn,
    });
    const start = async (i: number) => {
      const started = await town.start(i);
      towns.push(started);
      return started;
    };
    for (let i = 0; i < (options.up ?? 2); i++) await start(i);
    const aliceDir = `${dir}/alice`;
    await saveChannel(channel.aliceRecord, { stateDir: aliceDir, action: "open" });
    const record = await readChannel(channelFilePath(aliceDir, channelId));
    return {
      pair,
      storeUrl,
      channel,
      channelId,
      dir,
      town,
      towns,
      aliceDir,
      record,
      start,
      async connect(process, shareClaimsOf) {
        const client = await connectAlice(process, {
          pair,
          stateDir: aliceDir,
          record,
          shareClaimsOf,
        });
        clients.push(client);
        return client;
      },
      async readBook() {
        const books = await openPostgresClaimBooks({ url: storeUrl });
        return await books.read(channelId).finally(() => books.close());
      },
      closeCooperatively: (peer, record) =>
        closeCooperatively({
          peer,
          chain: pair.alice,
          record,
          signer: localNodeSigner(pair.aliceKey),
          stateDir: aliceDir,
        }),
      async assertChainPaid(delivered) {
        assertEquals(await pair.bob.tokenBalance(), MINTED + delivered, "chain = books");
        assertEquals(await pair.alice.tokenBalance(), MINTED - delivered);
      },
      [Symbol.asyncDispose]: end,
    };
  } catch (err) {
    await end().catch(() => {});
    throw err;
  }
}

/**
 * Pays `count` writes, `${note} ${i}`, over `clients` in turn, each FULFILLed; returns their sum.
 *
 * It needs a town, so it has no example that runs here: tests/e2e/town_shared_cosign_test.ts.
 */
export async function payWrites(
  clients: readonly ClaimClient[],
  count: number,
  note: string,
): Promise<bigint> {
  let paid = 0n;
  for (let i = 0; i < count; i++) {
    const client = clients[i % clients.length];
    const { reply, amount } = await client.write(client.sign(`${note} ${i}`));
    assertEquals(reply.type, "fulfill", JSON.stringify(reply));
    paid += amount;
  }
  return paid;
}

/** Far more than one write: the packet {@linkcode loseClaimedPayment} sends. */
export const LOST_PAYMENT = 20_000n;

/**
 * Sends {@linkcode LOST_PAYMENT} to an account `town` has no route to: refused (F02) after its
 * claim was taken, so its cover stays the payer's and a close does not pay it.
 *
 * It needs a town, so it has no example that runs here: tests/e2e/town_shared_cosign_test.ts.
 */
export async function loseClaimedPayment(client: ClaimClient, town: CliTown): Promise<void> {
  const lost = await client.client.sendPrepare(
    unfulfillablePayment(`${town.field("ilpAddress")}.nobody`, LOST_PAYMENT),
  );
  assertEquals(lost.type === "reject" && lost.code, "F02");
}
