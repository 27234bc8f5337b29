/**
 * Test helper: a town that settles with one BTP peer ("alice") over a real payment channel on
 * anvil, and a client that pays it with claims. Channel files and audit trails live in the
 * state dirs given (one per side).
 *
 * @module
 */
import { localNodeSigner } from "../identity/local_node_signer.ts";
import { localEvmAccount } from "../identity/local_evm_account.ts";
import { finalizeEvent, generateSecretKey } from "nostr-tools";
import type { ClaimSigner } from "../chain/claim_signer.ts";
import { resumeClaimSigner } from "../roles/channels/channel_sender.ts";
import { newChannelRecord } from "../roles/channels/channel_record_builder.ts";
import type { TokenNetworkClient } from "../chain/token_network_client.ts";
import type { NostrEvent } from "../protocol/nostr_event.ts";
import type { IlpPrepare, IlpReply } from "../protocol/ilp_packet.ts";
import type { SpspResponse } from "../protocol/spsp_message.ts";
import { type AuditLog, openAuditLog } from "../state/audit/audit_log.ts";
import type { ChannelRecord } from "../state/channels/channel_file.ts";
import { openSentClaimWriter, type SentClaimWriter } from "../state/channels/channel_writer.ts";
import { type ChannelClaimGate, openChannelClaimGate } from "../roles/channels/btp_claim_gate.ts";
import { buildPaidWrite, requestSpspOverIlp } from "../roles/town_client/spsp_handshake.ts";
import { startTownNode, type TownNode } from "../roles/town/town_node.ts";
import type { TownSettings } from "../config/town_settings.ts";
import type { TownSettlement } from "../config/town_settlement.ts";
import { createChannelCosignDesk } from "../roles/town/channels/channel_cosign_desk.ts";
import { BtpClient } from "../transport/btp_client.ts";

/** Options for {@linkcode channelRecord}. */
export interface ChannelRecordOptions {
  /** This side's chain client: the record's chain, contract, token and own address. */
  self: TokenNetworkClient;
  peer: TokenNetworkClient;
  channelId: `0x${string}`;
  deposit: bigint;
  peerDeposit?: bigint;
  /** Default 600 s. */
  settleTimeout?: bigint;
}

/**
 * A fresh channel record as `channel open` writes it, from one side's point of view.
 *
 * It reads a pair on anvil, so it has no example here:
 * tests/interop/anvil_channel_cooperative_close_test.ts makes both sides' records with it.
 */
export function channelRecord(options: ChannelRecordOptions): ChannelRecord {
  return {
    ...newChannelRecord(options.self, {
      channelId: options.channelId,
      peerAddress: options.peer.address,
      settleTimeout: options.settleTimeout ?? 600n,
      deposit: options.deposit,
    }),
    peerDeposit: options.peerDeposit ?? 0n,
  };
}

/** Where a claim client finds a town: its BTP URL, ILP address and Nostr key. */
export interface ClaimTownContact {
  url: string;
  townAddress: string;
  townPubkey: string;
  /** Its NIP-01 URL, when the town process printed it (harness/channel_crash_processes.ts). */
  relayUrl?: string;
}

/**
 * The contact of a running town, to spread into {@linkcode connectClaimClient}'s options.
 *
 * It needs a town holding a channel on anvil, so it has no example here:
 * tests/interop/anvil_channel_recover_test.ts connects with it.
 */
export function claimTownContact(
  town: Pick<TownNode, "btpPort" | "ilpAddress" | "pubkey">,
): ClaimTownContact {
  return {
    url: `btp+ws://127.0.0.1:${town.btpPort}`,
    townAddress: town.ilpAddress,
    townPubkey: town.pubkey,
  };
}

/** Options for {@linkcode claimTownConfig}. */
export interface ClaimTownConfigOptions {
  stateDir: string;
  /** Default 0 (a free port). */
  btpPort?: number;
  /** Announce a kind 10032 at start (its BTP URL, these chains). Default: none announced. */
  settlement?: TownSettlement;
  /** Peers besides alice (e.g. a provider to pay through the town). Default none. */
  extraPeers?: { account: string; token: string }[];
}

/**
 * The config of a town at `test.town` with one peer, "alice" (token "alice-token"), and
 * `extraPeers`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { claimTownConfig } from "./channel_town.ts";
 *
 * const config = claimTownConfig({ stateDir: "/nonexistent/town" });
 * assert.deepEqual([config.httpPort, config.btpPort, config.ilpAddress], [0, 0, "test.town"]);
 * ```
 */
export function claimTownConfig(options: ClaimTownConfigOptions): TownSettings {
  return {
    host: "127.0.0.1",
    httpPort: 0,
    btpPort: options.btpPort ?? 0,
    stateDir: options.stateDir,
    network: "local",
    ilpAddress: "test.town",
    peers: [{ account: "alice", token: "alice-token" }, ...options.extraPeers ?? []],
    acceptAnyToken: false,
    pricing: { pricePerByte: 10n },
    maxEventBytes: 1024 * 1024,
    assetCode: "USD",
    assetScale: 6,
    ...(options.settlement ? { settlement: options.settlement } : {}),
  };
}

/** Options for {@linkcode startClaimTown}. */
export interface ClaimTownOptions {
  stateDir: string;
  /** The town's identity (Nostr and EVM): bob's key. */
  secretKey: Uint8Array;
  /** Bob's chain client (reads the channel). */
  bob: TokenNetworkClient;
  record: ChannelRecord;
  creditLimit?: bigint;
  databasePath?: string;
  /** false: alice's packets are not checked for claims (the comparison without). Default true. */
  settle?: boolean;
  /** BTP port; default 0 (a free one). */
  btpPort?: number;
  /** Announce a kind 10032 at start (see {@linkcode claimTownConfig}). */
  settlement?: TownSettlement;
  /** Peers besides alice, with no claim gate (see {@linkcode claimTownConfig}). */
  extraPeers?: { account: string; token: string }[];
}

/** A town with alice's claim gate. */
export interface ClaimTown extends AsyncDisposable {
  town: TownNode;
  gate: ChannelClaimGate;
  audit: AuditLog;
  stop(): Promise<void>;
}

/**
 * Starts a town whose peer "alice" (token "alice-token") settles over the channel of `record`.
 *
 * It needs a pair on anvil, so it has no example here: tests/interop/anvil_channel_recover_test.ts
 * and tests/interop/anvil_btp_claim_rejection_test.ts start their town with it.
 */
export async function startClaimTown(options: ClaimTownOptions): Promise<ClaimTown> {
  const audit = await openAuditLog({ dir: options.stateDir });
  const gate = openChannelClaimGate({
    stateDir: options.stateDir,
    record: options.record,
    audit,
    readChannel: (id) => options.bob.getChannel(id),
    creditLimit: options.creditLimit,
    triggeredBy: () => "test.town",
  });
  const desk = createChannelCosignDesk({
    gate,
    signer: localNodeSigner(options.secretKey),
    readChannel: (id) => options.bob.getChannel(id),
    chainTime: () => options.bob.chainTime(),
  });
  let town: TownNode;
  try {
    town = await startTownNode({
      config: claimTownConfig({
        stateDir: options.stateDir,
        btpPort: options.btpPort,
        settlement: options.settlement,
        extraPeers: options.extraPeers,
      }),
      secretKey: options.secretKey,
      databasePath: options.databasePath ?? ":memory:",
      claimGate: (account) => account === "alice" && options.settle !== false ? gate : undefined,
      cosignDesk: (account) => account === "alice" ? desk : undefined,
    });
  } catch (err) {
    await audit.close();
    throw err;
  }
  let stopped: Promise<void> | undefined;
  const stop = () =>
    stopped ??= (async () => {
      await town.stop();
      await gate.writer.durable().catch(() => {});
      await audit.close();
    })();
  return { town, gate, audit, stop, [Symbol.asyncDispose]: stop };
}

/** Options for {@linkcode connectClaimClient}. */
export interface ClaimClientOptions {
  url: string;
  townAddress: string;
  townPubkey: string;
  stateDir: string;
  /** Alice's key (signs claims). */
  secretKey: Uint8Array;
  record: ChannelRecord;
  prepay?: bigint;
  pricePerByte?: bigint;
  /** false: pay without claims (the comparison without). Default true. */
  claims?: boolean;
  /** Reconnect after the town drops (fast backoff). Default false. */
  reconnect?: boolean;
  /** How long a packet waits for its answer (see `BtpClientOptions`). Default 35 s. */
  responseTimeoutMs?: number;
  /**
   * Another client's signer and claim file: both connections then sign one sequence of claims
   * (a payer reaching two processes of one town). Default: a signer of its own.
   */
  shareClaimsOf?: Pick<ClaimClient, "signer" | "sent">;
}

/** A client paying the town with claims. */
export interface ClaimClient extends AsyncDisposable {
  client: BtpClient;
  signer: ClaimSigner;
  sent: SentClaimWriter;
  audit: AuditLog;
  grant: SpspResponse;
  sign(content: string): NostrEvent;
  write(event: NostrEvent): Promise<{ reply: IlpReply; amount: bigint }>;
  close(): Promise<void>;
}

/**
 * Connects alice with claims, runs IL-DCP and SPSP.
 *
 * It needs a town holding a channel on anvil, so it has no example here:
 * tests/interop/anvil_town_payout_test.ts pays with it.
 */
export async function connectClaimClient(options: ClaimClientOptions): Promise<ClaimClient> {
  const { record } = options;
  const audit = await openAuditLog({ dir: options.stateDir });
  const signer = options.shareClaimsOf?.signer ??
    resumeClaimSigner(record, localEvmAccount(options.secretKey));
  const sent = options.shareClaimsOf?.sent ??
    openSentClaimWriter({ stateDir: options.stateDir, record, audit });
  const client = new BtpClient({
    url: options.url,
    authToken: "alice-token",
    reconnect: options.reconnect ?? false,
    reconnectInitialDelayMs: 50,
    reconnectMaxDelayMs: 200,
    responseTimeoutMs: options.responseTimeoutMs,
    claims: options.claims === false
      ? undefined
      : { signer, persist: (claim) => sent.save(claim), prepay: options.prepay },
  });
  try {
    await client.connect();
    await client.fetchIldcp();
  } catch (err) {
    await client.close();
    await audit.close();
    throw err;
  }
  const nostrKey = generateSecretKey();
  const grant = await requestSpspOverIlp({
    sender: client,
    townAddress: options.townAddress,
    townPubkey: options.townPubkey,
    signer: localNodeSigner(nostrKey),
  });
  let closed: Promise<void> | undefined;
  const close = () =>
    closed ??= (async () => {
      await client.close();
      await audit.close();
    })();
  return {
    client,
    signer,
    sent,
    audit,
    grant,
    sign: (content) =>
      finalizeEvent({
        kind: 1,
        created_at: Math.floor(Date.now() / 1000),
        tags: [],
        content,
      }, nostrKey) as NostrEvent,
    write: async (event) => {
      const { prepare } = await buildPaidWrite({
        event,
        grant,
        pricePerByte: options.pricePerByte ?? 10n,
      });
      return { reply: await client.sendPrepare(prepare), amount: BigInt(prepare.amount) };
    },
    close,
    [Symbol.asyncDispose]: close,
  };
}

/**
 * A payment of `amount` to `destination` that nobody can fulfil (its condition is random): sent
 * to an account the town has no route to, it is refused (F02) after its claim was taken.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { unfulfillablePayment } from "./channel_town.ts";
 *
 * const prepare = unfulfillablePayment("test.town.nobody", 20_000n);
 * assert.deepEqual([prepare.amount, prepare.destination], ["20000", "test.town.nobody"]);
 * ```
 */
export function unfulfillablePayment(destination: string, amount: bigint): IlpPrepare {
  return {
    amount: String(amount),
    destination,
    executionCondition: crypto.getRandomValues(new Uint8Array(32)),
    expiresAt: new Date(Date.now() + 30_000),
    data: new Uint8Array(0),
  };
}
