/**
 * A town of two `turnpike town up` processes on one PostgreSQL database (a real server) that owes
 * beta, a provider, its invoices and pays them over a payout channel on anvil, with alice paying
 * through process B on her own channel: the set-up the shared payout tests share
 * (tests/e2e/town_shared_payouts_test.ts, tests/e2e/town_shared_payout_watch_test.ts). Beta's
 * invoices are answered by the test's own BTP client (their fulfillments are its secret) and the
 * town's claims kept by a `PayoutReceiver`.
 *
 * @module
 */
import { sha256 } from "@noble/hashes/sha2.js";
import { assert, assertEquals } from "../../harness/assert.ts";
import {
  BOB_MNEMONIC,
  type ChannelPair,
  startChannelPair,
  startGasOnlyParty,
} from "../../harness/anvil_channel_pair.ts";
import { chainToml } from "../../harness/chain_toml.ts";
import { createCliWallet } from "../../harness/cli_wallet.ts";
import { type CliTown, startCliTown } from "../../harness/cli_town.ts";
import { type ClaimClient, connectClaimClient } from "../../harness/channel_town.ts";
import { openPairChannel } from "../../harness/pair_channel.ts";
import { freshDatabase } from "../../harness/postgres_database.ts";
import { type PostgresServer, startPostgresServer } from "../../state/postgres/postgres_server.ts";
import {
  channelFilePath,
  type ChannelRecord,
  readChannel,
  saveChannel,
} from "../../state/channels/channel_file.ts";
import { PayoutReceiver } from "../../roles/channels/payout_receiver.ts";
import type { TokenNetworkClient } from "../../chain/token_network_client.ts";
import { BtpClient } from "../../transport/btp_client.ts";

/**
 * SIGKILLs every town process still up (a test's end, passed or failed) and waits for each.
 *
 * It needs running towns: no example that runs here: tests/e2e/town_shared_payouts_test.ts.
 */
export async function killTowns(towns: readonly (CliTown | undefined)[]): Promise<void> {
  for (const t of towns) {
    if (!t) continue;
    try {
      t.process.child.kill("SIGKILL");
    } catch {
      // already gone
    }
    await t.process.done.catch(() => {});
  }
}

/** An invoice's price (base units). */
export const PRICE = 2_500n;
/** The town's payout threshold. */
export const THRESHOLD = 10_000n;
/** Invoices that make the threshold exactly. */
export const AT_THRESHOLD = Number(THRESHOLD / PRICE);
/** A hang guard, not a wall-clock assertion. */
const GUARD_MS = 60_000;

/** Options for {@linkcode startSharedPayoutTown}. */
export interface SharedPayoutTownOptions {
  /** The temp dir's prefix. */
  prefix: string;
  /** More `[channels]` lines (e.g. `watch_interval = 0.1`). */
  channels?: string;
}

/** The running town, beta and alice; disposing stops and removes everything. */
export interface SharedPayoutTown extends AsyncDisposable {
  pair: ChannelPair;
  /** The PostgreSQL server both processes share (tests may stop and start it). */
  pg: PostgresServer;
  /** Beta's chain client and its token balance before the run. */
  beta: TokenNetworkClient;
  betaStart: bigint;
  /** The processes, A then B (tests may replace or restart them). */
  towns: CliTown[];
  stateA: string;
  stateB: string;
  /** Beta's kept claims. */
  payouts: PayoutReceiver;
  /** Alice's claim client, connected to B; undefined once the test closed it. */
  alice: ClaimClient | undefined;
  /** Starts `town up` on a state dir of the town. */
  up(stateDir: string): Promise<CliTown>;
  /** Every process's log, for failure messages. */
  logs(): string;
  /** Beta's BTP link to a process (answers its invoices, keeps its claims). */
  connectBeta(town: CliTown): Promise<BtpClient>;
  /** Waits until beta keeps a claim for `amount`. */
  kept(amount: bigint, what: string): Promise<ChannelRecord>;
  /** Alice pays `n` of beta's invoices through B. */
  pay(n: number, where: string): Promise<void>;
  /** Waits for `text` in a process's log. */
  seen(town: CliTown, text: string): Promise<true>;
  /** Waits for `text` in any process's log. */
  anySeen(text: string): Promise<true>;
}

/**
 * A promise, or an error naming `what` after `ms` (a minute by default): a hang guard.
 *
 * @example
 * ```ts
 * import { guard } from "./shared_payout_town.ts";
 *
 * console.assert(await guard(Promise.resolve(1), () => "one") === 1);
 * ```
 */
export function guard<T>(promise: Promise<T>, what: () => string, ms = GUARD_MS): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out (${ms} ms): ${what()}`)), ms);
  });
  return Promise.race([promise, late]).finally(() => clearTimeout(timer));
}

/** Options for {@linkcode twoProcessTownState}. */
export interface TwoProcessTownStateOptions {
  /** The temp dir the town's state dirs go in (`town0`, `town1`). */
  dir: string;
  pair: ChannelPair;
  /** The PostgreSQL database both processes share. */
  storeUrl: string;
  /** Alice's channel with the town (peer `alice`, token `alice-token`). */
  aliceChannelId: string;
  /** Where the town pays beta out (peer `beta`, token `beta-token`). */
  betaAddress: string;
  /** `[town.payouts] threshold`. */
  threshold: bigint;
  /** `[town.payouts] deposit`. */
  deposit: bigint;
  /** More `[channels]` lines (e.g. `watch_interval = 0.1`). */
  channels?: string;
}

/** The state dirs of a town's two processes (one identity, one config) and its secret. */
export interface TwoProcessTownState {
  /** The arguments that open the town's identity (`--passphrase-file ...`). */
  secret: string[];
  stateA: string;
  stateB: string;
}

/**
 * The town's identity (bob's mnemonic) and config for two processes on one PostgreSQL database,
 * its channel with alice recovered from the chain, and the state dir copied for the second
 * process: the set-up every shared payout test starts its `town up` processes on.
 *
 * @example
 * ```ts ignore
 * import { twoProcessTownState } from "./shared_payout_town.ts";
 *
 * declare const options: Parameters<typeof twoProcessTownState>[0];
 * const { secret, stateA, stateB } = await twoProcessTownState(options);
 * ```
 */
export async function twoProcessTownState(
  o: TwoProcessTownStateOptions,
): Promise<TwoProcessTownState> {
  const bob = await createCliWallet({
    dir: o.dir,
    name: "town0",
    mnemonic: BOB_MNEMONIC,
    config: `[store]
url = "${o.storeUrl}"
processes = 2

[channels]
chains = ["evm:base:31337"]
${o.channels ?? ""}

[town]
ilp_address = "test.paytown"

[[town.peers]]
account = "alice"
token = "alice-token"
channel = "${o.aliceChannelId}"
credit_limit = "0"

[[town.peers]]
account = "beta"
token = "beta-token"

[town.payouts]
threshold = "${o.threshold}"
interval_seconds = 3600
deposit = "${o.deposit}"

[town.payouts.addresses]
beta = "${o.betaAddress}"

${chainToml(o.pair)}`,
  });
  const recovered = await bob.run(["channel", "recover"]);
  assertEquals(recovered.code, 0, recovered.stderr);
  const stateB = `${o.dir}/town1`;
  await new Deno.Command("cp", { args: ["-a", bob.stateDir, stateB] }).output();
  return { secret: bob.secret, stateA: bob.stateDir, stateB };
}

async function poll<T>(probe: () => Promise<T | undefined>): Promise<T> {
  for (;;) {
    const v = await probe();
    if (v !== undefined) return v;
    await new Promise((r) => setTimeout(r, 50));
  }
}

/**
 * Starts anvil, PostgreSQL, the two town processes, beta's receiver and alice's client.
 *
 * @example
 * ```ts ignore
 * import { startSharedPayoutTown } from "./shared_payout_town.ts";
 *
 * await using net = await startSharedPayoutTown({ prefix: "payouts_" });
 * await net.pay(1, "one invoice");
 * ```
 */
export async function startSharedPayoutTown(
  options: SharedPayoutTownOptions,
): Promise<SharedPayoutTown> {
  const stack = new AsyncDisposableStack();
  try {
    const pair = stack.use(await startChannelPair());
    const pg = stack.use(await startPostgresServer());
    const storeUrl = await freshDatabase(pg.url);
    const channel = await openPairChannel(pair, { deposit: 50_000_000n });
    const dir = await Deno.makeTempDir({ prefix: options.prefix });
    stack.defer(() => Deno.remove(dir, { recursive: true }));
    const { client: beta } = await startGasOnlyParty(pair);
    const betaStart = await beta.tokenBalance();
    const towns: CliTown[] = [];
    const links: BtpClient[] = [];
    stack.defer(async () => {
      for (const link of links) await link.close().catch(() => {});
      await killTowns(towns);
    });
    const { secret, stateA, stateB } = await twoProcessTownState({
      dir,
      pair,
      storeUrl,
      aliceChannelId: channel.channelId,
      betaAddress: beta.address,
      threshold: THRESHOLD,
      deposit: 1_000_000n,
      channels: options.channels,
    });
    const up = (stateDir: string) =>
      guard(
        startCliTown({ stateDir, secret, ready: (l) => l.includes("settles") }),
        () => `town up in ${stateDir}`,
      );
    const logs = () => towns.map((t, i) => `town ${i}: ${t.process.stderr.join(" | ")}`).join("\n");
    towns.push(await up(stateA), await up(stateB));
    const payouts = new PayoutReceiver({
      stateDir: `${dir}/beta`,
      client: beta,
      townPubkey: towns[0].field("pubkey"),
    });

    const secrets = new Map<string, Uint8Array>();
    const connectBeta = async (town: CliTown) => {
      const client = new BtpClient({
        url: town.btpUrl,
        authToken: "beta-token",
        reconnect: false,
        onPrepare: (p) => {
          const secret = secrets.get(p.executionCondition.join(","));
          return secret && BigInt(p.amount) === PRICE
            ? { type: "fulfill", fulfillment: secret, data: new Uint8Array(0) }
            : {
              type: "reject",
              code: "F02",
              triggeredBy: "",
              message: "no such invoice",
              data: new Uint8Array(0),
            };
        },
        onClaim: async (claim) => void await payouts.take(claim),
      });
      links.push(client);
      await client.connect();
      return client;
    };
    const kept = (amount: bigint, what: string) =>
      guard(
        poll(async () => {
          const [r] = await payouts.records();
          return r?.received === amount ? r : undefined;
        }),
        () => `beta keeps a claim for ${amount} (${what})\n${logs()}`,
      );

    const aliceDir = `${dir}/alice`;
    await saveChannel(channel.aliceRecord, { stateDir: aliceDir, action: "open" });
    const b = towns[1];
    const net: SharedPayoutTown = {
      pair,
      pg,
      beta,
      betaStart,
      towns,
      stateA,
      stateB,
      payouts,
      alice: await guard(
        connectClaimClient({
          url: b.btpUrl,
          townAddress: b.field("ilpAddress"),
          townPubkey: b.field("pubkey"),
          stateDir: aliceDir,
          secretKey: pair.aliceKey,
          record: await readChannel(channelFilePath(aliceDir, channel.channelId)),
        }),
        () => "alice connects to B",
      ),
      up,
      logs,
      connectBeta,
      kept,
      pay: async (n, where) => {
        for (let i = 0; i < n; i++) {
          await guard(payInvoice(), () => `invoice ${i} (${where})\n${logs()}`);
        }
      },
      seen: (town, text) =>
        guard(
          poll(() =>
            Promise.resolve(town.process.stderr.some((l) => l.includes(text)) || undefined)
          ),
          () => `"${text}" in ${town.process.stderr[0] ?? "a town"}'s log\n${logs()}`,
        ),
      anySeen: (text) =>
        guard(
          poll(() =>
            Promise.resolve(
              towns.some((t) => t.process.stderr.some((l) => l.includes(text))) || undefined,
            )
          ),
          () => `"${text}" in a town's log\n${logs()}`,
        ),
      async [Symbol.asyncDispose]() {
        await net.alice?.close().catch(() => {});
        await stack.disposeAsync();
      },
    };
    const payInvoice = async () => {
      const secret = crypto.getRandomValues(new Uint8Array(32));
      secrets.set(sha256(secret).join(","), secret);
      // B forwards to the process beta is connected to (it may take a moment to be known).
      for (;;) {
        const reply = await net.alice!.client.sendPrepare({
          destination: "test.paytown.beta.invoice",
          amount: String(PRICE),
          executionCondition: sha256(secret),
          expiresAt: new Date(Date.now() + 30_000),
          data: new Uint8Array(0),
        });
        if (reply.type === "fulfill") return;
        assert(reply.code === "F02" || reply.code.startsWith("T"), JSON.stringify(reply));
        await new Promise((r) => setTimeout(r, 100));
      }
    };
    return net;
  } catch (err) {
    await stack.disposeAsync();
    throw err;
  }
}
