/**
 * Test helper: a town process's payouts to the peers it forwards payments to, as `town up` runs
 * them with `[town.payouts]` (cli/town_command.ts; docs/OPERATIONS.md "Paying providers"): a
 * payout channel opened from the town's key to each named peer's address at its first payout,
 * a claim each time what it owes a peer beyond its newest claim reaches the threshold (or every
 * interval), and {@linkcode TownProcessPayouts.payAll} for what is left at the end, as `demo`
 * pays with `payNow`. Used by harness/shared_town_process.ts.
 *
 * @module
 */
import { resolveChainConfig } from "../config/chain_config.ts";
import type { TownPayoutPolicy } from "../config/town_settings.ts";
import { TokenNetworkClient } from "../chain/token_network_client.ts";
import { DEFAULT_WATCH_INTERVAL_MS } from "../config/channel_settings.ts";
import type { NodeSigner } from "../protocol/node_signer.ts";
import { TownPayouts } from "../roles/town/channels/peer_payout.ts";
import { sharedBooksId, SharedTownPayouts } from "../roles/town/channels/shared_payouts.ts";
import { openPostgresPayoutBooks } from "../state/postgres/postgres_payout_books.ts";
import type { TownNode } from "../roles/town/town_node.ts";

/** The payouts of a town process (JSON-safe: amounts as decimal strings). */
export interface TownProcessPayoutPlan {
  /** The peers paid, by BTP account: their EVM address. */
  addresses: Record<string, `0x${string}`>;
  /** Base units owed beyond the newest claim that trigger a claim. */
  threshold: string;
  /** Longest a debt waits for a claim, ms. */
  intervalMs: number;
  /** Most the town owes one peer beyond its claims; more is refused T04. */
  maxOwed: string;
  /** The town's deposit in each payout channel. */
  deposit: string;
}

/**
 * The `[town.payouts]` policy of a plan.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { payoutPolicyOf } from "./town_process_payouts.ts";
 *
 * const policy = payoutPolicyOf({
 *   addresses: {},
 *   threshold: "50000",
 *   intervalMs: 60_000,
 *   maxOwed: "1000000",
 *   deposit: "1000000",
 * });
 * assert.deepEqual([policy.threshold, policy.maxOwed], [50_000n, 1_000_000n]);
 * ```
 */
export function payoutPolicyOf(plan: TownProcessPayoutPlan): TownPayoutPolicy {
  return {
    threshold: BigInt(plan.threshold),
    intervalMs: plan.intervalMs,
    maxOwed: BigInt(plan.maxOwed),
    deposit: BigInt(plan.deposit),
    addresses: plan.addresses,
  };
}

/** What {@linkcode TownProcessPayouts.payAll} did. */
export interface PayAllResult {
  /** Peers sent a claim for everything owed now. */
  paid: number;
  /** Peers that could not be paid, with the reason. */
  errors: string[];
}

/** Options for {@linkcode startTownProcessPayouts}. */
export interface TownProcessPayoutsOptions {
  town: TownNode;
  signer: NodeSigner;
  stateDir: string;
  /** `[chains]`: the first chain pays. */
  chainsTable: Record<string, Record<string, string>>;
  plan: TownProcessPayoutPlan;
  /** A town of several processes: its shared store, where the payout books are kept. */
  storeUrl?: string;
  log?: (line: string) => void;
}

/** A town process's payouts. */
export interface TownProcessPayouts {
  payouts: Pick<TownPayouts, "owed" | "connected" | "close" | "payNow">;
  /** Pays every named peer what is owed now (claims for the rest under the threshold). */
  payAll(): Promise<PayAllResult>;
}

/**
 * Starts the payouts of a running town (hand `payouts.owed` and `payouts.connected` the town's
 * `onOwed` and `onPeerConnected`).
 *
 * It pays over a town's channels on anvil, so it has no example here: the town process
 * startSharedTownProcess starts with a payout plan runs it (harness/shared_town_process.ts), as
 * tests/e2e/town_shared_payouts_test.ts does.
 */
export async function startTownProcessPayouts(
  options: TownProcessPayoutsOptions,
): Promise<TownProcessPayouts> {
  const { town, signer, plan } = options;
  const [chainId, section] = Object.entries(options.chainsTable)[0];
  const chain = resolveChainConfig(chainId, { section });
  const policy = payoutPolicyOf(plan);
  const common = {
    stateDir: options.stateDir,
    ledger: town.ledger,
    credit: town.credit,
    signer,
    client: new TokenNetworkClient({ chain, account: signer.evm }),
    policy,
    deposit: policy.deposit!,
    peerAddress: (account: string) => plan.addresses[account],
    send: async (account: string, claim: Uint8Array) => {
      const peer = town.peer(account);
      if (!peer) throw new Error(`${account} is not connected`);
      await peer.sendClaim(claim, 10_000);
    },
    log: options.log,
  };
  const payouts = options.storeUrl === undefined
    // Watched as `town up` watches them ([channels] watch_interval's default).
    ? resumed(new TownPayouts({ ...common, watchIntervalMs: DEFAULT_WATCH_INTERVAL_MS }))
    : await SharedTownPayouts.start({
      ...common,
      watchIntervalMs: DEFAULT_WATCH_INTERVAL_MS,
      books: await openPostgresPayoutBooks({ url: options.storeUrl }),
      booksId: await sharedBooksId(options.stateDir),
      connectedHere: (account) => town.peer(account) !== undefined,
    });
  return {
    payouts,
    payAll: async () => {
      const due = town.ledger.balances().filter((b) =>
        plan.addresses[b.account] !== undefined && b.owed > b.claimed
      );
      const errors: string[] = [];
      let paid = 0;
      await Promise.all(due.map(async (b) => {
        try {
          if (await payouts.payNow(b.account)) paid++;
          else errors.push(`${b.account}: nothing paid (owed ${b.owed}, claimed ${b.claimed})`);
        } catch (err) {
          errors.push(`${b.account}: ${(err as Error).message.split("\n")[0]}`);
        }
      }));
      return { paid, errors };
    },
  };
}

/** A one-process town's payouts, finishing in the background an open a crash interrupted. */
function resumed(payouts: TownPayouts): TownPayouts {
  void payouts.resumeOpens().then(() => payouts.watchKept());
  return payouts;
}
