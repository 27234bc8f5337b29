/**
 * The settlement half of `turnpike demo`: a local anvil started for the demo
 * (port 0) with the project's contracts deployed, the requester's throwaway key funded (test
 * tokens and gas) and a payment channel requester -> town opened with a small deposit. The
 * channel file is written in both temporary state dirs: the requester's as `channel open`
 * writes it, the town's as `channel recover` rebuilds it from the chain. After the job the
 * channel is closed and settled and the on-chain payouts are compared with both sides' books.
 *
 * Closing is cooperative when the town co-signs the final balances over BTP
 * (`roles/channels/channel_cosign_chain.ts`: one transaction, no settle timeout); otherwise
 * unilateral by the town with the requester's newest claim, then anvil's clock is moved past the
 * settle timeout (a local chain only) and the channel settled. The channel files follow the chain
 * through `roles/channels/channel_chain_sync.ts`, the comparison the CLI and the nodes' watchers
 * share.
 *
 * @module
 */
import { AnvilMissingError } from "./demo_chain_errors.ts";
import { undoOnFailure } from "../undo_on_failure.ts";
import { newChannelRecord } from "../channels/channel_record_builder.ts";
import type { Hex } from "viem";
import {
  anvilBinaryPath,
  AnvilError,
  anvilInstalled,
  type AnvilInstance,
  type DeployedContracts,
  increaseTime,
} from "../../chain/anvil.ts";
import type { NodeSigner } from "../../protocol/node_signer.ts";
import { type LocalChain, startLocalChain } from "../local_chain.ts";
import { type ChainConfig, LOCAL_CHAIN, resolveChainConfig } from "../../config/chain_config.ts";
import { TokenNetworkClient } from "../../chain/token_network_client.ts";
import { type AuditLog, openAuditLog } from "../../state/audit/audit_log.ts";
import { applyChainState, partnerProof, syncChannelFile } from "../channels/channel_chain_sync.ts";
import type { CosignTransport } from "../channels/channel_cosign_request.ts";
import { closeCooperatively } from "../channels/channel_cosign_chain.ts";
import { chainEqualsBooks as channelEqualsBooks } from "../channels/chain_books.ts";
import { ChannelCosignError } from "../../protocol/payment_channel_cosign.ts";
import {
  channelFilePath,
  type ChannelRecord,
  readChannel,
} from "../../state/channels/channel_file.ts";
import { recordChannel } from "../../state/channels/channel_writer.ts";

/** Options for {@linkcode startDemoChain}. */
export interface DemoChainOptions {
  /** The requester's state dir and key: it opens the channel and pays with claims. */
  requesterStateDir: string;
  requesterSigner: NodeSigner;
  /** The town's state dir and key: the channel's counterparty. */
  townStateDir: string;
  townSigner: NodeSigner;
  /** Channel deposit, token base units. Default 5 M2M (5_000_000 at 6 decimals). */
  deposit?: bigint;
  /** Settle timeout, seconds. Default 600. */
  settleTimeout?: bigint;
  /** anvil binary; default the one `npm install --prefix tools` puts in tools/node_modules. */
  anvilBinary?: string;
  /**
   * The provider the town pays through a payout channel (roles/town/channels/peer_payout.ts): its key
   * gets gas to close and settle, the town tokens for that channel's deposit.
   */
  provider?: { signer: NodeSigner; payoutDeposit: bigint };
  /** Progress lines. */
  onLine?: (line: string) => void;
}

/** A running demo chain with the channel open. */
export interface DemoChain extends AsyncDisposable {
  anvil: AnvilInstance;
  chain: ChainConfig;
  contracts: DeployedContracts;
  channelId: Hex;
  deposit: bigint;
  /** Time to open and fund the channel (approve, open, deposit), ms. */
  openMs: number;
  /** The `[chains]` table the town's channel gates read (`openTownChannelGates`). */
  chainsTable: Record<string, unknown>;
  /**
   * Closes and settles the channel: cooperatively when `peer` is given and the town co-signs,
   * unilaterally otherwise. Call once the requester has stopped (its channel file is final).
   */
  settle(options: DemoSettleOptions): Promise<DemoSettlement>;
  /** Stops anvil. Idempotent. */
  stop(): Promise<void>;
}

/** Options for {@linkcode DemoChain.settle}. */
export interface DemoSettleOptions {
  /** Connected to the town as the requester's BTP account: ask it to co-sign first. */
  peer?: CosignTransport;
  /** Stops the town (and whatever else still runs): its channel file is final afterwards. */
  stopNodes(): Promise<void>;
  /**
   * The town's payout channel to the provider, settled too: the provider closes it with the
   * newest claim it kept, then settles it past the settle timeout (anvil's clock).
   */
  payout?: DemoPayoutBooks;
}

/** The books the provider's payout is checked against, base units. */
export interface DemoPayoutBooks {
  /** The provider's state dir: its channel file holds the town's claim it kept. */
  providerStateDir: string;
  /** The payout channel (the town's ledger). */
  channelId: Hex;
  /** What the town's books say it owes the provider (its ledger's `owed`). */
  owed: bigint;
  /** What the provider's payment log says it earned. */
  earned: bigint;
  /** What the town's payment log says the requester paid it (its fees). */
  townFees: bigint;
}

/** What settling the demo channel showed, amounts as base-unit decimal strings. */
export interface DemoSettlement {
  channelId: Hex;
  chain: string;
  rpcUrl: string;
  tokenNetworkAddress: `0x${string}`;
  tokenSymbol: string;
  tokenDecimals: number;
  deposit: string;
  /** Cumulative amount of the requester's newest claim (its channel file). */
  paid: string;
  /** The town's books: the newest claim it holds. */
  received: string;
  claims: number;
  remaining: string;
  /**
   * "cooperative": both signed the final balances, settled at once; "unilateral": the town
   * closed with the newest claim, anvil's clock moved past the settle timeout, settled.
   */
  mode: "cooperative" | "unilateral";
  /** Why the cooperative settle was not used (the town's refusal, no answer). */
  cooperativeRefused?: string;
  /** Settling transactions sent. */
  transactions: number;
  /** Token balance changes of settling, on chain. */
  requesterPayout: string;
  townPayout: string;
  /** The payout channel town -> provider; absent when the provider was not paid. */
  payoutChannelId?: Hex;
  /** The provider's token balance change of closing and settling its payout channel. */
  providerPayout?: string;
  /**
   * The town's token balance change over the whole demo (its payout deposit out, the
   * requester's channel in, the payout channel's remainder back): its fees from the requester.
   */
  townNet?: string;
  /**
   * Every payout equals the books, and the sides' books agree: the requester's refund, the
   * town's fees, and (when paid) the provider's earnings.
   */
  chainEqualsBooks: boolean;
  openMs: number;
  /** Closing and settling the requester's channel, ms. */
  settleMs: number;
  /** Closing and settling the payout channel (close, anvil's clock, settle), ms. */
  payoutSettleMs?: number;
}

export { AnvilMissingError };

const DEMO_DEPOSIT = 5_000_000n;
const DEMO_SETTLE_TIMEOUT = 600n;

/**
 * Starts anvil, deploys the contracts, funds the requester and opens its channel to the town,
 * writing both channel files. anvil is stopped again when anything fails.
 *
 * It starts anvil: no example that runs here: tests/e2e/demo_settlement_test.ts.
 * @throws {AnvilMissingError} when the anvil binary is not installed.
 */
export async function startDemoChain(options: DemoChainOptions): Promise<DemoChain> {
  const binary = options.anvilBinary ?? anvilBinaryPath();
  if (!(await anvilInstalled(binary))) throw new AnvilMissingError(`no anvil at ${binary}`);
  const deposit = options.deposit ?? DEMO_DEPOSIT;
  // The requester needs the deposit and gas to open; the town needs gas to close and settle.
  const gas = 10n ** 17n;
  const provider = options.provider;
  const local = await startLocalChain({
    binary,
    fund: [
      { to: options.requesterSigner.evmAddress, tokens: deposit, wei: gas },
      { to: options.townSigner.evmAddress, tokens: provider?.payoutDeposit ?? 0n, wei: gas },
      ...(provider ? [{ to: provider.signer.evmAddress, tokens: 0n, wei: gas }] : []),
    ],
  });
  return await undoOnFailure(() => prepare(local, deposit, options), () => local.stop());
}

async function prepare(
  local: LocalChain,
  deposit: bigint,
  options: DemoChainOptions,
): Promise<DemoChain> {
  const { anvil, contracts, chainsTable } = local;
  const settleTimeout = options.settleTimeout ?? DEMO_SETTLE_TIMEOUT;
  const chain = resolveChainConfig(LOCAL_CHAIN, { section: chainsTable[LOCAL_CHAIN] });
  const requester = new TokenNetworkClient({ chain, account: options.requesterSigner.evm });
  const town = new TokenNetworkClient({ chain, account: options.townSigner.evm });
  const provider = options.provider &&
    new TokenNetworkClient({ chain, account: options.provider.signer.evm });
  const townStart = await town.tokenBalance();
  const started = performance.now();
  const opened = await requester.openChannel({ partner: town.address, deposit, settleTimeout });
  const openMs = performance.now() - started;
  await Promise.all([
    writeOpenedRecord(options.requesterStateDir, requester, {
      ...opened,
      peer: town.address,
      deposit,
      settleTimeout,
    }),
    writeRecoveredRecord(options.townStateDir, town, opened.channelId),
  ]);
  const stop = () => local.stop();
  return {
    anvil,
    chain,
    contracts,
    channelId: opened.channelId,
    deposit,
    openMs,
    chainsTable,
    settle: (settleOptions) =>
      settleDemoChannel({
        ...settleOptions,
        requesterSigner: options.requesterSigner,
        anvil,
        requester,
        town,
        townStart,
        provider,
        channelId: opened.channelId,
        deposit,
        openMs,
        requesterStateDir: options.requesterStateDir,
        townStateDir: options.townStateDir,
      }),
    stop,
    [Symbol.asyncDispose]: stop,
  };
}

/** The requester's file, with the fields and audit lines `turnpike channel open` writes. */
async function writeOpenedRecord(
  stateDir: string,
  client: TokenNetworkClient,
  opened: {
    channelId: Hex;
    openTx: Hex;
    peer: `0x${string}`;
    deposit: bigint;
    settleTimeout: bigint;
  },
): Promise<void> {
  const record = newChannelRecord(client, { ...opened, peerAddress: opened.peer });
  await saveWithAudit(stateDir, record, "open", {
    Tx: opened.openTx,
    Token: client.tokenAddress,
    TokenNetwork: client.tokenNetworkAddress,
  });
}

/** The town's file, rebuilt from the contract's state as `turnpike channel recover` does. */
async function writeRecoveredRecord(
  stateDir: string,
  client: TokenNetworkClient,
  channelId: Hex,
): Promise<void> {
  const onChain = await client.getChannel(channelId);
  const me = client.address.toLowerCase();
  // What `channel recover` does for each channel it finds: zeros, then the chain's numbers.
  const peer = onChain.participant1.toLowerCase() === me
    ? onChain.participant2
    : onChain.participant1;
  const base = newChannelRecord(client, {
    channelId,
    peerAddress: peer,
    settleTimeout: onChain.settleTimeout,
  });
  await saveWithAudit(stateDir, applyChainState(base, onChain), "recover");
}

async function saveWithAudit(
  stateDir: string,
  record: ChannelRecord,
  action: string,
  fields?: Record<string, string>,
): Promise<void> {
  const audit = await openAuditLog({ dir: stateDir });
  try {
    await recordChannel(record, { stateDir, audit, action, fields });
  } finally {
    await audit.close();
  }
}

/** Runs `work` with an audit log of the state dir (one commit group), closed after. */
async function withAudit<T>(stateDir: string, work: (audit: AuditLog) => Promise<T>): Promise<T> {
  const audit = await openAuditLog({ dir: stateDir });
  try {
    return await work(audit);
  } finally {
    await audit.close();
  }
}

type Sync = (record: ChannelRecord, client: TokenNetworkClient, settle?: boolean) => Promise<
  ChannelRecord
>;

/** Follows the chain in a state dir's channel file (`roles/channels/channel_chain_sync.ts`). */
function syncFiles(
  stateDir: string,
  step: (sync: Sync) => Promise<ChannelRecord>,
): Promise<ChannelRecord> {
  return withAudit(
    stateDir,
    (audit) =>
      step((record, client, autoSettle) =>
        syncChannelFile(record, client, { stateDir, audit, autoSettle })
      ),
  );
}

interface SettleOptions extends DemoSettleOptions {
  anvil: AnvilInstance;
  requester: TokenNetworkClient;
  requesterSigner: NodeSigner;
  town: TokenNetworkClient;
  /** The town's token balance once funded, before anything was paid. */
  townStart: bigint;
  provider?: TokenNetworkClient;
  channelId: Hex;
  deposit: bigint;
  openMs: number;
  requesterStateDir: string;
  townStateDir: string;
}

async function settleDemoChannel(o: SettleOptions): Promise<DemoSettlement> {
  const started = performance.now();
  const mine = await readChannel(channelFilePath(o.requesterStateDir, o.channelId));
  const [requesterBefore, townBefore] = await Promise.all([
    o.requester.tokenBalance(),
    o.town.tokenBalance(),
  ]);
  let cooperativeRefused: string | undefined;
  let cooperative = false;
  if (o.peer) {
    try {
      await withAudit(o.requesterStateDir, (audit) =>
        closeCooperatively({
          peer: o.peer!,
          chain: o.requester,
          record: mine,
          signer: o.requesterSigner,
          stateDir: o.requesterStateDir,
          audit,
        }));
      cooperative = true;
    } catch (err) {
      if (!(err instanceof ChannelCosignError)) throw err;
      cooperativeRefused = `${err.reason}: ${err.message}`;
    }
  }
  await o.stopNodes();
  const theirs = await readChannel(channelFilePath(o.townStateDir, o.channelId));
  const settled = cooperative
    // The town learns the settle from the chain, as its watcher would.
    ? await syncFiles(o.townStateDir, (sync) => sync(theirs, o.town))
    : await closeUnilaterally(o, mine, theirs);
  if (settled.status !== "settled") {
    throw new AnvilError(`channel ${o.channelId} is still ${settled.status} after settling`);
  }
  const [requesterAfter, townAfter] = await Promise.all([
    o.requester.tokenBalance(),
    o.town.tokenBalance(),
  ]);
  const requesterPayout = requesterAfter - requesterBefore;
  const townPayout = townAfter - townBefore;
  const settleMs = performance.now() - started;
  const paid = o.payout && o.provider ? await settlePayout(o, o.provider, o.payout) : undefined;
  const townNet = paid ? await o.town.tokenBalance() - o.townStart : undefined;
  const providerEqualsBooks = !o.payout ||
    (paid !== undefined && paid.providerPayout === o.payout.owed &&
      paid.providerPayout === o.payout.earned && townNet === o.payout.townFees);
  const chainEqualsBooks = channelEqualsBooks({
    deposit: o.deposit,
    sent: mine.sent,
    received: theirs.received,
    payerPayout: requesterPayout,
    payeePayout: townPayout,
  }) && providerEqualsBooks;
  const chain = o.town.chain;
  return {
    channelId: o.channelId,
    chain: chain.id,
    rpcUrl: o.anvil.rpcUrl,
    tokenNetworkAddress: o.town.tokenNetworkAddress,
    tokenSymbol: chain.tokenSymbol,
    tokenDecimals: chain.tokenDecimals,
    deposit: o.deposit.toString(),
    paid: mine.sent.toString(),
    received: theirs.received.toString(),
    claims: Number(mine.sentNonce),
    remaining: (o.deposit - mine.sent).toString(),
    mode: cooperative ? "cooperative" : "unilateral",
    cooperativeRefused,
    transactions: cooperative ? 1 : 2,
    requesterPayout: requesterPayout.toString(),
    townPayout: townPayout.toString(),
    payoutChannelId: paid ? o.payout?.channelId : undefined,
    providerPayout: paid?.providerPayout.toString(),
    townNet: townNet?.toString(),
    chainEqualsBooks,
    openMs: o.openMs,
    settleMs,
    payoutSettleMs: paid ? performance.now() - started - settleMs : undefined,
  };
}

/** The town closes with the requester's newest claim (taken at what it delivered); past the timeout (anvil's clock), settle. */
async function closeUnilaterally(
  o: SettleOptions,
  mine: ChannelRecord,
  theirs: ChannelRecord,
): Promise<ChannelRecord> {
  const proof = partnerProof(theirs);
  const settled = await syncFiles(o.townStateDir, async (sync) => {
    await o.town.closeChannel(o.channelId, proof);
    const closed = await sync(theirs, o.town);
    await increaseTime(o.anvil.rpcUrl, Number(closed.settleTimeout) + 1);
    // The settle timeout is over: the sync settles the channel and records it, as a node would.
    return await sync(closed, o.town, true);
  });
  await syncFiles(o.requesterStateDir, (sync) => sync(mine, o.requester));
  return settled;
}

/**
 * The provider closes the town's payout channel with the newest claim it kept (its channel
 * file), anvil's clock passes the settle timeout, it settles; the files follow the chain.
 */
async function settlePayout(
  o: SettleOptions,
  provider: TokenNetworkClient,
  books: DemoPayoutBooks,
): Promise<{ providerPayout: bigint }> {
  const kept = await readChannel(channelFilePath(books.providerStateDir, books.channelId));
  if (!kept.receivedSignature || kept.receivedNonce === 0n) {
    throw new AnvilError(`the provider holds no claim on payout channel ${books.channelId}`);
  }
  const before = await provider.tokenBalance();
  await syncFiles(books.providerStateDir, async (sync) => {
    await provider.closeChannel(books.channelId, {
      nonce: kept.receivedNonce,
      transferredAmount: kept.received,
      signature: kept.receivedSignature!,
    });
    const closed = await sync(kept, provider);
    await increaseTime(o.anvil.rpcUrl, Number(closed.settleTimeout) + 1);
    return await sync(closed, provider, true);
  });
  const theirs = await readChannel(channelFilePath(o.townStateDir, books.channelId));
  await syncFiles(o.townStateDir, (sync) => sync(theirs, o.town));
  return { providerPayout: await provider.tokenBalance() - before };
}
