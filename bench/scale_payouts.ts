/**
 * The towns' payouts to their providers in the scale harness (`--channels`, docs/SCALE.md): each
 * town pays the providers it forwards job payments to over payout channels it opens from its key
 * (`[town.payouts]`, roles/town/channels/peer_payout.ts; harness/town_process_payouts.ts
 * runs them in the town processes), the providers keep the claims
 * (roles/channels/payout_receiver.ts). At the end every town pays what it still owes
 * (`payAll`, as `demo` does with `payNow`), each provider closes its payout channel with the
 * town's newest claim it kept, anvil's clock passes the settle timeout and it settles (or its
 * node's watcher or the town's watch settles first: one is mined, the others refused); who
 * settled each payout channel is read from the chain's own events by channel id
 * (bench/payout_settles.ts), never from a record file. Then per provider its token balance change
 * is compared with what the towns' books say they forwarded to it, with what its channels'
 * settles paid it and with what its payment log says it earned, less its late FULFILLs (packets
 * it fulfilled after its town gave them up, the receiver's risk in ILP: counted apart).
 *
 * @module
 */
import { LOCAL_CHAIN, resolveChainConfig } from "../config/chain_config.ts";
import { TokenNetworkClient } from "../chain/token_network_client.ts";
import { increaseTime } from "../chain/anvil.ts";
import { localEvmAccount } from "../identity/local_evm_account.ts";
import { localNodeSigner } from "../identity/local_node_signer.ts";
import { PAYOUT_CHANNEL_LABEL } from "../roles/channels/payout_receiver.ts";
import { type ChannelRecord, listChannels } from "../state/channels/channel_file.ts";
import { openPaymentLog } from "../state/payments/payment_log.ts";
import { summarizePayments } from "../state/payments/payment_summary.ts";
import { withoutReversed } from "../state/payments/income_reversals.ts";
import { openPeerLedger, type PeerLedgerEntry } from "../state/payments/peer_ledger.ts";
import type { PayAllResult } from "../harness/town_process_payouts.ts";
import type { ScaleChain } from "./scale_channels.ts";
import {
  attributeSettles,
  type PayoutChannel,
  readChannelFacts,
  type SettleAttribution,
} from "./payout_settles.ts";

/** One provider the towns pay. */
export interface ScalePayee {
  /** Its BTP account on its town (`prov<i>`). */
  account: string;
  stateDir: string;
  secretKey: Uint8Array;
  /** Its town (the index). */
  town: number;
}

/** One town: its processes' state dirs (books per peer, payout channel files). */
export interface ScalePayer {
  town: number;
  stateDirs: string[];
  /** Asks each running process of the town to pay what it owes now. */
  payAll: () => Promise<PayAllResult[]>;
}

/** A provider's figures (base units as strings). */
export interface PayeeFigures {
  account: string;
  town: number;
  /** What the town's books say it forwarded to the provider (fulfilled), all processes. */
  owed: string;
  /** The town's claims, newest per channel, summed. */
  claimed: string;
  /** The newest claims the provider kept, summed over its payout channels. */
  kept: string;
  /** What the chain paid it (its token balance change). */
  payout: string;
  /** What its payment log says it earned (fulfilled incoming payments). */
  earnedByLog: string;
  /**
   * Late FULFILLs: packets its payment log says it fulfilled that its town's books say the town
   * gave up (a `rejected` line, never fulfilled): the receiver's risk in ILP, apart from the
   * comparison. Their count and sum.
   */
  lateFulfills: number;
  lateFulfilled: string;
  /** Payout channels (on the provider's side) and their ids. */
  channels: string[];
  /**
   * What the settles of its payout channels paid it, by their `ChannelSettled` logs
   * (bench/payout_settles.ts): its token balance change, said by the chain's events.
   */
  paidBySettles: string;
  /** Its payout channels whose settle the chain does not explain (one `ChannelSettled`, gone). */
  unexplainedSettles: number;
}

/** What the payouts showed (amounts in base units, as strings). */
export interface ScalePayoutsSettled {
  /**
   * Every provider's token balance change equals the towns' books and what its payout channels'
   * settles paid it, its payment log too except for its late FULFILLs
   * ({@linkcode PayeeFigures.lateFulfills}, counted apart), and the chain explains every payout
   * channel's settle (bench/payout_settles.ts). False only when money differs or a settle is
   * unexplained: {@linkcode ScalePayoutsSettled.payoutChainEqualsBooksWhy} says which.
   */
  payoutChainEqualsBooks: boolean;
  /** Why chain = books is false (`money differs on N providers`, `N settles unexplained`); "" when true. */
  payoutChainEqualsBooksWhy: string;
  /**
   * Who settled the payout channels, read from the chain (bench/payout_settles.ts): the harness's
   * own transaction, the provider's node, the town's watch, a third address; how many of the
   * harness's own settles were refused (another came first); the settles unexplained.
   */
  settles: {
    byHarness: number;
    byProvider: number;
    byTown: number;
    byOther: number;
    harnessRefused: number;
    unexplained: SettleAttribution[];
  };
  /** Late FULFILLs over all providers: count, sum (base units), providers with any. */
  lateFulfills: { count: number; amount: string; providers: number };
  /**
   * Payments left in doubt by a town process's crash (forwarded, no answer on its books): proven
   * since (the provider showed the fulfillment: owed), and still in doubt at the end (not owed;
   * a provider's log above the books by them when it fulfilled them).
   */
  inDoubt: { proven: number; provenAmount: string; left: number; leftAmount: string };
  /** Payout channels the towns opened (their books' `opened` lines). */
  channelsOpened: number;
  /** Claims the towns signed and sent (their books' `claimed` lines), during the run and at the end. */
  claimsSent: number;
  /** Of those, signed at the end (`payAll`). */
  claimsAtEnd: number;
  /** Payout channels settled, each by one `ChannelSettled` log the chain holds. */
  settled: number;
  /**
   * Of those, settled by another before the harness's settle: the provider's node (its watcher,
   * its key: `byProvider`), the town's watch of its payout channels (the town's key) or a third
   * address, by the `ChannelSettled` log's transaction and its sender; why the harness's own
   * settle was refused ("" when it was not sent second but never mined either).
   */
  settledByNode: {
    channelId: string;
    tx?: string;
    from?: string;
    by: "provider" | "town" | "other";
    byProvider: boolean;
    ours: string;
  }[];
  /** Payout channels still on chain (open or closed: a deposit locked) after the settles. */
  leftOnChain: string[];
  /** Closes that failed (the channel is then found still open: its settle unexplained). */
  failures: string[];
  /**
   * Payout channels the towns opened with no claim kept at the provider (the claim signed by a
   * process the provider was not connected to): closed without a proof, the deposit back.
   */
  channelsWithoutClaim: string[];
  /** What `payAll` answered, per town process. */
  payAll: { town: number; paid: number; errors: string[] }[];
  /** Sums over the providers. */
  owed: string;
  payout: string;
  earnedByLog: string;
  /** Per town. */
  towns: {
    town: number;
    processes: number;
    providers: number;
    channelsOpened: number;
    claimsSent: number;
    owed: string;
    payout: string;
    earnedByLog: string;
    payoutChainEqualsBooks: boolean;
    lateFulfills: number;
    lateFulfilled: string;
  }[];
  /** The providers whose figures differ, each with its figures. */
  differences: PayeeFigures[];
  seconds: number;
}

/** Options for {@linkcode settleScalePayouts}. */
export interface SettleScalePayoutsOptions {
  /** Closes and settles at once. Default 8. */
  concurrency?: number;
  /** Each step's line. */
  progress?: (line: string) => void;
  /**
   * How long the harness waits after passing the settle timeout before it sends its own settles
   * (`--payout-settle-after`): the providers' nodes and the towns' watches poll every 15 s, so a
   * wait lets them settle first, the race of a large run on a small one. Default 0.
   */
  settleAfterMs?: number;
}

/**
 * How long the providers get to keep the towns' last claims: until none is missing, or none
 * arrived for `KEEP_STALL_MS` (a claim signed by a process the provider is not connected to
 * never arrives), at most `KEEP_WAIT_MS`.
 */
const KEEP_WAIT_MS = 60_000;
const KEEP_STALL_MS = 5_000;

/**
 * Pays every provider what its town owes it, closes and settles every payout channel and
 * compares the chain with the books (module doc). The providers must still be connected (the
 * claims go over their BTP links); they may be stopped once it resolves.
 *
 * It settles payouts on a chain, so it has no example here: tests/e2e/network_scale_test.ts
 * (`--payout-threshold`) settles the run's payouts with it.
 */
export async function settleScalePayouts(
  run: ScaleChain,
  payees: readonly ScalePayee[],
  payers: readonly ScalePayer[],
  options: SettleScalePayoutsOptions = {},
): Promise<ScalePayoutsSettled> {
  const concurrency = options.concurrency ?? 8;
  const progress = options.progress ?? (() => {});
  const started = performance.now();
  const took = () => `${((performance.now() - started) / 1000).toFixed(1)} s`;
  const config = resolveChainConfig(LOCAL_CHAIN, { section: run.chain.chainsTable[LOCAL_CHAIN] });
  const client = (key: Uint8Array) =>
    new TokenNetworkClient({ chain: config, account: localEvmAccount(key) });
  const failures: string[] = [];
  const withoutClaim: string[] = [];
  const claimsBefore = await claimLines(payers);
  const payAll: ScalePayoutsSettled["payAll"] = [];
  for (const p of payers) {
    try {
      for (const r of await p.payAll()) payAll.push({ town: p.town, ...r });
    } catch (err) {
      payAll.push({ town: p.town, paid: 0, errors: [(err as Error).message] });
    }
    progress(`payouts: town ${p.town} paid what it owed (${took()})`);
  }
  const books = await townBooks(payers);
  // The providers keep the last claims: their files reach the towns' claims (bounded wait).
  const keptOf = async (p: ScalePayee) =>
    (await listChannels(p.stateDir)).filter((r) => r.peerLabel === PAYOUT_CHANNEL_LABEL);
  const deadline = performance.now() + KEEP_WAIT_MS;
  let missing = [...payees];
  let lastProgress = performance.now();
  while (missing.length > 0 && performance.now() < deadline) {
    const still = [];
    for (const p of missing) {
      if (sum(await keptOf(p)) < (books.claimed.get(p.account) ?? 0n)) still.push(p);
    }
    if (still.length < missing.length) lastProgress = performance.now();
    missing = still;
    if (performance.now() - lastProgress > KEEP_STALL_MS) break;
    if (missing.length > 0) await new Promise((r) => setTimeout(r, 250));
  }
  progress(
    `payouts: ${
      payees.length - missing.length
    }/${payees.length} providers hold their claims (${took()})`,
  );
  // Each provider closes its payout channels with the newest claim it kept, then settles.
  const figures = new Map<string, PayeeFigures>();
  const closing: { p: ScalePayee; record: ChannelRecord; payee: TokenNetworkClient }[] = [];
  const before = new Map<string, bigint>();
  const queue = [...payees];
  await Promise.all(
    Array.from({ length: Math.max(1, concurrency) }, async () => {
      for (let p = queue.shift(); p !== undefined; p = queue.shift()) {
        const payee = client(p.secretKey);
        before.set(p.account, await payee.tokenBalance());
        // A channel the town opened whose claim never reached the provider has no file there:
        // it is found on the town's books and closed without a proof (the deposit goes back).
        const kept = await keptOf(p);
        const ids = new Set(kept.map((r) => r.channelId.toLowerCase()));
        for (const id of books.channels.get(p.account) ?? []) {
          if (!ids.has(id.toLowerCase())) {
            withoutClaim.push(`${p.account}: ${id}`);
            try {
              await payee.closeChannel(id as `0x${string}`);
              closing.push({
                p,
                record: { channelId: id, settleTimeout: 600n } as ChannelRecord,
                payee,
              });
            } catch (err) {
              failures.push(`${id}: close: ${(err as Error).message.split("\n")[0]}`);
            }
          }
        }
        for (const record of kept) {
          try {
            await payee.closeChannel(
              record.channelId,
              record.receivedSignature === undefined ? undefined : {
                nonce: record.receivedNonce,
                transferredAmount: record.received,
                signature: record.receivedSignature,
              },
            );
            closing.push({ p, record, payee });
          } catch (err) {
            failures.push(`${record.channelId}: close: ${(err as Error).message.split("\n")[0]}`);
          }
        }
      }
    }),
  );
  const timeout = closing.reduce(
    (a, c) => c.record.settleTimeout > a ? c.record.settleTimeout : a,
    0n,
  );
  progress(`payouts: ${closing.length} payout channels closed (${took()})`);
  if (closing.length > 0) await increaseTime(run.chain.anvil.rpcUrl, Number(timeout) + 1);
  if ((options.settleAfterMs ?? 0) > 0) {
    progress(`payouts: the timeout passed; our settles in ${options.settleAfterMs} ms`);
    await new Promise((r) => setTimeout(r, options.settleAfterMs));
  }
  // The provider's node settles its payout channels too once the timeout is over (its watcher,
  // roles/channels/payout_receiver.ts, with the same key), and so does the town's watch of its
  // payout channels (roles/town/channels/payout_channel_watch.ts, the town's key): one settle is
  // mined, the others are refused. Ours is tried; who settled is then read from the chain.
  const ours = new Map<string, { harnessTx?: string; refused?: string }>();
  const settleQueue = [...closing];
  await Promise.all(
    Array.from({ length: Math.max(1, concurrency) }, async () => {
      for (let c = settleQueue.shift(); c !== undefined; c = settleQueue.shift()) {
        const id = c.record.channelId.toLowerCase();
        try {
          ours.set(id, { harnessTx: await c.payee.settleChannel(c.record.channelId) });
        } catch (err) {
          ours.set(id, { refused: (err as Error).message.split("\n")[0] });
        }
      }
    }),
  );
  // Every payout channel, the towns' books' and the providers' files', attributed by the chain.
  const channelsOf = new Map<string, Set<string>>();
  for (const p of payees) {
    const ids = new Set((books.channels.get(p.account) ?? []).map((id) => id.toLowerCase()));
    for (const r of await keptOf(p)) ids.add(r.channelId.toLowerCase());
    channelsOf.set(p.account, ids);
  }
  const payoutChannels: PayoutChannel[] = payees.flatMap((p) =>
    [...channelsOf.get(p.account)!].map((channelId) => ({
      channelId,
      provider: payeeAddress(p.secretKey),
      ...ours.get(channelId),
    }))
  );
  const reader = client(payees[0]?.secretKey ?? new Uint8Array(32).fill(1));
  const facts = await readChannelFacts(
    reader,
    payoutChannels.map((c) => c.channelId),
    run.fundedBlock,
    concurrency,
  );
  const settles = attributeSettles(payoutChannels, facts);
  const attributed = new Map(settles.map((s) => [s.channelId, s]));
  const settledByNode: ScalePayoutsSettled["settledByNode"] = settles.flatMap((s) =>
    s.by === "provider" || s.by === "town" || s.by === "other"
      ? [{
        channelId: s.channelId,
        tx: s.tx,
        from: s.from,
        by: s.by,
        byProvider: s.by === "provider",
        ours: s.refused ?? "",
      }]
      : []
  );
  const unexplained = settles.filter((s) => s.by === "unexplained");
  const settled = settles.length - unexplained.length;
  const leftOnChain = facts.filter((f) => f.state !== "none").map((f) =>
    `${f.channelId}: ${f.state}`
  );
  for (const p of payees) {
    const kept = await keptOf(p);
    const payout = await client(p.secretKey).tokenBalance() - (before.get(p.account) ?? 0n);
    const log = await openPaymentLog({ stateDir: p.stateDir });
    const earned = summarizePayments(log.entries()).reduce((a, b) => a + b.earned.total, 0n);
    const gaveUp = books.gaveUp.get(p.account) ?? new Set<string>();
    // A late FULFILL the provider took back once its town said so (income_reversals.ts) is not one.
    const late = withoutReversed(log.entries()).filter((e) =>
      e.direction === "in" && e.event === "fulfilled" && e.invoiceId !== undefined &&
      gaveUp.has(e.invoiceId.toLowerCase())
    );
    figures.set(p.account, {
      account: p.account,
      town: p.town,
      owed: String(books.owed.get(p.account) ?? 0n),
      claimed: String(books.claimed.get(p.account) ?? 0n),
      kept: String(sum(kept)),
      payout: String(payout),
      earnedByLog: String(earned),
      lateFulfills: late.length,
      lateFulfilled: String(late.reduce((a, e) => a + BigInt(e.amount), 0n)),
      channels: kept.map((r) => r.channelId),
      paidBySettles: String(
        [...channelsOf.get(p.account)!].reduce((a, id) => {
          const s = attributed.get(id);
          return a + (s !== undefined && s.by !== "unexplained" ? BigInt(s.paidToProvider) : 0n);
        }, 0n),
      ),
      unexplainedSettles: [...channelsOf.get(p.account)!].filter((id) =>
        attributed.get(id)?.by === "unexplained"
      ).length,
    });
  }
  const agrees = (f: PayeeFigures) =>
    f.payout === f.owed && f.payout === f.paidBySettles &&
    BigInt(f.owed) + BigInt(f.lateFulfilled) === BigInt(f.earnedByLog);
  const explained = (f: PayeeFigures) => f.unexplainedSettles === 0;
  const all = [...figures.values()];
  const claimsAfter = await claimLines(payers);
  const towns = payers.map((t) => {
    const mine = all.filter((f) => f.town === t.town);
    const total = (k: "owed" | "payout" | "earnedByLog" | "lateFulfilled") =>
      String(mine.reduce((a, f) => a + BigInt(f[k]), 0n));
    return {
      town: t.town,
      processes: t.stateDirs.length,
      providers: mine.length,
      channelsOpened: books.openedByTown.get(t.town) ?? 0,
      claimsSent: claimsAfter.get(t.town) ?? 0,
      owed: total("owed"),
      payout: total("payout"),
      earnedByLog: total("earnedByLog"),
      payoutChainEqualsBooks: mine.every((f) => agrees(f) && explained(f)),
      lateFulfills: mine.reduce((a, f) => a + f.lateFulfills, 0),
      lateFulfilled: total("lateFulfilled"),
    };
  });
  const total = (k: "owed" | "payout" | "earnedByLog" | "lateFulfilled") =>
    String(all.reduce((a, f) => a + BigInt(f[k]), 0n));
  const claimsSent = [...claimsAfter.values()].reduce((a, b) => a + b, 0);
  const differing = all.filter((f) => !agrees(f));
  const why = [
    ...(differing.length > 0 ? [`money differs on ${differing.length} providers`] : []),
    ...(unexplained.length > 0 ? [`${unexplained.length} settles unexplained`] : []),
  ].join("; ");
  return {
    payoutChainEqualsBooks: why === "",
    payoutChainEqualsBooksWhy: why,
    settles: {
      byHarness: settles.filter((s) => s.by === "harness").length,
      byProvider: settles.filter((s) => s.by === "provider").length,
      byTown: settles.filter((s) => s.by === "town").length,
      byOther: settles.filter((s) => s.by === "other").length,
      harnessRefused: settles.filter((s) => s.refused !== undefined).length,
      unexplained,
    },
    inDoubt: {
      proven: books.proven.length,
      provenAmount: String(books.proven.reduce((a, e) => a + BigInt(e.amount), 0n)),
      left: books.inDoubt.length,
      leftAmount: String(books.inDoubt.reduce((a, p) => a + p.amount, 0n)),
    },
    lateFulfills: {
      count: all.reduce((a, f) => a + f.lateFulfills, 0),
      amount: total("lateFulfilled"),
      providers: all.filter((f) => f.lateFulfills > 0).length,
    },
    channelsOpened: [...books.openedByTown.values()].reduce((a, b) => a + b, 0),
    claimsSent,
    claimsAtEnd: claimsSent - [...claimsBefore.values()].reduce((a, b) => a + b, 0),
    settled,
    settledByNode,
    leftOnChain,
    failures,
    channelsWithoutClaim: withoutClaim,
    payAll,
    owed: total("owed"),
    payout: total("payout"),
    earnedByLog: total("earnedByLog"),
    towns,
    differences: differing,
    seconds: (performance.now() - started) / 1000,
  };
}

function sum(records: readonly ChannelRecord[]): bigint {
  return records.reduce((a, r) => a + r.received, 0n);
}

/**
 * The towns' books per peer, summed over each town's processes (each keeps its own; on a shared
 * store each records the claims' share of its books, roles/town/channels/shared_payouts.ts).
 */
async function townBooks(payers: readonly ScalePayer[]) {
  const owed = new Map<string, bigint>();
  const claimed = new Map<string, bigint>();
  const channels = new Map<string, string[]>();
  const openedByTown = new Map<number, number>();
  /** Per peer, the packets the town gave up (rejected, never fulfilled on any of its books). */
  const gaveUp = new Map<string, Set<string>>();
  const fulfilled = new Set<string>();
  const rejected: PeerLedgerEntry[] = [];
  const proven: PeerLedgerEntry[] = [];
  const inDoubt: { account: string; condition: string; amount: bigint }[] = [];
  const add = (m: Map<string, bigint>, k: string, v: bigint) => m.set(k, (m.get(k) ?? 0n) + v);
  for (const t of payers) {
    for (const dir of t.stateDirs) {
      const ledger = await openPeerLedger({ stateDir: dir });
      for (const b of ledger.balances()) {
        add(owed, b.account, b.owed);
        add(claimed, b.account, b.claimed);
      }
      inDoubt.push(...ledger.inDoubt());
      const lines = await ledgerLines(dir);
      for (const e of lines) {
        if (e.event === "fulfilled") fulfilled.add(`${e.account} ${e.condition}`);
        if (e.event === "fulfilled" && e.proven) proven.push(e);
        if (e.event === "rejected") rejected.push(e);
      }
      // A town of several processes pays over one channel per peer, on every process's books.
      for (const e of lines) {
        if (e.event !== "opened" || e.channelId === undefined) continue;
        const known = channels.get(e.account) ?? [];
        if (known.some((id) => id.toLowerCase() === e.channelId!.toLowerCase())) continue;
        channels.set(e.account, [...known, e.channelId]);
        openedByTown.set(t.town, (openedByTown.get(t.town) ?? 0) + 1);
      }
    }
  }
  for (const e of rejected) {
    if (fulfilled.has(`${e.account} ${e.condition}`)) continue;
    const set = gaveUp.get(e.account) ?? new Set<string>();
    gaveUp.set(e.account, set.add(e.condition!.toLowerCase()));
  }
  return { owed, claimed, channels, openedByTown, gaveUp, proven, inDoubt };
}

/** Claims each town signed so far (its books' `claimed` lines, all processes). */
async function claimLines(payers: readonly ScalePayer[]): Promise<Map<number, number>> {
  const out = new Map<number, number>();
  for (const t of payers) {
    for (const dir of t.stateDirs) {
      const n = (await ledgerLines(dir)).filter((e) => e.event === "claimed").length;
      out.set(t.town, (out.get(t.town) ?? 0) + n);
    }
  }
  return out;
}

async function ledgerLines(stateDir: string): Promise<PeerLedgerEntry[]> {
  const text = await Deno.readTextFile(`${stateDir}/peer_ledger.jsonl`).catch(() => "");
  const out: PeerLedgerEntry[] = [];
  for (const line of text.split("\n")) {
    try {
      if (line.trim() !== "") out.push(JSON.parse(line) as PeerLedgerEntry);
    } catch { /* a partial last line after a SIGKILL */ }
  }
  return out;
}

/**
 * The EVM address a provider is paid at: its wallet's (the `[town.payouts.addresses]` entry).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { payeeAddress } from "./scale_payouts.ts";
 *
 * const address = payeeAddress(new Uint8Array(32).fill(1));
 * assert.match(address, /^0x[0-9a-fA-F]{40}$/);
 * assert.equal(payeeAddress(new Uint8Array(32).fill(1)), address);
 * ```
 */
export function payeeAddress(secretKey: Uint8Array): `0x${string}` {
  return localNodeSigner(secretKey).evmAddress;
}
