/**
 * The demo's settlement (roles/demo/paid_job_demo.ts): anvil with the requester's channel to the
 * town, the town's claim gate on it, the town's payout to the provider, and the close and settle
 * whose payouts must equal both sides' books (docs/OPERATIONS.md "Paying providers").
 *
 * @module
 */
import { formatUnits } from "viem";
import type { NodeSigner } from "../../protocol/node_signer.ts";
import type { TownNode } from "../town/town_node.ts";
import { networkLabel, resolveChainConfig } from "../../config/chain_config.ts";
import {
  openTownChannelGates,
  type TownChannelGates,
} from "../town/channels/town_channel_gates.ts";
import { BtpClient } from "../../transport/btp_client.ts";
import { TownPayouts } from "../town/channels/peer_payout.ts";
import { TokenNetworkClient } from "../../chain/token_network_client.ts";
import {
  type DemoChain,
  type DemoSettlement,
  type DemoSettleOptions,
  startDemoChain,
} from "./demo_chain.ts";
import { errorLine, PaidJobDemoError } from "./paid_job_demo_error.ts";

/** The requester's BTP account at the demo's town. */
export const REQUESTER_ACCOUNT = "requester";
/** The provider's BTP account at the demo's town. */
export const PROVIDER_ACCOUNT = "provider";
/** The demo town's ILP address. */
export const TOWN_ADDRESS = "test.demo.town";

/** The chain side of the demo: anvil with the channel open and the town's claim gate. */
export interface SettlementSide {
  chain?: DemoChain;
  gates?: TownChannelGates;
  /** Why there is no chain. */
  noSettlement?: string;
}

/** What {@linkcode prepareSettlement} reads of the demo's options. */
export interface SettlementOptions {
  /** Each line the demo prints. */
  onLine?: (line: string) => void;
  /** Jobs the run posts: the deposits grow with them. */
  jobs?: number;
  /** The anvil binary (default: the one `deno task setup` installed). */
  anvilBinary?: string;
}

/**
 * Starts anvil, opens the requester's channel to the town and the town's claim gate on it.
 *
 * It starts anvil: no example that runs here: tests/e2e/demo_settlement_test.ts.
 * @throws {PaidJobDemoError} when the chain or the gate does not start.
 */
export async function prepareSettlement(
  root: string,
  townSigner: NodeSigner,
  requesterSigner: NodeSigner,
  providerSigner: NodeSigner,
  options: SettlementOptions,
): Promise<SettlementSide> {
  const say = options.onLine ?? (() => {});
  const deposit = 5_000_000n * BigInt(Math.max(1, Math.ceil((options.jobs ?? 1) / 50)));
  let chain: DemoChain;
  try {
    chain = await startDemoChain({
      // The town's payout channel holds at most what the requester's does.
      provider: { signer: providerSigner, payoutDeposit: deposit },
      requesterStateDir: `${root}/requester`,
      requesterSigner,
      townStateDir: `${root}/town`,
      townSigner,
      anvilBinary: options.anvilBinary,
      // Enough for every job of the run (one costs ~0.05 M2M at the default prices).
      deposit,
    });
  } catch (err) {
    throw new PaidJobDemoError(`the local chain did not start: ${errorLine(err)}`, {
      cause: err,
    });
  }
  try {
    say(
      `Chain: ${networkLabel(chain.chain)} at ${chain.anvil.rpcUrl}, ` +
        `TokenNetwork ${chain.contracts.tokenNetworkAddress}`,
    );
    say(
      `Channel ${chain.channelId} opened: deposit ${
        formatToken(String(chain.deposit), chain.chain.tokenDecimals)
      } ${chain.chain.tokenSymbol} (${Math.round(chain.openMs)} ms)`,
    );
    return { chain, gates: await openDemoGates(root, townSigner, chain) };
  } catch (err) {
    await chain.stop();
    throw new PaidJobDemoError(`the town's channel gate did not open: ${errorLine(err)}`, {
      cause: err,
    });
  }
}

function openDemoGates(
  root: string,
  townSigner: NodeSigner,
  chain: DemoChain,
): Promise<TownChannelGates> {
  return openTownChannelGates({
    stateDir: `${root}/town`,
    peerChannels: [{ account: REQUESTER_ACCOUNT, channelId: chain.channelId, creditLimit: 0n }],
    chains: chain.chainsTable,
    signer: townSigner,
    triggeredBy: () => TOWN_ADDRESS,
  });
}

/**
 * Closes and settles the requester's channel (and the provider's payout channel), printing what
 * the chain paid each side and whether it equals the books.
 *
 * It needs anvil and the channel's town: no example that runs here:
 * tests/e2e/demo_settlement_test.ts.
 * @throws {PaidJobDemoError} when settling fails.
 */
export async function settle(
  chain: DemoChain,
  say: (line: string) => void,
  options: DemoSettleOptions,
): Promise<DemoSettlement> {
  const s = await chain.settle(options).catch((err) => {
    throw new PaidJobDemoError(`settling channel ${chain.channelId} failed: ${errorLine(err)}`, {
      cause: err,
    });
  });
  const amount = (v: string) => `${formatToken(v, s.tokenDecimals)} ${s.tokenSymbol}`;
  say(
    `Channel: paid ${amount(s.paid)} in ${s.claims} claims, ${amount(s.remaining)} remaining`,
  );
  if (s.cooperativeRefused) say(`Cooperative close refused (${s.cooperativeRefused})`);
  say(
    s.mode === "cooperative"
      ? `Closed cooperatively: the town co-signed the final balances over BTP, ` +
        `settled in ${s.transactions} transaction (${Math.round(s.settleMs)} ms)`
      : `Closed by the town with the newest claim, settle timeout passed on anvil, settled ` +
        `(${Math.round(s.settleMs)} ms)`,
  );
  say(
    `Settled on chain: requester got ${amount(s.requesterPayout)}, town got ${
      amount(s.townPayout)
    }` +
      (s.providerPayout === undefined
        ? ""
        : ` and paid the provider ${amount(s.providerPayout)} (payout channel ${
          shortId(s.payoutChannelId ?? "")
        }, closed by the provider with the ` +
          `town's claim and settled in ${Math.round(s.payoutSettleMs ?? 0)} ms), town net ${
            amount(s.townNet ?? "0")
          }`) +
      ` (${s.chainEqualsBooks ? "chain = books" : "CHAIN DIFFERS FROM THE BOOKS"})`,
  );
  return s;
}

/** The demo town's payouts to its provider, the payout channel opening meanwhile. */
export interface DemoPayouts {
  payouts: TownPayouts;
  /** Opening the payout channel (started before the job, awaited by the payout). */
  opening: Promise<unknown>;
  /** Why the last claim was not kept by the provider (`TownPayouts` logs and keeps it). */
  undelivered?: Error;
}

/**
 * The demo town's payouts as `town up` runs them (cli/town_command.ts), the provider paid at its
 * EVM address; the payout channel opens now (nothing owed yet: no claim), while the job runs.
 *
 * It needs anvil and a running town: no example that runs here:
 * tests/e2e/demo_settlement_test.ts.
 */
export function openDemoPayouts(
  stateDir: string,
  town: TownNode,
  chain: DemoChain,
  townSigner: NodeSigner,
  providerSigner: NodeSigner,
): DemoPayouts {
  const config = resolveChainConfig(chain.chain.id, {
    section: chain.chainsTable[chain.chain.id] as Record<string, unknown>,
  });
  const demo: Partial<DemoPayouts> = {};
  const payouts = new TownPayouts({
    stateDir,
    ledger: town.ledger,
    credit: town.credit,
    signer: townSigner,
    client: new TokenNetworkClient({ chain: config, account: townSigner.evm }),
    policy: { threshold: 2n ** 255n, intervalMs: 3_600_000 }, // paid by payProvider, at the end
    deposit: chain.deposit,
    peerAddress: (account) => account === PROVIDER_ACCOUNT ? providerSigner.evmAddress : undefined,
    send: async (account, claim) => {
      try {
        const peer = town.peer(account);
        if (!peer) throw new Error(`${account} is not connected`);
        await peer.sendClaim(claim, 10_000);
        demo.undelivered = undefined;
      } catch (err) {
        demo.undelivered = err as Error;
        throw err;
      }
    },
  });
  const opening = payouts.payNow(PROVIDER_ACCOUNT);
  opening.catch(() => {}); // awaited by payProvider
  return Object.assign(demo, { payouts, opening });
}

/**
 * The demo's town pays the provider everything it owes now (`TownPayouts.payNow`, rather than
 * at the threshold); resolves once the provider kept the claim.
 *
 * It needs anvil, a town and a provider: no example that runs here:
 * tests/e2e/demo_settlement_test.ts.
 * @throws {PaidJobDemoError} when the provider did not keep the claim.
 */
export async function payProvider(
  demo: DemoPayouts,
  town: TownNode,
  say: (line: string) => void,
): Promise<{ channelId: `0x${string}`; owed: bigint }> {
  try {
    const started = performance.now();
    await demo.opening;
    const claim = await demo.payouts.payNow(PROVIDER_ACCOUNT);
    if (demo.undelivered) throw demo.undelivered;
    const books = town.ledger.balance(PROVIDER_ACCOUNT);
    if (!claim || !books.payoutChannel || books.claimed !== books.owed) {
      throw new Error(`claimed ${books.claimed} of ${books.owed} owed`);
    }
    say(
      `Payout: the town paid the provider ${books.owed} base units with a claim on channel ` +
        `${shortId(books.payoutChannel)}, kept by the provider (${
          Math.round(performance.now() - started)
        } ms)`,
    );
    return { channelId: books.payoutChannel as `0x${string}`, owed: books.owed };
  } catch (err) {
    throw new PaidJobDemoError(`the town did not pay the provider: ${errorLine(err)}`, {
      cause: err,
    });
  }
}

/**
 * A BTP connection of the requester's account for the co-sign exchange; none if refused.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { connectCosignPeer } from "./demo_settlement.ts";
 *
 * // A port nothing listens on: the connection is refused, so there is no peer.
 * const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
 * const { port } = listener.addr;
 * listener.close();
 * assert.equal(await connectCosignPeer(`btp+ws://requester:demo@127.0.0.1:${port}`), undefined);
 * ```
 */
export async function connectCosignPeer(url: string): Promise<BtpClient | undefined> {
  const client = new BtpClient({ url, authToken: "demo", reconnect: false });
  try {
    await client.connect();
    return client;
  } catch {
    await client.close().catch(() => {});
    return undefined; // settle() then closes unilaterally
  }
}

/**
 * An id's first 10 characters, for a line.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { shortId } from "./demo_settlement.ts";
 *
 * assert.equal(shortId("0x5f3a9c0d11e2"), "0x5f3a9c0d..");
 * ```
 */
export function shortId(id: string): string {
  return `${id.slice(0, 10)}..`;
}

/** Base units of the demo token as tokens (`5000000` -> `5`). */
function formatToken(baseUnits: string, decimals: number): string {
  return formatUnits(BigInt(baseUnits), decimals);
}
