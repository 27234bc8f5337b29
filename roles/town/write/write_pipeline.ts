/**
 * The town's paid write pipeline: what happens to a PREPARE addressed to the town. In order
 * (the order matters: a malformed event is refused before any payment is considered):
 *
 * 1. size limit (F08) -> 2. shallow TOON scan (F06) -> 3. full decode, `created_at` within the
 * town's window (F06, created_at_window.ts), id and signature (F06) -> 4. kind 23194 SPSP requests addressed (`p`) to the town branch off here (free; see
 * spsp_responder.ts; a 23194 for someone else is an ordinary paid, relayed event) -> 5. price
 * (F04, the message names the required amount) -> 6. condition: SHA-256 of the fulfillment
 * derived from the tag in the destination (spsp_secrets.ts) must equal the PREPARE's condition,
 * else F05 (also for a destination without a tag: the town cannot fulfil it) -> 7. group-committed
 * SQLite insert -> 8. live publish -> 9. FULFILL, only after the insert committed.
 *
 * A kind 10032 announcing an ILP address under the town's that is not the writer's own is refused
 * F06 `blocked:` after step 3 (peer_info_address.ts).
 *
 * A Blossom upload authorization (kind 24242) branches off after step 3: it pays for a blob
 * (blob_payment.ts) instead of being stored; its FULFILL data is JSON `{"sha256", "status":
 * "paid", "size"}`.
 *
 * FULFILL data is JSON `{"eventId", "status"}` (`stored`, `replaced`, `ephemeral`). An event the
 * store already holds (decided by the store's insert, so also between the processes of a town on
 * PostgreSQL) is an F99 REJECT `duplicate: already have this event`: no fee is taken twice for a
 * write sent again after its answer was lost; its data proves it came from the town
 * (protocol/duplicate_write_reply.ts).
 * Store refusals (deleted by its author, a newer replaceable version stored, NIP-40 expired) are
 * F06 with the reason. An unexpected failure is T00; nothing is ever fulfilled without a commit.
 *
 * @module
 */
import { ILP_ERROR } from "../../../protocol/ilp_packet.ts";
import { encodeEventToon } from "../../../protocol/toon_codec.ts";
import type { IlpPrepare, IlpReply } from "../../../protocol/ilp_packet.ts";
import { PEER_PROTOCOL_FULFILLMENT } from "../../../protocol/ildcp.ts";
import type { NostrEvent } from "../../../protocol/nostr_event.ts";
import type { RelayPricing } from "../../../protocol/relay_pricing.ts";
import type {
  EventStore,
  InsertItem,
  InsertResult,
  InsertStatus,
} from "../../../state/events/event_store.ts";
import { asTownStore, sqliteEventsOf, type TownStore } from "../../../state/events/town_store.ts";
import type { SubscriptionHub } from "../relay/subscription_hub.ts";
import type { SpspResponder } from "../spsp/spsp_responder.ts";
import { conditionMatches, type SpspSecrets, type WriteDestination } from "../spsp/spsp_secrets.ts";
import {
  checkEventSize,
  checkPayment,
  checkSignature,
  decodeEvent,
  shallowParse,
} from "./write_checks.ts";
import { DEFAULT_MAX_EVENT_BYTES } from "../../../config/town_settings.ts";
import { GroupCommitter } from "./write_group_commit.ts";
import { BLOB_AUTH_KIND } from "../../../protocol/blob_authorization.ts";
import type { TownBlobStore } from "../../../state/blobs/town_blob_store.ts";
import { checkBlobPayment, recordBlobPayment } from "../blobs/blob_payment.ts";
import { TownWriteRejection } from "./write_rejection.ts";
import {
  checkCreatedAt,
  CreatedAtOutOfWindowError,
  type CreatedAtWindow,
} from "./created_at_window.ts";
import { WriteVerifierPool } from "./write_verifier_pool.ts";
import { checkPeerInfoAddress } from "./peer_info_address.ts";
import {
  DUPLICATE_WRITE_CODE,
  DUPLICATE_WRITE_MESSAGE,
  duplicateWriteData,
} from "../../../protocol/duplicate_write_reply.ts";

/** Options for {@linkcode createWritePipeline}. */
export interface WritePipelineOptions {
  /** SQLite (`EventStore`, or a town store over one) or a shared PostgreSQL store. */
  store: EventStore | TownStore;
  hub: SubscriptionHub;
  secrets: SpspSecrets;
  responder: SpspResponder;
  pricing: RelayPricing;
  /** The town's current ILP address (REJECT `triggeredBy`). */
  townAddress: () => string;
  /** Default 1 MiB. */
  maxEventBytes?: number;
  /**
   * Batch concurrent inserts into one transaction (default true). False commits each event in
   * its own transaction: the obvious alternative, kept for the benchmark's comparison.
   */
  groupCommit?: boolean;
  /**
   * The store's SQLite file: group commits then run in a worker on their own connection to it,
   * off the main thread (see write_group_commit.ts). Absent or `:memory:`: inline.
   */
  databasePath?: string;
  /** Signature-verifying workers (0: verify inline). Default: see WriteVerifierPool. */
  verifierWorkers?: number;
  /** The blob store paid uploads go to; without it blob payments are refused (F06). */
  blobs?: TownBlobStore;
  /** Base units per MiB of blob (protocol/blob_pricing.ts). */
  blobPricePerMiB?: bigint;
  /**
   * Events outside it are refused (F06). Absent: no window (the town node always passes its
   * limits; the pipeline alone is also used on archived events).
   */
  createdAtWindow?: CreatedAtWindow;
}

/** Outcome counts, for metrics and benchmarks. */
export interface WriteCounters {
  fulfilled: number;
  /** By ILP code. */
  rejected: Record<string, number>;
  spspAnswered: number;
  /** SPSP requests refused T05 (pubkey, account or total limit). */
  spspRateLimited: number;
  /** Blob uploads paid for. */
  blobPayments: number;
  /** Writes of an event already stored: rejected F99 `duplicate`, no fee taken. */
  duplicates: number;
  /** Messages to the signature-verifying workers (each a batch of events). */
  readonly verifierBatches: number;
  /** Events verified on the main thread (a lone write with the workers idle, or no workers). */
  readonly verifiedInline: number;
  /** Events whose signature libsecp256k1 checked on Deno's thread pool (others under way). */
  readonly verifiedOffThread: number;
  /** Transactions committed on the main thread (a lone write with the commit worker idle). */
  readonly commitsInline: number;
}

/** What a FULFILL of the pipeline paid for: the event written, or the blob's sha256. */
export interface PaidFor {
  eventId?: string;
  sha256?: string;
}

/**
 * The pipeline's answer: a FULFILL of a paid write or blob also carries what it paid for (the
 * JSON of its data, kept as it was built: the router's income line needs it, and parsing the data
 * back cost a decode a write).
 */
export type WriteReply = IlpReply & { paidFor?: PaidFor };

/** The pipeline. */
export interface WritePipeline {
  /**
   * Answers a PREPARE addressed to the town (never throws); `from` is the BTP account it came
   * from (SPSP requests are rate-limited per account).
   */
  handle(prepare: IlpPrepare, destination: WriteDestination, from?: string): Promise<WriteReply>;
  counters: WriteCounters;
  /** Its `close()` waits for queued commits (call before closing the store). */
  committer: WriteCommitter;
  /** Stops the verifier workers (the store stays open). */
  close(): void;
}

const encoder = new TextEncoder();

const STORE_REFUSALS: Partial<Record<InsertStatus, string>> = {
  "rejected-deleted": "invalid event: deleted by its author (NIP-09)",
  "rejected-stale": "invalid event: a newer version of this replaceable event is stored",
  "rejected-expired": "invalid event: expired (NIP-40)",
};

/** What commits the paid writes: the SQLite group committer, or a shared store itself. */
export interface WriteCommitter {
  /** Resolves once the transaction holding the insert has committed. */
  insert(item: InsertItem): Promise<InsertResult>;
  /** Waits for queued inserts. */
  close(): Promise<void>;
  /** Transactions committed so far. */
  readonly batches: number;
  /** Of those, committed on the main thread. */
  readonly inlineBatches: number;
}

function storeCommitter(store: TownStore): WriteCommitter {
  let batches = 0;
  return {
    insert: async (item) => {
      const result = await store.insert(item.event, item.toon);
      batches++;
      return result;
    },
    close: () => Promise.resolve(),
    get batches() {
      return (store as { batches?: number }).batches ?? batches;
    },
    inlineBatches: 0,
  };
}

/**
 * Builds the write pipeline.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { finalizeEvent, generateSecretKey } from "nostr-tools/pure";
 * import { createWritePipeline } from "./write_pipeline.ts";
 * import { SubscriptionHub } from "../relay/subscription_hub.ts";
 * import { deriveSpspSeed, parseWriteDestination, SpspSecrets } from "../spsp/spsp_secrets.ts";
 * import { SpspResponder } from "../spsp/spsp_responder.ts";
 * import { openEventStore } from "../../../state/events/event_store.ts";
 * import { localNodeSigner } from "../../../identity/local_node_signer.ts";
 * import { buildPaidWrite } from "../../town_client/spsp_handshake.ts";
 *
 * using town = localNodeSigner(generateSecretKey());
 * const secrets = new SpspSecrets({ seed: await deriveSpspSeed(town) });
 * const store = openEventStore({ path: ":memory:" });
 * const pipeline = createWritePipeline({
 *   store,
 *   hub: new SubscriptionHub(),
 *   secrets,
 *   responder: new SpspResponder({ signer: town, secrets, townAddress: () => "g.town" }),
 *   pricing: { pricePerByte: 10n },
 *   townAddress: () => "g.town",
 * });
 * // A payer's paid write of a note, under a grant of this town's secrets.
 * const event = finalizeEvent(
 *   { kind: 1, created_at: Math.floor(Date.now() / 1000), tags: [], content: "hi" },
 *   generateSecretKey(),
 * );
 * const { prepare } = await buildPaidWrite({ event, grant: secrets.grant("g.town"), pricePerByte: 10n });
 * const destination = parseWriteDestination(prepare.destination, "g.town");
 * assert(destination);
 * const reply = await pipeline.handle(prepare, destination);
 * assert.equal(reply.type, "fulfill");
 * assert.equal(store.count([{ ids: [event.id] }]), 1);
 * pipeline.close();
 * store.close();
 * ```
 */
export function createWritePipeline(options: WritePipelineOptions): WritePipeline {
  const maxBytes = options.maxEventBytes ?? DEFAULT_MAX_EVENT_BYTES;
  const window = options.createdAtWindow;
  const store = asTownStore(options.store);
  const sqlite = sqliteEventsOf(options.store);
  // SQLite: the group committer (a worker on its own connection). PostgreSQL batches concurrent
  // inserts into one transaction itself (state/postgres/postgres_event_store.ts).
  // Paid writes being handled now: with others under way a write's signature is checked on the
  // thread pool and its commit goes to the commit worker, off this thread (docs/SCALE.md "Paid
  // writes per town"); a lone write keeps both here, where its answer comes soonest.
  let underWay = 0;
  const concurrent = () => underWay > 1;
  const committer: WriteCommitter = sqlite
    ? new GroupCommitter({
      store: sqlite,
      databasePath: options.groupCommit === false ? undefined : options.databasePath,
      busy: concurrent,
    })
    : storeCommitter(store);
  const verifier = new WriteVerifierPool({ workers: options.verifierWorkers });
  const counters: WriteCounters = {
    fulfilled: 0,
    rejected: {},
    spspAnswered: 0,
    spspRateLimited: 0,
    blobPayments: 0,
    duplicates: 0,
    get verifierBatches() {
      return verifier.batches;
    },
    get verifiedInline() {
      return verifier.verifiedInline;
    },
    get verifiedOffThread() {
      return verifier.verifiedOffThread;
    },
    get commitsInline() {
      return committer.inlineBatches;
    },
  };

  const reject = (err: TownWriteRejection): WriteReply => {
    counters.rejected[err.code] = (counters.rejected[err.code] ?? 0) + 1;
    return {
      type: "reject",
      code: err.code,
      triggeredBy: options.townAddress(),
      message: err.message.slice(0, 1000),
      data: err.data,
    };
  };
  const fulfill = (fulfillment: Uint8Array, data: Uint8Array, paidFor?: PaidFor): WriteReply => {
    counters.fulfilled++;
    return { type: "fulfill", fulfillment, data, paidFor };
  };

  const answerSpsp = async (
    prepare: IlpPrepare,
    destination: WriteDestination,
    request: NostrEvent,
    from: string | undefined,
  ): Promise<IlpReply> => {
    const response = await options.responder.respond(request, { account: from }).catch((err) => {
      if (err instanceof TownWriteRejection && err.code === ILP_ERROR.rateLimited) {
        counters.spspRateLimited++;
      }
      throw err;
    });
    const toon = encodeEventToon(response);
    const data = encoder.encode(toon);
    counters.spspAnswered++;
    options.hub.publish(response, toon);
    if (conditionMatches(PEER_PROTOCOL_FULFILLMENT, prepare.executionCondition)) {
      return fulfill(PEER_PROTOCOL_FULFILLMENT, data);
    }
    if (destination.kind === "relay") {
      const fulfillment = options.secrets.fulfillment(destination.tag, prepare.data);
      if (conditionMatches(fulfillment, prepare.executionCondition)) {
        return fulfill(fulfillment, data);
      }
    }
    // The sender's condition is not one the town can fulfil: answer in the REJECT, as STREAM
    // does, so the handshake still completes.
    throw new TownWriteRejection(ILP_ERROR.finalApplicationError, "SPSP response in data", data);
  };

  /** The fulfillment of a paid write, when its condition is one the town can fulfil (F05). */
  const checkCondition = (prepare: IlpPrepare, destination: WriteDestination): Uint8Array => {
    if (destination.kind !== "relay") {
      throw new TownWriteRejection(
        ILP_ERROR.wrongCondition,
        `wrong condition: paid writes go to ${options.townAddress()}.relay.<tag> from SPSP`,
      );
    }
    const fulfillment = options.secrets.fulfillment(destination.tag, prepare.data);
    if (!conditionMatches(fulfillment, prepare.executionCondition)) {
      throw new TownWriteRejection(
        ILP_ERROR.wrongCondition,
        "wrong condition: not derived from the shared secret of this destination",
      );
    }
    return fulfillment;
  };

  const payForBlob = async (
    prepare: IlpPrepare,
    destination: WriteDestination,
    event: NostrEvent,
  ): Promise<IlpReply> => {
    if (options.blobs === undefined) {
      throw new TownWriteRejection(
        ILP_ERROR.unexpectedPayment,
        "invalid event: this town stores no blobs",
      );
    }
    const paid = await checkBlobPayment(event, {
      blobs: options.blobs,
      pricePerMiB: options.blobPricePerMiB ?? 0n,
      amount: BigInt(prepare.amount),
    });
    const fulfillment = checkCondition(prepare, destination);
    await recordBlobPayment(paid, event.pubkey, BigInt(prepare.amount), options.blobs);
    counters.blobPayments++;
    return fulfill(
      fulfillment,
      encoder.encode(JSON.stringify({ sha256: paid.sha256, status: "paid", size: paid.size })),
      { sha256: paid.sha256 },
    );
  };

  const checkWindow = (event: NostrEvent): void => {
    if (window === undefined) return;
    try {
      checkCreatedAt(event.created_at, window);
    } catch (err) {
      if (err instanceof CreatedAtOutOfWindowError) {
        throw new TownWriteRejection(ILP_ERROR.unexpectedPayment, `invalid event: ${err.message}`);
      }
      throw err;
    }
  };

  const write = async (prepare: IlpPrepare, destination: WriteDestination, from?: string) => {
    checkEventSize(prepare.data, maxBytes);
    const shallow = shallowParse(prepare.data, maxBytes);
    const event = decodeEvent(shallow, maxBytes);
    checkWindow(event);
    await checkSignature(event, verifier, { concurrent: concurrent() });
    if (options.responder.isForTown(event)) {
      return await answerSpsp(prepare, destination, event, from);
    }
    if (event.kind === BLOB_AUTH_KIND) return await payForBlob(prepare, destination, event);
    checkPeerInfoAddress(event, { townAddress: options.townAddress(), from });
    checkPayment(shallow.summary, {
      amount: prepare.amount,
      toonByteLength: prepare.data.byteLength,
      pricing: options.pricing,
    });
    const fulfillment = checkCondition(prepare, destination);
    // The client's TOON is not kept: the store encodes the event its own way, which every
    // reader on the network decodes, and that is also what goes out live.
    const result = options.groupCommit === false
      ? await store.insert(event)
      : await committer.insert({ event });
    const refusal = STORE_REFUSALS[result.status];
    if (refusal) throw new TownWriteRejection(ILP_ERROR.unexpectedPayment, refusal);
    if (result.status === "duplicate") {
      counters.duplicates++;
      throw new TownWriteRejection(
        DUPLICATE_WRITE_CODE,
        DUPLICATE_WRITE_MESSAGE,
        duplicateWriteData({ eventId: event.id, fulfillment }),
      );
    }
    options.hub.publish(event, result.toon);
    return fulfill(
      fulfillment,
      encoder.encode(JSON.stringify({ eventId: event.id, status: result.status })),
      { eventId: event.id },
    );
  };

  return {
    counters,
    committer,
    close: () => verifier.close(),

    async handle(prepare, destination, from) {
      underWay++;
      try {
        return await write(prepare, destination, from);
      } catch (err) {
        if (err instanceof TownWriteRejection) return reject(err);
        return reject(
          new TownWriteRejection(
            ILP_ERROR.internalError,
            `internal error: ${(err as Error).message ?? err}`,
          ),
        );
      } finally {
        underWay--;
      }
    },
  };
}
