/**
 * The channel a payer uses when it runs its channels by itself (`[channels] auto = true`): the
 * newest open channel file with the town, else a new one. A new one is negotiated from the
 * town's kind 10032 (roles/channels/channel_peer_resolver.ts: the first chain in common, the town's
 * contracts), funded with the configured deposit or what the wallet holds if that is less,
 * written to `channels/<id>.toml` (audit `payment channel <id> opened`, `Auto: yes`) and to the
 * channel log, and announced on stderr. Later commands find it by its file: no `--channel`.
 *
 * @module
 */
import { RoleError } from "../role_error.ts";
import { sleep } from "../../protocol/backoff.ts";
import type { NodeSigner } from "../../protocol/node_signer.ts";
import { type ChainConfig, networkLabel, resolveChainConfig } from "../../config/chain_config.ts";
import { connectChain } from "../../chain/chain_connection.ts";
import { TokenNetworkClient } from "../../chain/token_network_client.ts";
import { formatTokens } from "../../chain/token_amount.ts";
import { type ChannelPolicy, channelPolicyAmounts } from "../../config/channel_policy.ts";
import { type ChannelOpenSettings, channelOpenSettings } from "../../config/channel_settings.ts";
import type { AuditLog } from "../../state/audit/audit_log.ts";
import { type ChannelRecord, listChannels } from "../../state/channels/channel_file.ts";
import { lockProcessFile, type ProcessLock, ProcessLockedError } from "../../state/process_lock.ts";
import { existingChannelWith, openRecordedChannel } from "./channel_open.ts";
import { ChannelPeerError, resolveChannelPeer } from "./channel_peer_resolver.ts";
import { evmAddressesOfNostrPubkey } from "./channel_sender.ts";

/** Options for {@linkcode ensureAutoChannel}. */
export interface AutoChannelOptions {
  stateDir: string;
  /** Signs the transactions; the channel's own side. */
  signer: NodeSigner;
  /** The town's Nostr pubkey: the channel's peer is its EVM address. */
  townPubkey: string;
  /** The town's NIP-01 URL: its kind 10032 names its chains and contracts. */
  relayUrl: string;
  policy: ChannelPolicy;
  /** config.toml `[channels]` (chains, prefer, settle_timeout). */
  channels?: ChannelOpenSettings;
  /** config.toml `[chains]` (RPC URLs, contracts). */
  chains?: Record<string, unknown>;
  audit?: AuditLog;
  /** Told what was done (one line). */
  info?: (line: string) => void;
  /** Accept a mainnet chain (an explicit user flag only). */
  allowMainnet?: boolean;
}

/** What {@linkcode ensureAutoChannel} settled on. */
export interface AutoChannel {
  record: ChannelRecord;
  /** true when this call opened it. */
  opened: boolean;
  /** Milliseconds the opening took (negotiation and transactions), when opened. */
  openMs?: number;
}

/** No channel could be opened automatically; `suggestion` is the operator's next step. */
export class AutoChannelError extends RoleError {
  override name = "AutoChannelError";
  constructor(message: string, readonly suggestion: string, options?: ErrorOptions) {
    super(message, options);
  }
}

const DEFAULT_CHAINS = ["evm:base:31337"];

/**
 * The open channel with the town, opening one when there is none.
 *
 * It needs a chain and a town: no example that runs here:
 * tests/e2e/channel_auto_test.ts.
 * @throws {AutoChannelError} when none is open and none can be opened.
 */
export async function ensureAutoChannel(options: AutoChannelOptions): Promise<AutoChannel> {
  const known = await openChannelWithTown(options);
  if (known) return { record: known, opened: false };
  // Two commands starting together must not both open one (the contract allows one per pair).
  const lock = await holdOpeningLock(options.stateDir);
  try {
    const meanwhile = await openChannelWithTown(options);
    if (meanwhile) return { record: meanwhile, opened: false };
    const started = performance.now();
    const record = await openAutoChannel(options);
    return { record, opened: true, openMs: performance.now() - started };
  } finally {
    await lock.release();
  }
}

async function openChannelWithTown(
  options: AutoChannelOptions,
): Promise<ChannelRecord | undefined> {
  const town = evmAddressesOfNostrPubkey(options.townPubkey);
  return (await listChannels(options.stateDir)).filter((r) =>
    r.status === "open" && town.includes(r.peerAddress.toLowerCase() as `0x${string}`)
  ).at(-1);
}

/** Beside the channels' own locks (`channels/*.lock`, kept out of git). */
const OPENING_LOCK = "channels/auto-open.lock";
const OPENING_WAIT_MS = 100;
const OPENING_WAITS = 600;

async function holdOpeningLock(stateDir: string): Promise<ProcessLock> {
  await Deno.mkdir(`${stateDir}/channels`, { recursive: true, mode: 0o700 });
  for (let i = 0;; i++) {
    try {
      return await lockProcessFile(`${stateDir}/${OPENING_LOCK}`);
    } catch (err) {
      if (!(err instanceof ProcessLockedError) || i >= OPENING_WAITS) throw err;
      await sleep(OPENING_WAIT_MS);
    }
  }
}

async function openAutoChannel(options: AutoChannelOptions): Promise<ChannelRecord> {
  const started = performance.now();
  const channels = options.channels ?? channelOpenSettings({ sections: {} });
  const chainsTable = (options.chains ?? {}) as Record<string, Record<string, unknown>>;
  const text = (v: unknown) => typeof v === "string" ? v : undefined;
  const resolved = await resolveChannelPeer({
    mine: channels.chains ?? [...new Set([...Object.keys(chainsTable), ...DEFAULT_CHAINS])],
    prefer: channels.prefer,
    townUrl: options.relayUrl,
    local: (id) => ({
      tokenNetwork: text(chainsTable[id]?.token_network),
      token: text(chainsTable[id]?.token),
    }),
  }).catch((err) => {
    if (!(err instanceof ChannelPeerError)) throw err;
    throw new AutoChannelError(
      `no channel could be opened with the town automatically: ${err.message}`,
      err.suggestion ?? "open one with `turnpike channel open --town <url> --deposit <n>`",
      { cause: err },
    );
  });
  // Connected: the RPC's chain id checked, the token's decimals and symbol its contract's.
  const chain = await connectChain(chainOf(resolved.chain, chainsTable, {
    tokenNetwork: resolved.tokenNetwork,
    token: resolved.token,
    allowMainnet: options.allowMainnet,
  })).catch((err) => {
    if (err instanceof AutoChannelError) throw err;
    throw new AutoChannelError(
      `no channel could be opened with the town automatically: ${(err as Error).message}`,
      `fix [chains."${resolved.chain}"] rpc_url / token in config.toml`,
      { cause: err },
    );
  });
  const client = new TokenNetworkClient({ chain, account: options.signer.evm });
  const peer = resolved.peerAddress as `0x${string}`;
  if (
    !evmAddressesOfNostrPubkey(options.townPubkey).includes(peer.toLowerCase() as `0x${string}`)
  ) {
    throw new AutoChannelError(
      `the town's kind 10032 names ${peer} as its settlement address, not its own key's`,
      "open a channel by hand (`turnpike channel open --peer <address>`) if you trust it",
    );
  }
  const deposit = await depositWithin(client, options.policy);
  await refuseExisting(client, peer);
  const settleTimeout = BigInt(channels.settleTimeoutSeconds);
  const { record } = await openRecordedChannel({
    client,
    peer,
    deposit,
    settleTimeout,
    stateDir: options.stateDir,
    audit: options.audit,
    warnPercent: channels.warnPercent,
    auto: true,
  }).catch((err) => {
    throw new AutoChannelError(
      `no channel could be opened with the town automatically: ${(err as Error).message}`,
      `check the wallet's ${chain.tokenSymbol} and gas (\`turnpike wallet balance\`) and ` +
        `[chains."${chain.id}"] in config.toml`,
      { cause: err },
    );
  });
  options.info?.(
    `channel: opened ${record.channelId} with the town on ${networkLabel(chain)}, deposit ` +
      `${formatTokens(deposit, chain)} in ${Math.round(performance.now() - started)} ms ` +
      "(automatic: [channels] auto; later commands use it)",
  );
  return record;
}

function chainOf(
  id: string,
  chainsTable: Record<string, Record<string, unknown>>,
  o: { tokenNetwork?: string; token?: string; allowMainnet?: boolean },
): ChainConfig {
  try {
    return resolveChainConfig(id, {
      section: chainsTable[id],
      overrides: {
        ...(o.tokenNetwork ? { tokenNetworkAddress: o.tokenNetwork as `0x${string}` } : {}),
        ...(o.token ? { tokenAddress: o.token as `0x${string}` } : {}),
      },
      allowMainnet: o.allowMainnet,
    });
  } catch (err) {
    throw new AutoChannelError(
      `no channel could be opened with the town automatically: ${(err as Error).message}`,
      `set [chains."${id}"] rpc_url (and token_network) in config.toml, or \`turnpike chain deploy\``,
      { cause: err },
    );
  }
}

/** The configured deposit, or what the wallet holds when that is less (never above the max). */
async function depositWithin(client: TokenNetworkClient, policy: ChannelPolicy): Promise<bigint> {
  const amounts = channelPolicyAmounts(policy, client.chain.tokenDecimals);
  const wanted = amounts.deposit < amounts.maxDeposit ? amounts.deposit : amounts.maxDeposit;
  const held = await client.tokenBalance();
  const deposit = held < wanted ? held : wanted;
  if (deposit <= 0n) {
    throw new AutoChannelError(
      `the wallet ${client.address} holds no ${client.chain.tokenSymbol} to open a channel with`,
      `fund it (\`turnpike wallet show\` prints the address; on a local chain \`turnpike chain up --fund ${client.address}\`)`,
    );
  }
  return deposit;
}

/** The contract allows one channel per pair until it is settled: say which one is in the way. */
async function refuseExisting(client: TokenNetworkClient, peer: `0x${string}`): Promise<void> {
  const existing = await existingChannelWith(client, peer);
  if (existing === undefined) return;
  if (existing.onChain.state === "closed") {
    const at = new Date(Number(existing.onChain.settleAt) * 1000).toISOString();
    throw new AutoChannelError(
      `the channel with the town ${existing.channelId} is closed but not settled: a new one can be ` +
        `opened once it is (its settle timeout ends ${at})`,
      `after ${at}, settle it with \`turnpike channel close ${existing.channelId}\` (the town's watcher ` +
        "also settles it); the next paid command then opens a new one",
    );
  }
  throw new AutoChannelError(
    `a channel with the town already exists on chain (${existing.channelId}) but has no open file here`,
    "rebuild its file with `turnpike channel recover`, or close it with `turnpike channel close`",
  );
}
