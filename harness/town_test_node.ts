/**
 * Starts an in-process town for tests: in-memory SQLite (or a given file), ephemeral ports on
 * 127.0.0.1, a fresh identity, peer accounts as given. Also a paying client: a BtpClient that
 * did the SPSP handshake with the town and can sign and pay for events.
 *
 * @module
 */
import { isDuplicateWrite } from "../protocol/duplicate_write_reply.ts";
import { localNodeSigner } from "../identity/local_node_signer.ts";
import { finalizeEvent, generateSecretKey, getPublicKey } from "nostr-tools";
import type { EventTemplate, NostrEvent } from "../protocol/nostr_event.ts";
import type { SpspResponse } from "../protocol/spsp_message.ts";
import { BtpClient } from "../transport/btp_client.ts";
import type { BtpPeerAccountConfig } from "../config/town_peers.ts";
import { buildPaidWrite, requestSpspOverIlp } from "../roles/town_client/spsp_handshake.ts";
import type { TownSettings } from "../config/town_settings.ts";
import { startTownNode, type TownNode, type TownNodeOptions } from "../roles/town/town_node.ts";
import type { IlpReply } from "../protocol/ilp_packet.ts";

/** Options for {@linkcode startTestTown}. */
export interface TestTownOptions extends Partial<TownSettings> {
  peers?: BtpPeerAccountConfig[];
  databasePath?: string;
  secretKey?: Uint8Array;
  groupCommit?: boolean;
  verifierWorkers?: number;
  /** Claim gates of the peers that settle over a channel (`startTownNode`'s). */
  claimGate?: TownNodeOptions["claimGate"];
  /** Their co-sign desks (cooperative close). */
  cosignDesk?: TownNodeOptions["cosignDesk"];
  /** Told each peer's balance after a FULFILL on the books (the town's payouts). */
  onOwed?: TownNodeOptions["onOwed"];
  /** Told when a peer connects (the payouts send it their newest claim again). */
  onPeerConnected?: TownNodeOptions["onPeerConnected"];
}

/**
 * Starts a town on ephemeral ports.
 *
 * @example A paying client writes a note to it (connectPayingClient)
 * ```ts
 * import assert from "node:assert/strict";
 * import { generateSecretKey, getPublicKey } from "nostr-tools";
 * import { connectPayingClient, startTestTown } from "./town_test_node.ts";
 *
 * const secretKey = generateSecretKey();
 * const town = await startTestTown({ peers: [{ account: "alice", token: "a" }], secretKey });
 * const alice = await connectPayingClient({
 *   url: `btp+ws://127.0.0.1:${town.btpPort}`,
 *   token: "a",
 *   townAddress: town.ilpAddress,
 *   townPubkey: getPublicKey(secretKey),
 * });
 * const reply = await alice.write(alice.sign({ content: "hi" }));
 * assert.equal(reply.type, "fulfill");
 * await alice.close();
 * await town.stop();
 * ```
 */
export async function startTestTown(options: TestTownOptions = {}): Promise<TownNode> {
  const {
    databasePath,
    secretKey,
    groupCommit,
    verifierWorkers,
    claimGate,
    cosignDesk,
    onOwed,
    onPeerConnected,
    ...overrides
  } = options;
  // The blob store lives in the state dir: a temp one unless the test names its own.
  const ownStateDir = overrides.stateDir === undefined
    ? await Deno.makeTempDir({ prefix: "turnpike-test-town-" })
    : undefined;
  const config: TownSettings = {
    host: "127.0.0.1",
    httpPort: 0,
    btpPort: 0,
    stateDir: ownStateDir ?? overrides.stateDir!,
    network: "local",
    ilpAddress: "test.town",
    peers: [],
    acceptAnyToken: false,
    pricing: { pricePerByte: 10n },
    maxEventBytes: 1024 * 1024,
    assetCode: "USD",
    assetScale: 6,
    ...overrides,
  };
  const town = await startTownNode({
    config,
    secretKey: secretKey ?? generateSecretKey(),
    databasePath: databasePath ?? ":memory:",
    groupCommit,
    verifierWorkers,
    claimGate,
    cosignDesk,
    onOwed,
    onPeerConnected,
  }).catch(async (err) => {
    if (ownStateDir !== undefined) await Deno.remove(ownStateDir, { recursive: true });
    throw err;
  });
  if (ownStateDir === undefined) return town;
  const stop = town.stop;
  return {
    ...town,
    stop: async () => {
      await stop();
      await Deno.remove(ownStateDir, { recursive: true }).catch(() => {});
    },
  };
}

/** A client that pays a town for events. */
export interface PayingClient {
  client: BtpClient;
  secretKey: Uint8Array;
  pubkey: string;
  grant: SpspResponse;
  /** Signs a note (or the template given). */
  sign(template?: Partial<EventTemplate>): NostrEvent;
  /** Pays for and sends one event; resolves with the reply. */
  write(event: NostrEvent, options?: { amount?: bigint; expiryMs?: number }): Promise<IlpReply>;
  /**
   * True when `reply` to a write of `event` is the town's `duplicate` REJECT with a proof that
   * checks (the event is stored, nothing was paid; protocol/duplicate_write_reply.ts).
   */
  isDuplicate(event: NostrEvent, reply: IlpReply): Promise<boolean>;
  close(): Promise<void>;
}

/** Options for {@linkcode connectPayingClient}. */
export interface PayingClientOptions {
  /** BTP URL of the town or of a connector in front of it. */
  url: string;
  token: string;
  townAddress: string;
  townPubkey: string;
  pricePerByte?: bigint;
}

/**
 * Connects, runs IL-DCP and the SPSP handshake.
 *
 * The example of {@linkcode startTestTown} pays a town with one.
 */
export async function connectPayingClient(options: PayingClientOptions): Promise<PayingClient> {
  const client = new BtpClient({ url: options.url, authToken: options.token, reconnect: false });
  await client.connect();
  await client.fetchIldcp();
  const secretKey = generateSecretKey();
  const grant = await requestSpspOverIlp({
    sender: client,
    townAddress: options.townAddress,
    townPubkey: options.townPubkey,
    signer: localNodeSigner(secretKey),
  });
  let n = 0;
  return {
    client,
    secretKey,
    pubkey: getPublicKey(secretKey),
    grant,
    sign: (template = {}) =>
      finalizeEvent({
        kind: 1,
        created_at: Math.floor(Date.now() / 1000),
        tags: [],
        content: `note ${++n} ${crypto.randomUUID()}`,
        ...template,
      }, secretKey) as NostrEvent,
    write: async (event, writeOptions = {}) => {
      const { prepare } = await buildPaidWrite({
        event,
        grant,
        pricePerByte: options.pricePerByte ?? 10n,
        amount: writeOptions.amount,
        expiryMs: writeOptions.expiryMs,
      });
      return await client.sendPrepare(prepare);
    },
    isDuplicate: async (event, reply) => {
      const { fulfillment } = await buildPaidWrite({
        event,
        grant,
        pricePerByte: options.pricePerByte ?? 10n,
      });
      return isDuplicateWrite(reply, { eventId: event.id, fulfillment });
    },
    close: () => client.close(),
  };
}
