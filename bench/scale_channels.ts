/**
 * Payment channels for the scale harness (`--channels`, docs/SCALE.md): a local anvil with the
 * project's contracts, every requester's wallet funded, each requester paying its town with
 * claims on a channel it opens by itself at start-up (`[channels] auto`, as the CLI does:
 * roles/channels/channel_auto_open.ts) and tops up when it runs low; at the end every channel
 * closed cooperatively (the town co-signs over BTP, one transaction) and compared with both
 * sides' books (roles/channels/chain_books.ts, the demo's "chain = books").
 *
 * @module
 */
import { createPublicClient, decodeFunctionData, type Hex, http } from "viem";
import type { ChannelPolicy } from "../config/channel_policy.ts";
import { LOCAL_CHAIN, resolveChainConfig } from "../config/chain_config.ts";
import { TEST_TOKEN_ABI, TOKEN_NETWORK_ABI } from "../chain/contract_artifacts.ts";
import { TokenNetworkClient } from "../chain/token_network_client.ts";
import { localEvmAccount } from "../identity/local_evm_account.ts";
import { localNodeSigner } from "../identity/local_node_signer.ts";
import { type LocalChain, startLocalChain } from "../roles/local_chain.ts";
import { closeCooperatively } from "../roles/channels/channel_cosign_chain.ts";
import { closeChannelStep } from "../roles/channels/channel_close.ts";
import { syncChannelFile } from "../roles/channels/channel_chain_sync.ts";
import { chainEqualsBooks, type ChannelBooks } from "../roles/channels/chain_books.ts";
import { increaseTime } from "../chain/anvil.ts";
import {
  channelFilePath,
  type ChannelRecord,
  listChannels,
  readChannel,
} from "../state/channels/channel_file.ts";
import { openPostgresClaimBooks } from "../state/postgres/postgres_claim_books.ts";
import { readPaymentLogText } from "../state/payments/payment_log_files.ts";
import { BtpClient } from "../transport/btp_client.ts";
import { settledTransfers } from "./settled_transfers.ts";

/** Options for {@linkcode startScaleChain}. */
export interface ScaleChainOptions {
  /** The requesters' keys: each wallet gets `tokens` and gas. */
  payerKeys: readonly Uint8Array[];
  /**
   * The towns' keys: gas (they co-sign; the payers send the settle), and `townTokens` for the
   * deposits of the payout channels they open to their providers.
   */
  townKeys: readonly Uint8Array[];
  /** Test tokens per payer, base units. */
  tokens: bigint;
  /** Test tokens per town, base units. Default 0. */
  townTokens?: bigint;
  /** Keys funded with gas only (the providers: they close and settle their payout channels). */
  gasOnlyKeys?: readonly Uint8Array[];
}

/** The chain of a run. */
export interface ScaleChain {
  chain: LocalChain;
  /** The block after funding: transactions from here on are the channels'. */
  fundedBlock: bigint;
  stop(): Promise<void>;
}

/**
 * Starts anvil, deploys the contracts and funds the wallets (one minter: sequential).
 *
 * It starts anvil, so it has no example here: tests/e2e/network_scale_test.ts (the scale
 * harness's small run, `--channels`) starts its chain with it.
 */
export async function startScaleChain(options: ScaleChainOptions): Promise<ScaleChain> {
  const address = (key: Uint8Array) => localNodeSigner(key).evmAddress;
  const chain = await startLocalChain({
    fund: [
      ...options.payerKeys.map((k) => ({ to: address(k), tokens: options.tokens })),
      ...options.townKeys.map((k) => ({ to: address(k), tokens: options.townTokens ?? 0n })),
      ...(options.gasOnlyKeys ?? []).map((k) => ({ to: address(k), tokens: 0n })),
    ],
    wei: 10n ** 17n,
  });
  const fundedBlock = await blockNumber(chain.anvil.rpcUrl);
  return { chain, fundedBlock, stop: () => chain.stop() };
}

/**
 * A requester's `[channels]` policy for a run: a channel of `deposit` token units opened at
 * start-up, topped up by the deposit when less than 10% is left.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { scaleChannelPolicy } from "./scale_channels.ts";
 *
 * const policy = scaleChannelPolicy("12");
 * assert.deepEqual([policy.deposit, policy.topUpBelow, policy.maxDeposit], ["12", "10%", "240"]);
 * ```
 */
export function scaleChannelPolicy(deposit: string): ChannelPolicy {
  const units = Number(deposit);
  return {
    auto: true,
    deposit,
    topUpBelow: "10%",
    topUpAmount: deposit,
    topUpDailyCap: String(units * 10),
    maxDeposit: String(units * 20),
  };
}

async function blockNumber(rpcUrl: string): Promise<bigint> {
  return await createPublicClient({ transport: http(rpcUrl) }).getBlockNumber();
}

/** Transactions mined in a block range, by the contract function they called. */
export type TxCounts = Record<string, number>;

/**
 * Counts the transactions of blocks `(from, to]` by function (`openChannel`, `setTotalDeposit`,
 * `approve`, `cooperativeSettle`, ...; `other` when no known ABI decodes it); `bySenders`
 * counts those sent from `senders` (lower-case addresses) apart.
 *
 * It reads a chain's blocks, so it has no example here: tests/e2e/network_scale_test.ts counts
 * the run's transactions with it.
 */
export async function countTransactions(
  rpcUrl: string,
  from: bigint,
  to?: bigint,
  senders?: ReadonlySet<string>,
): Promise<{ counts: TxCounts; toBlock: bigint; bySenders: TxCounts }> {
  const client = createPublicClient({ transport: http(rpcUrl) });
  const last = to ?? await client.getBlockNumber();
  const counts: TxCounts = {};
  const bySenders: TxCounts = {};
  for (let n = from + 1n; n <= last; n++) {
    const block = await client.getBlock({ blockNumber: n, includeTransactions: true });
    for (const tx of block.transactions) {
      let name = "other";
      for (const abi of [TOKEN_NETWORK_ABI, TEST_TOKEN_ABI]) {
        try {
          name = decodeFunctionData({ abi, data: tx.input as Hex }).functionName;
          break;
        } catch { /* the other ABI */ }
      }
      counts[name] = (counts[name] ?? 0) + 1;
      if (senders?.has(tx.from.toLowerCase())) bySenders[name] = (bySenders[name] ?? 0) + 1;
    }
  }
  return { counts, toBlock: last, bySenders };
}

/** One requester's channel to close. */
export interface ScaleChannelHolder {
  /** The requester's state dir (its channel file) and key; it has stopped. */
  stateDir: string;
  secretKey: Uint8Array;
  /** Its BTP URL with the account (`btp+ws://req1:r@127.0.0.1:port`) and token. */
  btpUrl: string;
  btpToken: string;
  /** Its town: the index, the state dir holding the town's channel files, the shared store. */
  town: number;
  townStateDir: string;
  townStoreUrl?: string;
  townKey: Uint8Array;
}

/** What closing the run's channels showed (amounts in token base units, as strings). */
export interface ScaleChannelsSettled {
  channels: number;
  settled: number;
  /** Why the others were not settled cooperatively. */
  failures: string[];
  /** Every channel's payouts equal its books, and each town's payout equals its books. */
  chainEqualsBooks: boolean;
  /** Channels whose payouts differ from the books. */
  differing: number;
  /** Those channels' books and payouts. */
  differences: Record<string, string | number>[];
  /**
   * Channels whose requester's newest claim was ahead of the town's (a paid packet in flight
   * when the town process or its database died), and those claims' amount beyond the town's,
   * summed (base units). Closed on chain, the requester's settle books them back (its file's
   * `sent` becomes what the chain paid by: roles/channels/channel_chain_sync.ts `settledBooks`),
   * so the channel's books equal the chain; co-signed, counted when the payouts equal one side's
   * books (it then differs).
   */
  unansweredClaims: { channels: number; amount: string };
  /** Channels whose requester's payment log (fulfilled payments) sums to its newest claim. */
  paymentLogEqualsClaims: number;
  /**
   * The others: how many, and by how much the requesters' newest claims exceed what their
   * payment logs say they paid, summed (base units; a packet whose claim was taken and which was
   * then rejected, e.g. F02, is claimed but not paid).
   */
  claimedBeyondPaymentLog: {
    channels: number;
    amount: string;
    /**
     * Of those channels' requesters, the payments their log leaves in doubt (an intent with no
     * outcome: the process died with the payment in flight), by category: count and base units.
     */
    inDoubt: Record<string, { payments: number; amount: string }>;
  };
  /**
   * Of that, what the cooperative closes did not pay: the requester's newest claim above what
   * the town delivered against it (packets refused after their claim was taken), summed.
   */
  unclaimedAtClose: {
    channels: number;
    amount: string;
    /** The same per town (its index), base units. */
    byTown: Record<string, { channels: number; amount: string }>;
  };
  /** Channels closed on chain (the town refused to co-sign). */
  closedOnChain: number;
  /** Why towns refused to co-sign, with counts. */
  cooperativeRefused: Record<string, number>;
  /** Claims the requesters signed (their newest claim's nonce, summed). */
  claims: number;
  /** Per town: channels, claims, what the requesters sent, what the town holds, its payout. */
  towns: {
    town: number;
    channels: number;
    claims: number;
    sent: string;
    received: string;
    townPayout: string;
    chainEqualsBooks: boolean;
  }[];
  closeSeconds: number;
}

/**
 * Closes every requester's channel (a few at once) and compares the chain with both sides'
 * books: per channel the requester's payout (its token balance change) and the town's (the
 * co-signed balance the settle paid, or the claim the town answered a close on chain with)
 * against the requester's newest claim and the town's (its channel file, or the town's shared
 * books when it has a store); per town its token balance change against the sum of what it
 * holds. Cooperatively where the town co-signs (a town on a shared store too, from its shared
 * books); on chain where it refuses (a channel the town never took a claim on is unknown to it).
 *
 * It closes channels on a chain, so it has no example here: tests/e2e/network_scale_test.ts
 * settles the run's channels with it.
 */
export async function settleScaleChannels(
  run: ScaleChain,
  holders: readonly ScaleChannelHolder[],
  concurrency = 8,
  progress: (line: string) => void = () => {},
): Promise<ScaleChannelsSettled> {
  const coSignable = holders.length;
  // A line every 15 s while it runs: hundreds of closes take minutes.
  const step: CloseProgress = { coSigned: 0, closedOnChain: 0, answered: 0, settledOnChain: 0 };
  const ticker = setInterval(() =>
    progress(
      `closing: ${step.coSigned}/${coSignable} co-signed; on chain ` +
        `${step.closedOnChain} closed, ${step.answered} answered, ${step.settledOnChain} settled`,
    ), 15_000);
  try {
    return await closeAndCompare(run, holders, concurrency, step);
  } finally {
    clearInterval(ticker);
  }
}

/** How far {@linkcode settleScaleChannels} is: counted as it goes, read by its progress line. */
interface CloseProgress {
  coSigned: number;
  closedOnChain: number;
  answered: number;
  settledOnChain: number;
}

/** The work of {@linkcode settleScaleChannels}. */
async function closeAndCompare(
  run: ScaleChain,
  holders: readonly ScaleChannelHolder[],
  concurrency: number,
  step: CloseProgress,
): Promise<ScaleChannelsSettled> {
  const started = performance.now();
  const onChain: ScaleChannelHolder[] = [];
  const section = run.chain.chainsTable[LOCAL_CHAIN];
  const config = resolveChainConfig(LOCAL_CHAIN, { section });
  const client = (key: Uint8Array) =>
    new TokenNetworkClient({ chain: config, account: localEvmAccount(key) });
  const townKeys = new Map(holders.map((h) => [h.town, h.townKey]));
  const fromBlock = holders.length === 0
    ? 0n
    : await client(holders[0].townKey).publicClient.getBlockNumber();
  const settledIds: string[] = [];
  const failures: string[] = [];
  const perTown = new Map<
    number,
    {
      channels: number;
      claims: number;
      deposit: bigint;
      sent: bigint;
      received: bigint;
      payerPayout: bigint;
    }
  >();
  let settled = 0, differing = 0, claims = 0, logAgrees = 0;
  const logGap = { channels: 0, amount: 0n };
  const logInDoubt: Record<string, { payments: number; amount: bigint }> = {};
  const differences: Record<string, string | number>[] = [];
  const unanswered = { channels: 0, amount: 0n };
  // What co-signed closes did not pay, per town (the totals are their sums).
  const unclaimedByTown = new Map<number, { channels: number; amount: bigint }>();
  /** True when closed cooperatively. */
  const closeOne = async (h: ScaleChannelHolder): Promise<boolean> => {
    const mine = (await listChannels(h.stateDir)).filter((r) => r.status === "open").at(-1);
    if (mine === undefined) {
      failures.push(`${h.stateDir}: no open channel`);
      return false;
    }
    const payer = client(h.secretKey);
    const before = await payer.tokenBalance();
    const peer = new BtpClient({ url: h.btpUrl, authToken: h.btpToken, reconnect: false });
    let agreedToTown: bigint;
    let closed: Awaited<ReturnType<typeof closeCooperatively>>;
    try {
      await peer.connect();
      closed = await closeCooperatively({
        peer,
        chain: payer,
        record: mine,
        signer: localNodeSigner(h.secretKey),
        stateDir: h.stateDir,
      });
      const s = closed.agreement.settle;
      agreedToTown = s.participant1.toLowerCase() === payer.address.toLowerCase()
        ? s.balance2
        : s.balance1;
    } catch (err) {
      // Refused (a channel the town never took a claim on is unknown to it): closed on chain.
      const why = (err as Error).message.split("\n")[0].replace(/account \S+/, "account <a>");
      refused[why] = (refused[why] ?? 0) + 1;
      onChain.push(h);
      return false;
    } finally {
      await peer.close().catch(() => {});
    }
    if (closed.unclaimed > 0n) {
      const t = unclaimedByTown.get(h.town) ?? { channels: 0, amount: 0n };
      t.channels++;
      t.amount += closed.unclaimed;
      unclaimedByTown.set(h.town, t);
    }
    // Co-signed: the books are what each side says is owed: the requester's newest claim less
    // what the town never delivered (its settled file), and what the town co-signed as
    // delivered (its books at the close, gate held; its channel file keeps the claimed total
    // when no refused cover is pending, the safe side for a restart, so it is not read here).
    await tally(h, mine, {
      deposit: mine.deposit - mine.withdrawn,
      sent: closed.record.sent,
      received: closed.agreement.transferredAmount,
      payerPayout: await payer.tokenBalance() - before,
      payeePayout: agreedToTown,
    });
    return true;
  };
  const tally = async (
    h: ScaleChannelHolder,
    mine: ChannelRecord,
    books: ChannelBooks,
    returned = 0n,
  ) => {
    settled++;
    settledIds.push(mine.channelId);
    // Claims the town never took, booked back by the requester's settle (closed on chain).
    if (returned > 0n) {
      unanswered.channels++;
      unanswered.amount += returned;
    }
    const { paid: logged, inDoubt } = await paidByLog(h.stateDir);
    // Against the requester's newest claim (before a co-signed close lowered it).
    if (logged === mine.sent) logAgrees++;
    else {
      logGap.channels++;
      logGap.amount += mine.sent - logged;
      for (const [category, d] of Object.entries(inDoubt)) {
        const sum = logInDoubt[category] ?? { payments: 0, amount: 0n };
        sum.payments += d.payments;
        sum.amount += d.amount;
        logInDoubt[category] = sum;
      }
    }
    if (!chainEqualsBooks(books)) {
      differing++;
      // The requester signed a newer claim than the town holds: its last paid packet got no
      // answer (the town process or its database died with it in flight; the sender records a
      // claim before sending it). Closed on chain, the chain pays by the town's claim (the
      // requester gets it back); co-signed, the town agrees to the requester's higher final
      // amount (the requester pays for the refused packet).
      if (
        returned === 0n && books.received < books.sent &&
        (chainEqualsBooks({ ...books, sent: books.received }) ||
          chainEqualsBooks({ ...books, received: books.sent }))
      ) {
        unanswered.channels++;
        unanswered.amount += books.sent - books.received;
      }
      differences.push({
        channelId: mine.channelId,
        town: h.town,
        ...Object.fromEntries(Object.entries(books).map(([k, v]) => [k, String(v)])),
        // What the requester's payment log says it paid (fulfilled packets): equal to the
        // town's claim when the packet was refused, to its own when the town lost a claim.
        paidByLog: String(logged),
      });
    }
    claims += Number(mine.sentNonce);
    const t = perTown.get(h.town) ??
      { channels: 0, claims: 0, deposit: 0n, sent: 0n, received: 0n, payerPayout: 0n };
    t.channels++;
    t.claims += Number(mine.sentNonce);
    t.deposit += books.deposit;
    t.sent += books.sent;
    t.received += books.received;
    t.payerPayout += books.payerPayout;
    perTown.set(h.town, t);
  };
  const queue = [...holders];
  const refused: Record<string, number> = {};
  await Promise.all(
    Array.from({ length: Math.max(1, concurrency) }, async () => {
      for (let h = queue.shift(); h !== undefined; h = queue.shift()) {
        await closeOne(h);
        step.coSigned++;
      }
    }),
  );
  // Refused co-signs close on chain: the town's watchers answer with its newest claim (the
  // shared books' on a town on a store), the settle timeout passes (anvil's clock) and the
  // payers settle.
  if (onChain.length > 0) {
    await closeOnChain(run, onChain, client, failures, tally, concurrency, step);
  }
  // The chain's side for a town: what the requesters' channels' settles sent its address (its
  // wallet's balance also moves with the payout channels it opens and settles meanwhile).
  const settledTo = holders.length === 0
    ? new Map<string, bigint>()
    : await settledTransfers(client(holders[0].townKey), fromBlock, settledIds);
  const towns = [];
  for (const [town, t] of [...perTown].sort((a, b) => a[0] - b[0])) {
    const townPayout = settledTo.get(client(townKeys.get(town)!).address.toLowerCase()) ?? 0n;
    towns.push({
      town,
      channels: t.channels,
      claims: t.claims,
      sent: String(t.sent),
      received: String(t.received),
      townPayout: String(townPayout),
      chainEqualsBooks: chainEqualsBooks({ ...t, payeePayout: townPayout }),
    });
  }
  return {
    channels: holders.length,
    settled,
    failures,
    chainEqualsBooks: settled === holders.length && differing === 0 &&
      towns.every((t) => t.chainEqualsBooks),
    differing,
    differences,
    unansweredClaims: { channels: unanswered.channels, amount: String(unanswered.amount) },
    paymentLogEqualsClaims: logAgrees,
    claimedBeyondPaymentLog: {
      channels: logGap.channels,
      amount: String(logGap.amount),
      inDoubt: Object.fromEntries(
        Object.entries(logInDoubt).map((
          [c, d],
        ) => [c, { payments: d.payments, amount: String(d.amount) }]),
      ),
    },
    unclaimedAtClose: {
      channels: [...unclaimedByTown.values()].reduce((n, u) => n + u.channels, 0),
      amount: String([...unclaimedByTown.values()].reduce((n, u) => n + u.amount, 0n)),
      byTown: Object.fromEntries(
        [...unclaimedByTown].sort((a, b) => a[0] - b[0])
          .map(([t, u]) => [String(t), { channels: u.channels, amount: String(u.amount) }]),
      ),
    },
    closedOnChain: onChain.length,
    cooperativeRefused: refused,
    claims,
    towns,
    closeSeconds: (performance.now() - started) / 1000,
  };
}

/** How long the towns' watchers get to answer the payers' closes (they poll every 15 s). */
const ANSWER_WAIT_MS = 90_000;
/** The wait for answers ends at this, however they trickle (a watcher answers one by one). */
const ANSWER_WAIT_TOTAL_MS = 600_000;

/** The payers close on chain; the towns answer; anvil's clock passes the timeout; settled. */
async function closeOnChain(
  run: ScaleChain,
  holders: readonly ScaleChannelHolder[],
  client: (key: Uint8Array) => TokenNetworkClient,
  failures: string[],
  tally: (
    h: ScaleChannelHolder,
    mine: ChannelRecord,
    books: ChannelBooks,
    returned?: bigint,
  ) => Promise<void>,
  concurrency: number,
  step: CloseProgress,
): Promise<void> {
  const closing: {
    h: ScaleChannelHolder;
    mine: ChannelRecord;
    payer: TokenNetworkClient;
    before: bigint;
    /**
     * The town's books for the channel: what its answer takes, its delivered value against the
     * newest claim it holds ({@linkcode townReceived}; final: the run is over).
     */
    held: bigint;
    answered?: bigint;
  }[] = [];
  const queue = [...holders];
  await Promise.all(
    Array.from({ length: Math.max(1, concurrency) }, async () => {
      for (let h = queue.shift(); h !== undefined; h = queue.shift()) {
        const mine = (await listChannels(h.stateDir)).filter((r) => r.status === "open").at(-1);
        if (mine === undefined) {
          failures.push(`${h.stateDir}: no open channel`);
          continue;
        }
        const payer = client(h.secretKey);
        try {
          const before = await payer.tokenBalance();
          // As `turnpike channel close --unilateral` does: synced, closed, the file saying so.
          const record = await syncChannelFile(mine, payer, { stateDir: h.stateDir });
          const closed = await closeChannelStep({
            client: payer,
            record,
            signer: localNodeSigner(h.secretKey),
            stateDir: h.stateDir,
            unilateral: true,
            connectPeer: () => Promise.reject(new Error("a unilateral close asks no peer")),
          });
          if (closed.kind !== "closed") throw new Error(`not closed: ${closed.kind}`);
          closing.push({ h, mine, payer, before, held: await townReceived(h, mine.channelId) });
          step.closedOnChain++;
        } catch (err) {
          failures.push(`${mine.channelId}: close: ${(err as Error).message.split("\n")[0]}`);
        }
      }
    }),
  );
  // The town's answer: the newest claim the town holds, on chain (the payer's nonce), taking
  // what the town delivered against it (the payer's transferred amount). That is the payer's own
  // newest claim unless its last paid packets got no answer (the town never took those claims)
  // or were refused or left in flight by a killed town process (the town took their claims, not
  // their value): either way counted below as unanswered claims. A town's
  // watcher answers its closes one after another (hundreds at 1,000 agents): the wait ends when
  // no answer came for ANSWER_WAIT_MS, not at a fixed time after the first close.
  let lastAnswer = performance.now();
  const answersFrom = lastAnswer;
  let settleTimeout = 0n;
  // All are watched at once: one that is never answered must not hold up the others' answers.
  let pending = [...closing];
  while (pending.length > 0) {
    const still = [];
    for (const c of pending) {
      const onChain = await c.payer.getChannel(c.mine.channelId);
      settleTimeout = onChain.settleTimeout > settleTimeout ? onChain.settleTimeout : settleTimeout;
      const mineOnChain = onChain.participants[c.payer.address.toLowerCase()];
      if (
        mineOnChain && (mineOnChain.nonce >= c.mine.sentNonce ||
          (c.held < c.mine.sent && mineOnChain.transferredAmount >= c.held &&
            (mineOnChain.nonce > 0n || c.held === 0n)))
      ) {
        c.answered = mineOnChain.transferredAmount;
        lastAnswer = performance.now();
        step.answered++;
      } else still.push(c);
    }
    pending = still;
    if (pending.length === 0) break;
    if (performance.now() - lastAnswer > ANSWER_WAIT_MS) break;
    if (performance.now() - answersFrom > ANSWER_WAIT_TOTAL_MS) break;
    await new Promise((r) => setTimeout(r, 1000));
  }
  await increaseTime(run.chain.anvil.rpcUrl, Number(settleTimeout) + 1);
  for (const c of closing) {
    // Settled as the requester's node settles (`turnpike channel close` again, its watcher):
    // the sync settles a closed channel whose timeout is over, or finds it settled by the
    // town's watcher, and books it as the chain paid (the claims the town never took back).
    let final: ChannelRecord;
    try {
      final = await settleByFile(c.h.stateDir, c.mine.channelId, c.payer);
    } catch (err) {
      failures.push(`${c.mine.channelId}: settle: ${(err as Error).message.split("\n")[0]}`);
      continue;
    }
    if (final.status !== "settled") {
      failures.push(`${c.mine.channelId}: settle: still ${final.status} after 10 s`);
      continue;
    }
    if (c.answered === undefined) {
      failures.push(
        `${c.mine.channelId}: the town did not answer the close (no answer to any close for 90 s, or none in 10 min)`,
      );
    }
    step.settledOnChain++;
    await tally(c.h, c.mine, {
      deposit: c.mine.deposit - c.mine.withdrawn,
      sent: final.sent,
      received: c.held,
      payerPayout: await c.payer.tokenBalance() - c.before,
      payeePayout: c.answered ?? 0n,
    }, c.mine.sent > final.sent ? c.mine.sent - final.sent : 0n);
  }
}

/**
 * Settles a requester's channel closed on chain through its channel file and returns the file
 * after. A settle refused because the town's own got there first (its transaction may still be
 * on its way) is synced again, once a second for up to 10 s.
 */
async function settleByFile(
  stateDir: string,
  channelId: `0x${string}`,
  payer: TokenNetworkClient,
): Promise<ChannelRecord> {
  const path = channelFilePath(stateDir, channelId);
  for (let attempt = 0;; attempt++) {
    try {
      const synced = await syncChannelFile(await readChannel(path), payer, {
        stateDir,
        autoSettle: true,
        defend: false,
      });
      if (synced.status === "settled" || attempt >= 10) return synced;
    } catch (err) {
      if (attempt >= 10) throw err;
    }
    await new Promise((r) => setTimeout(r, 1000));
  }
}

/**
 * What a requester's payment log says it paid: the amounts of its outgoing payments that were
 * fulfilled (writes and jobs), base units; and those it leaves in doubt (the last entry of the
 * invoice is its intent), by category. A payment is an invoice to one peer, as the log keeps
 * them (state/payments/invoice_states.ts: one event written to two towns is two payments).
 */
async function paidByLog(
  stateDir: string,
): Promise<{ paid: bigint; inDoubt: Record<string, { payments: number; amount: bigint }> }> {
  const last = new Map<string, { event: string; amount: bigint; category: string }>();
  // Oldest first: the kept files (chunks and past days), then the live one.
  const fulfilled = new Set<string>();
  const text = await readPaymentLogText(stateDir);
  for (const line of text.split("\n")) {
    if (line.trim() === "") continue;
    const e = JSON.parse(line) as {
      ts: string;
      direction: string;
      event: string;
      invoiceId: string;
      peer?: string;
      amount?: string;
      category?: string;
    };
    if (e.direction !== "out") continue;
    const key = `${e.invoiceId} ${e.peer ?? ""}`;
    const before = last.get(key);
    last.set(key, {
      event: e.event,
      amount: e.amount !== undefined ? BigInt(e.amount) : before?.amount ?? 0n,
      category: e.category ?? before?.category ?? "job",
    });
    if (e.event === "fulfilled") fulfilled.add(key);
  }
  let paid = 0n;
  const inDoubt: Record<string, { payments: number; amount: bigint }> = {};
  for (const [id, e] of last) {
    if (fulfilled.has(id)) paid += e.amount;
    else if (e.event === "intent") {
      const d = inDoubt[e.category] ?? { payments: 0, amount: 0n };
      d.payments++;
      d.amount += e.amount;
      inDoubt[e.category] = d;
    }
  }
  return { paid, inDoubt };
}

/**
 * The town's books for a channel closed on chain: what its answer to the close takes, the value
 * it delivered against the payer's newest claim (its shared store's `forwarded`, else its channel
 * file's `received_forwarded`), never above that claim; 0 when it never took a claim on it. Not
 * the claim itself: cover of packets refused after their claim was taken, or left in flight by a
 * killed process, is not the town's (docs/PROTOCOL.md "Payment channels and claims"), as a
 * co-signed close does not pay it either.
 */
async function townReceived(h: ScaleChannelHolder, channelId: `0x${string}`): Promise<bigint> {
  if (h.townStoreUrl !== undefined) {
    const books = await openPostgresClaimBooks({ url: h.townStoreUrl });
    try {
      const book = await books.read(channelId);
      if (book !== undefined) return townTakes(book.claimed, book.forwarded);
    } finally {
      await books.close();
    }
  }
  try {
    const record = await readChannel(channelFilePath(h.townStateDir, channelId));
    return townTakes(record.received, record.receivedForwarded);
  } catch (err) {
    // A channel the town never took a claim on has no file there: its books hold nothing.
    if (err instanceof Deno.errors.NotFound) return 0n;
    throw err;
  }
}

/**
 * What a town's answer to a close on chain takes of the payer's newest claim `claimed`: what it
 * delivered against it (`forwarded`; absent, as in older channel files: all of it), at most the
 * claim (roles/channels/channel_chain_sync.ts `partnerProof`).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { townTakes } from "./scale_channels.ts";
 *
 * assert.equal(townTakes(543_580n, 538_690n), 538_690n); // a write's cover left in flight
 * assert.equal(townTakes(900n, undefined), 900n); // an older file: the claim
 * assert.equal(townTakes(900n, 950n), 900n); // never above the claim
 * ```
 */
export function townTakes(claimed: bigint, forwarded: bigint | undefined): bigint {
  return forwarded !== undefined && forwarded < claimed ? forwarded : claimed;
}

/**
 * Claims a requester signed so far: the nonces of its channels' newest claims, summed.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { claimsSigned } from "./scale_channels.ts";
 *
 * const stateDir = await Deno.makeTempDir();
 * assert.equal(await claimsSigned(stateDir), 0); // no channel yet
 * await Deno.remove(stateDir, { recursive: true });
 * ```
 */
export async function claimsSigned(stateDir: string): Promise<number> {
  return (await listChannels(stateDir)).reduce((a, r) => a + Number(r.sentNonce), 0);
}
