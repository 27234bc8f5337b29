/**
 * Test helper: alice opens and funds a real channel with bob on the pair's anvil; both sides'
 * first channel records (alice's as `channel open` writes it, the town's as `channel recover`
 * rebuilds it, her deposit known), saving them to two state dirs, and bob settling on chain
 * with the newest claim his books hold (taken at what he delivered).
 *
 * @module
 */
import { increaseTime } from "../chain/anvil.ts";
import { ClaimSigner } from "../chain/claim_signer.ts";
import { type CooperativeSettle, signCooperativeSettle } from "../chain/balance_proof.ts";
import { localEvmAccount } from "../identity/local_evm_account.ts";
import type { ChannelPair } from "./anvil_channel_pair.ts";
import { channelRecord } from "./channel_town.ts";
import { type ChannelRecord, saveChannel } from "../state/channels/channel_file.ts";
import { partnerProof } from "../roles/channels/channel_chain_sync.ts";

/** Options for {@linkcode openPairChannel}. */
export interface PairChannelOptions {
  /** Alice's deposit (base units). */
  deposit: bigint;
  /** Default 600 s. */
  settleTimeout?: bigint;
}

/** A channel alice opened with bob. */
export interface PairChannel {
  channelId: `0x${string}`;
  openTx: `0x${string}`;
  deposit: bigint;
  /** Alice's record: her deposit, nothing sent. */
  aliceRecord: ChannelRecord;
  /** Bob's (the town's) record: alice's deposit as the peer's, nothing received. */
  townRecord: ChannelRecord;
}

/**
 * Opens alice's channel with bob on chain and builds both records.
 *
 * It opens a channel on anvil, so it has no example here: tests/interop/anvil_town_payout_test.ts
 * opens its channel with it.
 */
export async function openPairChannel(
  pair: ChannelPair,
  options: PairChannelOptions,
): Promise<PairChannel> {
  const settleTimeout = options.settleTimeout ?? 600n;
  const { channelId, openTx } = await pair.alice.openChannel({
    partner: pair.bob.address,
    deposit: options.deposit,
    settleTimeout,
  });
  const common = { channelId, settleTimeout };
  return {
    channelId,
    openTx,
    deposit: options.deposit,
    aliceRecord: channelRecord({
      ...common,
      self: pair.alice,
      peer: pair.bob,
      deposit: options.deposit,
    }),
    townRecord: channelRecord({
      ...common,
      self: pair.bob,
      peer: pair.alice,
      deposit: 0n,
      peerDeposit: options.deposit,
    }),
  };
}

/** Options for {@linkcode savePairChannel}. */
export interface SavePairChannelOptions {
  townDir: string;
  aliceDir: string;
}

/**
 * Writes both first records, each in its side's state dir (with its audit commit).
 *
 * It needs a channel on anvil, so it has no example here: tests/interop/anvil_town_payout_test.ts
 * and tests/interop/anvil_channel_watcher_test.ts save theirs with it.
 */
export async function savePairChannel(
  channel: PairChannel,
  options: SavePairChannelOptions,
): Promise<void> {
  await saveChannel(channel.townRecord, { stateDir: options.townDir, action: "open" });
  await saveChannel(channel.aliceRecord, { stateDir: options.aliceDir, action: "open" });
}

/**
 * Bob (the town) closes with the newest claim in his channel file, lets the settle timeout
 * pass on anvil, and settles: the chain pays out what the town's books say.
 *
 * It settles on anvil, so it has no example here: tests/interop/anvil_town_payout_test.ts settles
 * with it.
 */
export async function settleOnTownClaim(pair: ChannelPair, townFile: ChannelRecord): Promise<void> {
  await pair.bob.closeChannel(townFile.channelId, partnerProof(townFile));
  await increaseTime(pair.anvil.rpcUrl, Number(townFile.settleTimeout) + 1);
  await pair.bob.settleChannel(townFile.channelId);
}

/**
 * Alice's claim signer on a channel of hers with bob (`deposit`, less `withdrawn`).
 *
 * It needs a channel on anvil, so it has no example here:
 * tests/interop/anvil_channel_forward_only_test.ts signs its claims with it.
 */
export function aliceClaimSigner(
  pair: ChannelPair,
  channelId: `0x${string}`,
  deposit: bigint,
  withdrawn = 0n,
): ClaimSigner {
  return new ClaimSigner({
    account: localEvmAccount(pair.aliceKey),
    chainId: pair.chain.chainId,
    tokenNetworkAddress: pair.alice.tokenNetworkAddress,
    tokenAddress: pair.alice.tokenAddress,
    channelId,
    deposit,
    withdrawn,
  });
}

/**
 * Alice's and bob's signatures of a cooperative settle (participant1's first, as the contract
 * takes them when alice opened the channel).
 *
 * It needs a pair on anvil, so it has no example here:
 * tests/interop/anvil_channel_lifecycle_test.ts closes a channel with it.
 */
export async function coSignSettle(
  pair: ChannelPair,
  settle: CooperativeSettle,
): Promise<[`0x${string}`, `0x${string}`]> {
  return [
    await signCooperativeSettle(settle, {
      account: localEvmAccount(pair.aliceKey),
      domain: pair.alice.domain,
    }),
    await signCooperativeSettle(settle, {
      account: localEvmAccount(pair.bobKey),
      domain: pair.bob.domain,
    }),
  ];
}

/** Options for {@linkcode closedPairChannel}. */
export interface ClosedPairChannelOptions extends PairChannelOptions {
  /** What alice's claim pays bob (base units). */
  paid: bigint;
}

/**
 * Alice's channel with bob, paid `paid` by her claim and closed on chain by bob with it: bob's
 * (the town's) record, `closed`, with the settle time the chain set (the timeout not passed).
 *
 * It opens and closes a channel on anvil, so it has no example here:
 * tests/interop/anvil_channel_settle_race_test.ts starts from it.
 */
export async function closedPairChannel(
  pair: ChannelPair,
  options: ClosedPairChannelOptions,
): Promise<ChannelRecord> {
  const channel = await openPairChannel(pair, options);
  const claim = await aliceClaimSigner(pair, channel.channelId, options.deposit).pay(options.paid);
  await pair.bob.closeChannel(channel.channelId, {
    nonce: claim.nonce,
    transferredAmount: claim.transferredAmount,
    signature: claim.signature,
  });
  const closed = await pair.bob.getChannel(channel.channelId);
  return {
    ...channel.townRecord,
    openTx: channel.openTx,
    received: claim.transferredAmount,
    receivedNonce: claim.nonce,
    receivedSignature: claim.signature,
    status: "closed",
    settleAt: closed.settleAt,
  };
}
