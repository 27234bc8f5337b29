/**
 * `turnpike town up`: runs a town (the ILP-gated relay, docs/PROTOCOL.md): NIP-01/HTTP server,
 * BTP server for children, optional parent connector, paid write pipeline, SPSP responder.
 *
 * Identity: the wallet in the state dir (`turnpike wallet init`), unlocked with the passphrase
 * (`--passphrase-file`, `--passphrase-fd`, `TURNPIKE_PASSPHRASE_FILE` or a prompt). The SPSP
 * secrets are derived from that key, so senders keep their secrets across restarts.
 * `--generate-key` instead uses a throwaway key for this run only (dev/demo: senders must redo
 * SPSP after a restart). Ports 0 pick free ports; the chosen ones are printed. SIGINT/SIGTERM
 * stop it cleanly (queued writes are committed, sockets closed) with exit code 0. One long-running
 * role per state dir: a second one on it exits 1 naming the first's pid (`state/state_dir_lock.ts`).
 *
 * Payment channels: a peer that opens a channel to the town's address on a chain of `[channels]
 * chains` (with `[chains."<id>"]` rpc_url, token_network, token) pays over it from its first
 * claim: the town verifies the channel on chain and writes its file, no restart or `channel
 * recover` needed (roles/town/channels/channel_discovery.ts); from then on that account's packets must be
 * covered by claims. A peer may also be configured with a channel (`[[town.peers]] channel`, or
 * `--peer-channel account:0x<id>[:credit]`); its channel file must then be in the town's state
 * dir (`turnpike channel recover` rebuilds it). The banner lists which peer settles over which
 * channel, and each channel learned while the town runs is one line on stderr.
 *
 * @module
 */
import { type Command, Option } from "commander";
import { CliError } from "./cli_error.ts";
import { registerTownMigrate } from "./town_migrate_command.ts";
import { registerTownBalances } from "./town_balances_command.ts";
import { townStartError } from "./town_start_error.ts";
import type { PostgresClaimBooks } from "../state/postgres/postgres_claim_books.ts";
import { ExitCode } from "./exit_codes.ts";
import { loadSettings, type Network } from "../config/settings.ts";
import { networkField } from "./network_line.ts";
import { ConfigError, describeSource } from "../config/config_error.ts";
import { startNodeSession } from "./node_session.ts";
import { settingsFlagsFrom } from "./settings_flags.ts";
import {
  DEFAULT_TOWN_PAYOUTS,
  resolveTownSettings,
  type TownFlags,
  type TownSettings,
} from "../config/town_settings.ts";
import type { TownPayouts } from "../roles/town/channels/peer_payout.ts";
import { resolveChainConfig } from "../config/chain_config.ts";
import { townAssetOfToken } from "../config/town_asset.ts";
import { CLI_ERRORS } from "./cli_error_map.ts";
import type { NodeSigner } from "../protocol/node_signer.ts";
import { startTownNode, type TownNode } from "../roles/town/town_node.ts";
import { chainTables, watchIntervalMs } from "../config/channel_settings.ts";
import { channelLearnBudget } from "../config/town_limits.ts";
import type {
  PeerSettlement,
  TownChannelGates,
} from "../roles/town/channels/town_channel_gates.ts";
import { openTownGates } from "./town_gates.ts";
import type { GlobalOptions } from "./global_options.ts";
import { printJsonLine } from "./json_line.ts";
import { lazyImport } from "./lazy_import.ts";
import { trimFreedMemory } from "../transport/freed_memory_trim.ts";
import { StartGarbageCollection } from "../transport/start_garbage_collection.ts";
import { startWithSmallYoungGeneration } from "../transport/small_young_generation.ts";
import { terminalText } from "./terminal_text.ts";

/** A line of the town's log on stderr: it names peers' accounts and quotes what they sent. */
const logLine = (line: string) => console.error(terminalText(line));

/** How long the town's key's worker runs without a request before it is stopped. */
const KEY_WORKER_IDLE_MS = 5_000;

interface TownUpOptions extends TownFlags, GlobalOptions {
  host?: string;
  townPort?: string;
  btpPort?: string;
  pricePerByte?: string;
  network?: string;
  allowInsecure?: boolean;
  generateKey?: boolean;
  passphraseFile?: string;
  passphraseFd?: string;
  mainnet?: boolean;
}

const TOWN_SETTING_FLAGS = [
  "host",
  "townPort",
  "btpPort",
  "pricePerByte",
  "network",
  "allowInsecure",
] as const;

/**
 * Adds `town up` to the program.
 *
 * @example
 * ```ts
 * import { Command } from "commander";
 * registerTownCommand(new Command("turnpike"));
 * ```
 */
export function registerTownCommand(program: Command): void {
  const town = program.command("town").description("run a town (ILP-gated relay)");
  town.command("up")
    .description("start the town: NIP-01 relay, BTP server, paid writes (Ctrl-C stops it)")
    .option("--host <host>", "address to bind (default 127.0.0.1)")
    .option("--town-port <port>", "NIP-01/HTTP port (default 7100; 0 = any free port)")
    .option("--btp-port <port>", "BTP port (default 3000; 0 = any free port)")
    .option("--tls-cert <pem>", "serve wss://, https://, btp+wss:// with this certificate chain")
    .option("--tls-key <pem>", "the certificate's private key (both read again on SIGHUP)")
    .option(
      "--trusted-proxy <ip>",
      "a TLS terminator or load balancer whose PROXY header names the client (repeat)",
      (value: string, previous: string[] = []) => [...previous, value],
    )
    .option(
      "--private-kinds <kinds>",
      "event kinds served only to their p-tagged recipient after NIP-42 AUTH, besides gift " +
        "wraps (1059): comma-separated",
    )
    .option("--ilp-address <address>", "the town's ILP address when it has no parent")
    .option("--parent <url>", "parent connector, btp+ws://[user:token@]host:port")
    .option("--parent-token <token>", "BTP auth token for the parent")
    .option(
      "--peer <account:token[:max]>",
      "a BTP peer account (repeatable)",
      (v: string, prev: string[] = []) => [...prev, v],
    )
    .option(
      "--peer-channel <account:channel[:credit]>",
      "the peer settles over this payment channel, with this credit limit (repeatable)",
      (v: string, prev: string[] = []) => [...prev, v],
    )
    .option("--mainnet", "allow a peer channel on a mainnet chain (real funds)")
    .option("--dev-accept-any-token", "DEV ONLY: accept any BTP token, account = auth username")
    .option("--max-event-bytes <n>", "largest event accepted, TOON bytes (default 1 MiB)")
    .option("--max-packet-amount <n>", "default largest PREPARE amount per peer")
    .option("--owner <pubkey>", "hex pubkey whose events are free")
    .option("--public-btp-url <url>", "BTP URL announced in the town's kind 10032 (default: bound)")
    .option(
      "--public-relay-url <urls>",
      "the ws:// or wss:// URLs clients reach the relay at, which NIP-42 answers must name: " +
        "comma-separated (default: the bound ones)",
    )
    .option("--blob-price-per-mib <n>", "price of a stored blob, base units per MiB (default 200)")
    .option("--max-blob-bytes <n>", "largest blob accepted (default 268435456, 256 MiB)")
    .option("--blob-quota-bytes <n>", "bytes one pubkey may store (default 1 GiB)")
    .option("--blob-retention-days <n>", "days a paid blob is kept (default 7)")
    .option("--price-per-byte <n>", "base units per TOON byte (default 10)")
    .option(
      "--store <url>",
      "postgres://user@host:port/db: a store several town processes share (default: SQLite)",
    )
    .option(
      "--store-processes <n>",
      "processes sharing --store: each enforces its share of town-wide limits (default 1)",
    )
    .option(
      "--store-blobs-dir <dir>",
      "with --store: a blob directory the town's processes on this host share " +
        "(absent: each its own, the index in the store, bytes fetched by hash)",
    )
    .option(
      "--store-blob-peer-host <host>",
      "with --store: the address of this process's private listener (blob fetches, forwarded " +
        "packets; default 127.0.0.1)",
    )
    .addOption(new Option("--network <name>").choices(["local", "testnet", "mainnet"]))
    .option("--allow-insecure", "allow a non-loopback btp+ws:// parent")
    .option("--generate-key", "use a throwaway identity for this run (dev; no wallet needed)")
    .option("--passphrase-file <file>", "read the wallet passphrase from this file")
    .option("--passphrase-fd <n>", "read the wallet passphrase from this file descriptor")
    .option("--non-interactive", "never prompt")
    .action(async (_opts: unknown, cmd: Command) => {
      await townUp(cmd.optsWithGlobals<TownUpOptions>(), cmd);
    });
  registerTownMigrate(town);
  registerTownBalances(town);
}

function printStarted(
  node: TownNode,
  opts: TownUpOptions,
  config: { host: string; stateDir: string; network: Network },
  settlements: readonly PeerSettlement[],
  learnsOn: readonly string[],
) {
  const { host, stateDir } = config;
  const [ws, btp] = node.certificate ? ["wss", "btp+wss"] : ["ws", "btp+ws"];
  const info = {
    event: "town-up",
    network: networkField(config.network).line.replace("Network: ", ""),
    ilpAddress: node.ilpAddress,
    pubkey: node.pubkey,
    nip01Url: `${ws}://${host}:${node.httpPort}`,
    btpUrl: `${btp}://${host}:${node.btpPort}`,
    ...(node.certificate ? { tls: node.certificate.fingerprint } : {}),
    httpPort: node.httpPort,
    btpPort: node.btpPort,
    asset: `${node.assetCode}/${node.assetScale}`,
    stateDir,
    database: node.databasePath,
    identity: opts.generateKey ? "throwaway (--generate-key)" : "wallet",
    // Announced in the town's kind 10032: what `turnpike channel open` negotiates with.
    chains: node.announcement?.info.supportedChains.join(", ") ||
      "none (no settlement chain announced)",
    // Where a payer's new channel is taken from its first claim, without a restart.
    learns: learnsOn.length > 0
      ? `channels opened to the town on ${learnsOn.join(", ")}`
      : "no channels (no chain of [channels] chains has rpc_url, token_network, token)",
  };
  const channels = settlements.map((s) => ({
    account: s.account,
    channelId: s.channelId,
    network: s.network,
    peerAddress: s.peerAddress,
    received: s.received.toString(),
    creditLimit: s.creditLimit.toString(),
    learned: s.learned,
  }));
  if (opts.output === "json") {
    printJsonLine("town", { ...info, channels });
    return;
  }
  console.log("town up");
  for (const [k, v] of Object.entries(info)) {
    if (k !== "event") console.log(`  ${k.padEnd(11)} ${v}`);
  }
  for (const c of channels) {
    console.log(
      `  settles     ${c.account} over channel ${c.channelId} on ${c.network}` +
        ` (peer ${c.peerAddress}, credit limit ${c.creditLimit}${c.learned ? ", learned" : ""})`,
    );
  }
  if (opts.generateKey) {
    console.log("  warning     throwaway identity: senders must redo SPSP after a restart");
  }
}

async function townUp(opts: TownUpOptions, cmd: Command): Promise<void> {
  // Before anything is opened: the process may be replaced by itself with V8's young generation
  // sized for a town (docs/OPERATIONS.md "Peers that do not read").
  startWithSmallYoungGeneration();
  let config;
  let chains: Record<string, unknown> | undefined;
  let watchEveryMs: number | undefined;
  try {
    const loaded = await loadSettings({ flags: settingsFlagsFrom(opts, cmd, TOWN_SETTING_FLAGS) });
    config = resolveTownSettings({ loaded, flags: opts });
    chains = chainTables(loaded);
    watchEveryMs = watchIntervalMs(loaded);
    opts.mainnet ||= loaded.settings.mainnet;
    if (loaded.settings.role !== undefined && loaded.settings.role !== "town") {
      throw new CliError(`this profile was made for a ${loaded.settings.role}, not a town`, {
        context: `role "${loaded.settings.role}" from ${describeSource(loaded.sources.role)}`,
        suggestion: "use the town's profile (--profile / --state-dir), or run " +
          "`turnpike init --role town` in a new one",
        exitCode: ExitCode.Usage,
      });
    }
  } catch (err) {
    if (err instanceof ConfigError) {
      throw CLI_ERRORS.badSetting(err);
    }
    throw err;
  }
  // The lock before the passphrase prompt and the first write; the lock and the signer held
  // until this function returns or throws, after the town and its gates have stopped.
  await using session = await startNodeSession({
    command: "town up",
    network: config.network,
    chains: config.settlement?.chains.map((c) => c.chain) ?? [],
    allowMainnet: opts.mainnet,
    signer: {
      ...opts,
      stateDir: config.stateDir,
      who: "the town",
      // An idle town signs a few times an hour: its key's worker ends meanwhile
      // (docs/ARCHITECTURE.md "The key's worker").
      stopWhenIdleMs: KEY_WORKER_IDLE_MS,
      missingSuggestion: "run `turnpike wallet init` first, or pass --generate-key for a dev town",
    },
  });
  const { signer } = session;
  let townAddress = config.ilpAddress;
  // A town on a shared store keeps its channels' claim books there: every process decides
  // claims and cover on the same row, under a lock (state/postgres/postgres_claim_books.ts).
  const sharedBooks = config.storeUrl === undefined
    ? undefined
    : await openSharedBooks(config.storeUrl);
  await using _books = { [Symbol.asyncDispose]: async () => await sharedBooks?.close() };
  const gates = await openTownGates({
    stateDir: config.stateDir,
    sharedBooks,
    peerChannels: config.peerChannels ?? [],
    chains,
    settlementChains: config.settlement?.chains.map((c) => c.chain),
    discoveryLimits: { overall: channelLearnBudget(config.limits) },
    signer,
    triggeredBy: () => townAddress,
    allowMainnet: opts.mainnet,
    watchIntervalMs: watchEveryMs,
    onNotice: (line) => logLine(line),
    onChannelLearned: (account, record, replaced) =>
      logLine(
        `channel ${record.channelId} of ${account}: learned from its first claim (verified on ` +
          `${record.chain}: peer ${record.peerAddress}, deposit ${record.peerDeposit})` +
          (replaced ? `; replaces ${replaced.channelId} (${replaced.status})` : ""),
      ),
    onChannelChange: (account, c) =>
      logLine(
        `channel ${c.record.channelId} of ${account}: ${c.action} (${c.record.status} on chain)` +
          Object.entries(c.fields).map(([k, v]) => `, ${k} ${v}`).join(""),
      ),
    onWatchError: (account, err) =>
      logLine(`channel of ${account}: cannot read the chain: ${err.message}`),
  });
  countInSettlementToken(config, gates.settlementToken);
  let node: TownNode;
  // The payouts need the running town (its books and peers); its hooks reach them.
  const hooks: { payouts?: TownPayoutHooks } = {};
  try {
    node = await startTownNode({
      config,
      signer,
      log: (line) => opts.output !== "json" && logLine(line),
      claimGate: gates.claimGate,
      hasChannel: (account) => gates.gate(account) !== undefined,
      cosignDesk: gates.cosignDesk,
      onOwed: (balance) => hooks.payouts?.owed(balance),
      onPeerConnected: (account) => hooks.payouts?.connected(account),
    });
    townAddress = node.ilpAddress; // a parent's IL-DCP answer may have replaced it
  } catch (err) {
    await gates.close();
    throw townStartError(err, `${config.host}, ports ${config.httpPort}/${config.btpPort}`);
  }
  hooks.payouts = await startPayouts(node, config, signer, chains, opts.mainnet, watchEveryMs);
  printStarted(node, opts, config, gates.settlements, gates.learnsOn);
  // After the key's worker's own collection (1 s after its last request, before this), then the
  // C allocator's pages the two freed (docs/SCALE.md "An idle town's memory").
  new StartGarbageCollection({ quietMs: 1500, afterCollect: trimFreedMemory }).start();
  using _renewals = reloadOnHangup(node, opts.output === "json");
  // A town without its key can answer no SPSP request and co-sign nothing: it stops too.
  const lost = await session.stopped;
  await node.stop();
  await hooks.payouts?.close();
  await gates.close();
  if (lost) throw new CliError(`the town stopped: ${lost.message}`, { cause: lost });
  if (opts.output === "json") printJsonLine("town-stopped", { event: "town-stopped" });
  else console.log("town stopped");
}

async function openSharedBooks(url: string): Promise<PostgresClaimBooks> {
  // The PostgreSQL wrappers are a shared store's only: a SQLite town does not load them
  // (docs/SCALE.md "An idle town's memory").
  const { ClaimBooksError, openPostgresClaimBooks } = await lazyImport<
    typeof import("../state/postgres/postgres_claim_books.ts")
  >(new URL("../state/postgres/postgres_claim_books.ts", import.meta.url));
  try {
    return await openPostgresClaimBooks({ url });
  } catch (err) {
    if (!(err instanceof ClaimBooksError)) throw err;
    throw new CliError(`the town did not start: ${err.message}`, {
      context: "[store] url",
      suggestion: "start the database (`turnpike db up` on one machine) or check --store / " +
        "[store] url",
      cause: err,
    });
  }
}

/** A town process's payouts: its own books, or the shared store's on a town of several. */
type TownPayoutHooks = Pick<TownPayouts, "owed" | "connected" | "close">;

/**
 * The town's payouts to the peers named in `[town.payouts.addresses]` (docs/OPERATIONS.md
 * "Paying providers"), on the first chain of `[chains]` the town settles on; none without either.
 */
async function startPayouts(
  node: TownNode,
  config: TownSettings,
  signer: NodeSigner,
  chains: Record<string, unknown> | undefined,
  allowMainnet: boolean | undefined,
  watchEveryMs: number | undefined,
): Promise<TownPayoutHooks | undefined> {
  const policy = config.payouts ?? DEFAULT_TOWN_PAYOUTS;
  const addresses = policy.addresses ?? {};
  const settles = config.settlement?.chains.map((c) => c.chain) ?? Object.keys(chains ?? {});
  const chainId = settles.find((id) => chains?.[id] !== undefined);
  if (Object.keys(addresses).length === 0) return undefined;
  if (chainId === undefined) {
    console.error("payouts: none: [town.payouts.addresses] is set but no [chains] table to pay on");
    return undefined;
  }
  const configured = resolveChainConfig(chainId, {
    section: chains![chainId] as Record<string, unknown>,
    allowMainnet,
  });
  // Loaded only for a town that pays out: the chain code stays off an idle town's heap, and
  // named by URL so that `deno run` does not read it at start either (docs/OPERATIONS.md
  // "Memory", cli/lazy_import.ts).
  const [{ TownPayouts }, { TokenNetworkClient }, { connectChain }] = await Promise.all([
    lazyImport<typeof import("../roles/town/channels/peer_payout.ts")>(
      new URL("../roles/town/channels/peer_payout.ts", import.meta.url),
    ),
    lazyImport<typeof import("../chain/token_network_client.ts")>(
      new URL("../chain/token_network_client.ts", import.meta.url),
    ),
    lazyImport<typeof import("../chain/chain_connection.ts")>(
      new URL("../chain/chain_connection.ts", import.meta.url),
    ),
  ]);
  const chain = await connectChain(configured);
  const payouts = {
    stateDir: config.stateDir,
    ledger: node.ledger,
    credit: node.credit,
    signer,
    client: new TokenNetworkClient({ chain, account: signer.evm }),
    policy,
    deposit: policy.deposit ?? policy.maxOwed,
    peerAddress: (account: string) => addresses[account],
    send: async (account: string, claim: Uint8Array) => {
      const peer = node.peer(account);
      if (!peer) throw new Error(`${account} is not connected`);
      await peer.sendClaim(claim, 10_000);
    },
    log: (line: string) => logLine(line),
  };
  if (config.storeUrl === undefined) {
    // Its payout channels watched (a close by the peer; settled after the timeout).
    const one = new TownPayouts({ ...payouts, watchIntervalMs: watchEveryMs });
    // In the background: finishing an open a crash interrupted is chain transactions.
    void one.resumeOpens().then(() => one.watchKept());
    return one;
  }
  // A town of several processes: the books and the payout channels in the shared store.
  const [{ SharedTownPayouts, sharedBooksId }, { openPostgresPayoutBooks }] = await Promise.all([
    lazyImport<typeof import("../roles/town/channels/shared_payouts.ts")>(
      new URL("../roles/town/channels/shared_payouts.ts", import.meta.url),
    ),
    lazyImport<typeof import("../state/postgres/postgres_payout_books.ts")>(
      new URL("../state/postgres/postgres_payout_books.ts", import.meta.url),
    ),
  ]);
  // Its payout channels watched by every process (a close by the peer; one settles it).
  return await SharedTownPayouts.start({
    ...payouts,
    watchIntervalMs: watchEveryMs,
    books: await openPostgresPayoutBooks({ url: config.storeUrl }),
    booksId: await sharedBooksId(config.stateDir),
    connectedHere: (account) => node.peer(account) !== undefined,
  });
}

/**
 * The town counts in the token it settles in, with the symbol and decimals its contract answered
 * (config/town_asset.ts); an asset config named that differs is refused.
 */
function countInSettlementToken(
  config: TownSettings,
  token: TownChannelGates["settlementToken"],
): void {
  if (token === undefined) return;
  const asset = { ...config, assetFromToken: config.assetFromToken ?? false };
  try {
    Object.assign(config, townAssetOfToken(asset, token, token.chain), { assetFromToken: false });
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    throw new CliError(err.message, { context: err.name, exitCode: ExitCode.Usage, cause: err });
  }
}

/**
 * SIGHUP reads the town's certificate files again (a renewal; roles/town/town_certificate.ts)
 * and says which certificate new connections get, or why the old one stays. Without TLS,
 * SIGHUP is ignored (it does not stop the town).
 */
function reloadOnHangup(node: TownNode, json: boolean): Disposable {
  const certificate = node.certificate;
  const onHangup = () => {
    if (certificate === undefined) return;
    certificate.reload().then(
      (fingerprint) =>
        json
          ? printJsonLine("tls-reloaded", { event: "tls-reloaded", fingerprint })
          : console.error(`tls: certificate reloaded, new connections get ${fingerprint}`),
      (err: Error) =>
        console.error(`tls: certificate not reloaded, the old one stays: ${err.message}`),
    );
  };
  Deno.addSignalListener("SIGHUP", onHangup);
  return { [Symbol.dispose]: () => Deno.removeSignalListener("SIGHUP", onHangup) };
}
