/**
 * The opening of the channel a town pays a BTP peer over (docs/OPERATIONS.md "Paying
 * providers"): opened and funded with the open's intent on disk first
 * (state/channels/payout_open_intent.ts), its file and ledger line written once it is funded, and a
 * channel opened on chain and never recorded taken over. The payouts that pay on it are
 * roles/town/channels/peer_payout.ts and shared_payouts.ts.
 *
 * @module
 */
import type { PeerCredit } from "../../../state/payments/peer_credit.ts";
import { PeerPayoutError } from "./peer_payout_errors.ts";
import type { TokenNetworkClient } from "../../../chain/token_network_client.ts";
import type { AuditLog } from "../../../state/audit/audit_log.ts";
import type { ChannelRecord } from "../../../state/channels/channel_file.ts";
import { recordChannel } from "../../../state/channels/channel_writer.ts";
import type { PeerLedger } from "../../../state/payments/peer_ledger.ts";
import type { NodeSigner } from "../../../protocol/node_signer.ts";
import type { TownPayoutPolicy } from "../../../config/town_settings.ts";
import { newChannelRecord } from "../../channels/channel_record_builder.ts";
import {
  clearPayoutOpenIntent,
  type PayoutOpenIntent,
  writePayoutOpenIntent,
} from "../../../state/channels/payout_open_intent.ts";

/** Options for {@linkcode openPayoutChannel}. */
export interface OpenPayoutChannelOptions {
  stateDir: string;
  audit?: AuditLog;
  ledger: PeerLedger;
  account: string;
  /** The town's chain client (its key): opens and funds. */
  client: TokenNetworkClient;
  /** The peer's EVM address. */
  peerAddress: `0x${string}`;
  deposit: bigint;
  /** Seconds. Default 600. */
  settleTimeout?: bigint;
  /**
   * Tests only: awaited once the open is mined and recorded, before the deposit is sent (the
   * instant a crash test kills the town at).
   */
  afterOpenedForTests?: (channelId: `0x${string}`) => Promise<void>;
}

/**
 * Opens and funds the channel the town pays a peer over, saves its file (no `btp_account`: the
 * town pays on it, it gates nothing) and records it on the ledger (`opened`).
 *
 * Crash-safe: the open's intent is on disk before the open is sent and carries the channel id
 * once it is mined (state/channels/payout_open_intent.ts); a town killed before the file is written
 * finishes the open at its next payout to the peer (`TownPayouts`, peer_payout.ts, and
 * {@linkcode adoptPayoutChannel}).
 *
 * It needs a chain: no example that runs here: tests/interop/anvil_payout_open_crash_test.ts.
 */
export async function openPayoutChannel(options: OpenPayoutChannelOptions): Promise<ChannelRecord> {
  const settleTimeout = options.settleTimeout ?? 600n;
  const intent: PayoutOpenIntent = {
    account: options.account,
    peerAddress: options.peerAddress,
    deposit: options.deposit,
    settleTimeout,
    startedAt: new Date().toISOString(),
  };
  await writePayoutOpenIntent(options.stateDir, intent);
  const opened = await options.client.openChannel({
    partner: options.peerAddress,
    deposit: options.deposit,
    settleTimeout,
    onOpened: async ({ channelId, openTx }) => {
      await writePayoutOpenIntent(options.stateDir, { ...intent, channelId, openTx });
      await options.afterOpenedForTests?.(channelId);
    },
  });
  return await recordPayoutChannel(options, {
    channelId: opened.channelId,
    openTx: opened.openTx,
    deposit: options.deposit,
    settleTimeout,
  });
}

/**
 * The file and the ledger line of a payout channel funded on chain; the intent removed.
 *
 * It follows an open on chain: no example that runs here:
 * tests/interop/anvil_payout_open_crash_test.ts.
 */
export async function recordPayoutChannel(
  options: Pick<
    OpenPayoutChannelOptions,
    "stateDir" | "audit" | "ledger" | "account" | "client" | "peerAddress"
  >,
  channel: {
    channelId: `0x${string}`;
    openTx?: `0x${string}`;
    deposit: bigint;
    settleTimeout: bigint;
  },
): Promise<ChannelRecord> {
  const record = {
    ...newChannelRecord(options.client, { ...channel, peerAddress: options.peerAddress }),
    peerLabel: `payout to ${options.account}`,
  };
  await recordChannel(record, {
    stateDir: options.stateDir,
    audit: options.audit,
    action: "open",
  });
  await options.ledger.opened(options.account, channel.channelId, channel.deposit);
  await clearPayoutOpenIntent(options.stateDir, options.peerAddress);
  return record;
}

/** Options for {@linkcode adoptPayoutChannel}. */
export interface AdoptPayoutChannelOptions {
  /** The town's chain client (its key). */
  client: TokenNetworkClient;
  account: string;
  /** The channel found open on chain between the town and the peer. */
  channelId: `0x${string}`;
  /** The deposit it is to carry: topped up to it when the open's deposit never went out. */
  deposit: bigint;
}

/**
 * Takes over a payout channel the town opened on chain and never recorded (killed between the
 * open and its file or row): checks it is open with the town as a participant and nothing
 * transferred on chain, tops the town's deposit up to `deposit` when the open's deposit was not
 * mined, and resolves with the town's deposit. Only for a channel no claim was signed on (no
 * file, no row: the caller knows).
 *
 * It reads the chain: no example that runs here: tests/interop/anvil_payout_open_crash_test.ts.
 */
export async function adoptPayoutChannel(options: AdoptPayoutChannelOptions): Promise<bigint> {
  const { client, channelId } = options;
  const c = await client.getChannel(channelId);
  const mine = c.participants[client.address.toLowerCase()];
  if (c.state !== "opened" || mine === undefined || mine.transferredAmount !== 0n) {
    throw new PeerPayoutError(`channel ${channelId} with ${options.account} cannot carry payouts`);
  }
  if (mine.deposit >= options.deposit) return mine.deposit;
  await client.setTotalDeposit(channelId, options.deposit);
  return options.deposit;
}

/** A town's payouts: {@linkcode TownPayouts} (peer_payout.ts) and the shared-store payouts. */
export interface TownPayoutsOptions {
  stateDir: string;
  audit?: AuditLog;
  ledger: PeerLedger;
  /** The town's key. */
  signer: NodeSigner;
  /** The town's chain client (its key): opens and funds payout channels. */
  client: TokenNetworkClient;
  policy: Pick<TownPayoutPolicy, "threshold" | "intervalMs">;
  /** The town's deposit in a new payout channel. */
  deposit: bigint;
  /**
   * The town's credit counts (`TownBooks.credit`), when it gives peers credit: a payout is
   * counted there as the peer's spending and pays what is owed less what the peer spent
   * (docs/PROTOCOL.md "Credit without a channel"). Undefined: a payout pays what is owed.
   */
  credit?: PeerCredit;
  /** Settle timeout of a new payout channel, seconds. Default 600. */
  settleTimeout?: bigint;
  /** The EVM address a peer is paid at; undefined: the peer is not paid on chain. */
  peerAddress: (account: string) => `0x${string}` | undefined;
  /** Sends a claim to a peer (`BtpPeerConnection.sendClaim`), rejects when it was not kept. */
  send: (account: string, claim: Uint8Array) => Promise<void>;
  log?: (line: string) => void;
  /** Tests only: see {@linkcode OpenPayoutChannelOptions.afterOpenedForTests}. */
  afterOpenedForTests?: (channelId: `0x${string}`) => Promise<void>;
  /**
   * Watch the payout channels on chain, polling this often (`[channels] watch_interval`):
   * roles/town/channels/payout_channel_watch.ts. Undefined: not watched.
   */
  watchIntervalMs?: number;
}

/**
 * Opens the payout channel to a peer with a town's payout options (what {@linkcode TownPayouts}
 * and the shared-store payouts both call).
 *
 * It needs a chain: no example that runs here: tests/interop/anvil_town_payout_test.ts.
 */
export async function openTownPayoutChannel(
  o: TownPayoutsOptions,
  account: string,
  peerAddress: `0x${string}`,
): Promise<ChannelRecord> {
  return await openPayoutChannel({
    stateDir: o.stateDir,
    audit: o.audit,
    ledger: o.ledger,
    account,
    client: o.client,
    peerAddress,
    deposit: o.deposit,
    settleTimeout: o.settleTimeout,
    afterOpenedForTests: o.afterOpenedForTests,
  });
}
