/**
 * How a role pays a town (docs/ARCHITECTURE.md, "The town client"): one {@linkcode TownClient}
 * per town, used by the requester and the provider alike. A paid write runs the design card's
 * sending pipeline, stage by stage, with the stages' own functions:
 *
 * 1. the event (a template from the role, checked by `stages/signer.ts`'s `checkTemplate`, signed
 *    by the role's `NodeSigner`; or an event already signed),
 * 2. its TOON (`stages/toon_encoder.ts`'s `encodeEventChunk`),
 * 3. the paid PREPARE (`stages/ilp_prepare_sink.ts`'s `paidPrepareOf`: amount = price per byte x
 *    bytes, condition from the SPSP grant's shared secret),
 * 4. sent with the sink's one retry policy (`sendPrepareWithRetries`: T-class retried with
 *    protocol/backoff.ts, F- and R-class final; a transport failure moves to the next uplink).
 *
 * The SPSP grant (kind 23194/23195 over ILP, `spsp_handshake.ts`) is asked once and cached until
 * it expires; an F05 (wrong condition) or F02 (unreachable) after a town restart drops it and
 * asks again once. Claims ride on the uplink (a `BtpClient` made with a channel's `claims`).
 *
 * Uplinks: a town client holds a list of uplinks in order of preference (its town's own BTP
 * connection first, when there is one, then the others of the node); a write leaves by the first
 * that is open and moves to the next when sending fails under it (the connection is lost). So a
 * node whose home town died still pays its other towns through their own uplinks. A write sent
 * again (another uplink, or a retry after its answer was lost) is not paid twice: a town that
 * already stores the event answers an F99 `duplicate` REJECT with a proof only it can compute
 * (protocol/duplicate_write_reply.ts), which `write` counts as stored, nothing paid; when an
 * earlier attempt of the write got no answer after its PREPARE left, that attempt is the one
 * that paid, and it is recorded then (roles/town_client/in_doubt_writes.ts).
 *
 * @module
 */
import { ILP_ERROR, type IlpPrepare, type IlpReply } from "../../protocol/ilp_packet.ts";
import type { LateFulfillOption } from "../../transport/btp_late_answers.ts";
import type { EventTemplate, NostrEvent } from "../../protocol/nostr_event.ts";
import type { NodeSigner } from "../../protocol/node_signer.ts";
import type { SpspResponse } from "../../protocol/spsp_message.ts";
import { checkTemplate } from "../../stages/signer.ts";
import {
  type PrepareRetryOptions,
  type PrepareSender,
  sendPrepareWithRetries,
} from "../../stages/ilp_prepare_sink.ts";
import { buildPaidWrite, requestSpspOverIlp } from "./spsp_handshake.ts";
import { rejectClaimReason, TownRejectedError } from "./town_rejection.ts";
import type { ClaimRejectReason } from "../../protocol/payment_channel_claim.ts";
import { PAID_WRITE_RETRY } from "./town_retry.ts";
import { isDuplicateWrite } from "../../protocol/duplicate_write_reply.ts";
import { mayHaveArrived } from "../../transport/btp_unanswered.ts";
import { InDoubtWrites } from "./in_doubt_writes.ts";

/** An uplink: sends PREPAREs; a BtpClient also tells its connection state. */
export interface TownUplink extends PrepareSender {
  /** `"open"` when its connection is up (a BtpClient's `state`); absent: always tried. */
  readonly state?: string;
  /** As `PrepareSender`'s; `onLateFulfill` where it can tell (a BtpClient's claims). */
  sendPrepare(prepare: IlpPrepare, options?: LateFulfillOption): Promise<IlpReply>;
}

/** What a paid write the town fulfilled looks like to the payment log. */
export interface TownPayment {
  /** The event stored (or the blob authorization paid for). */
  event: NostrEvent;
  /** Base units fulfilled. */
  amount: bigint;
  /** A blob payment (`town-blob`), not a write (`town-write`). */
  blob: boolean;
  /** The job the payment is for, when the caller said. */
  jobId?: string;
  /** The town's ILP address. */
  townAddress: string;
}

const GRANT_TTL_MS = 10 * 60_000;
const MAX_TEMPLATE_BYTES = 1024 * 1024;

/**
 * Checks `template` as the signer stage does (`stages/signer.ts`'s `checkTemplate`: shape, 1 MiB)
 * and signs it with the node's key.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { generateSecretKey } from "nostr-tools";
 * import { signChecked } from "./town_client.ts";
 * import { localNodeSigner } from "../../identity/local_node_signer.ts";
 * const signer = localNodeSigner(generateSecretKey());
 * const event = await signChecked(signer, { kind: 1, created_at: 1, tags: [], content: "hi" });
 * assert.equal(event.pubkey, signer.pubkey);
 * ```
 * @throws {InvalidTemplateError} when the template is malformed or too large.
 */
export async function signChecked(
  signer: NodeSigner,
  template: EventTemplate,
): Promise<NostrEvent> {
  return await signer.signEvent(checkTemplate(template, MAX_TEMPLATE_BYTES));
}

/** Options for {@linkcode TownClient}. */
export interface TownClientOptions {
  /** The town's NIP-01 URL (names it in errors). */
  relayUrl: string;
  /**
   * The uplinks, in order of preference (its own first), or a function giving them (a node's
   * uplinks may be added later).
   */
  uplinks: TownUplink[] | (() => TownUplink[]);
  /** The town's ILP address. */
  townAddress: string;
  /** The town's Nostr pubkey (signs its SPSP answers). */
  townPubkey: string;
  /** The node's key: signs events and the SPSP request. */
  signer: NodeSigner;
  /** Base units per TOON byte the town charges. Default 10. */
  pricePerByte?: bigint;
  /** Default {@linkcode PAID_WRITE_RETRY}. */
  retry?: PrepareRetryOptions;
  /**
   * Records each fulfilled payment to the town (the payment log) before the write resolves.
   */
  record?: (paid: TownPayment) => Promise<void>;
  /**
   * The rejects that sending again cannot cure for this payer, thrown marked final
   * (`TownRejectedError.final`): e.g. a T04 `not-covered` to a payer with no channel (the town
   * wants claims it has none of), by the code and the claim reason the REJECT's data names.
   * Default none.
   */
  isFinal?: (code: string, claimReason: ClaimRejectReason | undefined) => boolean;
  /**
   * Its writes in doubt; lasting ones (roles/town_client/logged_in_doubt_writes.ts) outlive the
   * process. Default: in memory.
   */
  inDoubt?: InDoubtWrites;
}

/** The client of one town: the SPSP grant, its uplinks, and its paid writes. */
export class TownClient {
  #o: TownClientOptions;
  #grant: Promise<SpspResponse> | undefined;
  #grantUntil = 0;
  /** Base units paid to this town so far (fulfilled writes and blobs). */
  spent = 0n;
  /** Events stored. */
  published = 0;
  /** Of those, writes the town already held (answered `duplicate`, nothing paid). */
  duplicates = 0;
  // Writes whose answer was lost after their PREPARE left: paid if the town stores them.
  readonly #inDoubt: InDoubtWrites;

  /**
   * A client of a town started here (in-process, port 0, a temporary state directory): it asks
   * the grant, pays for a note and stores it; the same signed note written again is the town's
   * `duplicate`, nothing paid.
   *
   * @example
   * ```ts
   * import assert from "node:assert/strict";
   * import { generateSecretKey } from "nostr-tools";
   * import { TownClient } from "./town_client.ts";
   * import { startTownNode } from "../town/town_node.ts";
   * import { localNodeSigner } from "../../identity/local_node_signer.ts";
   * import { BtpClient } from "../../transport/btp_client.ts";
   *
   * const stateDir = await Deno.makeTempDir();
   * const node = await startTownNode({
   *   config: { host: "127.0.0.1", httpPort: 0, btpPort: 0, stateDir, network: "local",
   *     ilpAddress: "test.town", peers: [], acceptAnyToken: true, pricing: { pricePerByte: 10n },
   *     maxEventBytes: 65_536, assetCode: "USD", assetScale: 6 },
   *   secretKey: generateSecretKey(),
   *   databasePath: ":memory:",
   * });
   * const btp = new BtpClient({ url: `btp+ws://127.0.0.1:${node.btpPort}`, authToken: "t",
   *   reconnect: false });
   * await btp.connect();
   * const town = new TownClient({ relayUrl: `ws://127.0.0.1:${node.httpPort}`, uplinks: [btp],
   *   townAddress: node.ilpAddress, townPubkey: node.pubkey,
   *   signer: localNodeSigner(generateSecretKey()) });
   * const { destinationAccount } = await town.grant();
   * assert(destinationAccount.startsWith(`${town.townAddress}.`));
   * const now = Math.floor(Date.now() / 1000);
   * const event = await town.publish({ kind: 1, created_at: now, tags: [], content: "hi" });
   * assert.equal(town.published, 1);
   * assert(town.spent > 0n);
   * await town.write(event);
   * assert.equal(town.duplicates, 1);
   * await btp.close();
   * await node.stop();
   * await Deno.remove(stateDir, { recursive: true });
   * ```
   */
  constructor(options: TownClientOptions) {
    this.#o = options;
    this.#inDoubt = options.inDoubt ?? new InDoubtWrites();
  }

  /** The town's relay URL. */
  get relayUrl(): string {
    return this.#o.relayUrl;
  }

  /** The town's ILP address. */
  get townAddress(): string {
    return this.#o.townAddress;
  }

  /** Base units per TOON byte paid to this town. */
  get pricePerByte(): bigint {
    return this.#o.pricePerByte ?? 10n;
  }

  /**
   * The SPSP grant, asked for when there is none or it expired (a failed ask is not cached).
   *
   * It needs a town: the constructor's example runs it against one, and so does
   * tests/unit/protocol/town_client_test.ts.
   */
  grant(): Promise<SpspResponse> {
    if (this.#grant !== undefined && Date.now() < this.#grantUntil) return this.#grant;
    const grant = requestSpspOverIlp({
      sender: { sendPrepare: (prepare) => this.#sendByUplinks(prepare) },
      townAddress: this.#o.townAddress,
      townPubkey: this.#o.townPubkey,
      signer: this.#o.signer,
    });
    grant.then((g) => {
      const expires = g.expiresAt ? Date.parse(g.expiresAt) : NaN;
      if (this.#grant === grant) {
        this.#grantUntil = Number.isFinite(expires) ? expires - 5_000 : Date.now() + GRANT_TTL_MS;
      }
    }, () => {
      if (this.#grant === grant) this.#grant = undefined;
    });
    this.#grantUntil = Number.POSITIVE_INFINITY;
    return this.#grant = grant;
  }

  /**
   * Checks and signs `template`, pays for it and stores it; resolves with the signed event.
   *
   * It needs a town: the constructor's example runs it against one, and so does
   * tests/unit/protocol/town_client_test.ts.
   * @throws {TownRejectedError} when the town refused it.
   */
  async publish(template: EventTemplate): Promise<NostrEvent> {
    const event = await signChecked(this.#o.signer, template);
    await this.write(event);
    return event;
  }

  /**
   * Pays for and stores an already signed event.
   *
   * A town that already stores the event (the same event sent before, its answer lost) answers
   * `duplicate`: the write resolves, nothing paid, counted in `duplicates`. It needs a town: the
   * constructor's example runs it against one (a write sent twice), and so does
   * tests/unit/protocol/town_client_test.ts.
   *
   * @throws {TownRejectedError} when the town refused it (after the retries of a T-class reject).
   */
  async write(event: NostrEvent, jobId?: string): Promise<void> {
    const { reply, duplicate } = await this.#send(event, undefined, jobId);
    if (reply.type === "reject" && !duplicate) {
      const claimReason = rejectClaimReason(reply);
      throw new TownRejectedError(reply.code, reply.message, {
        town: this.#o.relayUrl,
        claimReason,
        final: this.#o.isFinal?.(reply.code, claimReason) ?? false,
      });
    }
    if (duplicate) this.duplicates++;
    this.published++;
  }

  /**
   * Sends `event` as the data of a paid PREPARE (amount: its price per byte, or `amount`: a blob
   * payment, for `jobId`'s outputs) and returns the final reply as it is; the spent counter and
   * the payment log follow what was fulfilled.
   *
   * It needs a town: no example that runs here: tests/unit/protocol/town_client_test.ts.
   */
  async sendPaid(event: NostrEvent, amount?: bigint, jobId?: string): Promise<IlpReply> {
    return (await this.#send(event, amount, jobId)).reply;
  }

  /**
   * The paid write and its reply; `duplicate` when the town answered that it already stores the
   * event, with a proof that checks against this write's fulfillment (nothing was paid).
   */
  async #send(
    event: NostrEvent,
    amount: bigint | undefined,
    jobId: string | undefined,
  ): Promise<{ reply: IlpReply; duplicate: boolean }> {
    // A write given up on for want of an answer and FULFILLed after all was paid and stored:
    // recorded then (its retry is answered `duplicate`, nothing paid, docs/PROTOCOL.md), unless
    // that retry's `duplicate` recorded it first.
    const write = amount === undefined;
    // A write in doubt is sent again by one process of the profile at a time, and not at all once
    // another recorded its outcome (state/payments/doubt_claims.ts): held from here, or from its
    // intent when this attempt's answer is the one lost, until this call's outcome is recorded.
    await using claims = new AsyncDisposableStack();
    let held = write ? await this.#inDoubt.hold(event.id) : undefined;
    if (held) claims.use(held);
    const paidLate = (paid: bigint) => () => {
      if (write && this.#inDoubt.take(event.id) === undefined) return;
      this.spent += paid;
      this.#o.record?.({
        event,
        amount: paid,
        blob: amount !== undefined,
        jobId,
        townAddress: this.#o.townAddress,
      }).catch(() => {});
    };
    let onLateFulfill: (() => void) | undefined;
    const sender: PrepareSender = {
      sendPrepare: (prepare) =>
        this.#sendByUplinks(prepare, onLateFulfill, async () => {
          if (!write) return;
          await this.#inDoubt.note({ event, amount: BigInt(prepare.amount), jobId });
          if (held === undefined) claims.use(held = await this.#inDoubt.hold(event.id));
        }),
    };
    for (let handshake = 0;; handshake++) {
      const { prepare, fulfillment } = await buildPaidWrite({
        event,
        grant: await this.grant(),
        pricePerByte: this.pricePerByte,
        amount,
      });
      onLateFulfill = paidLate(BigInt(prepare.amount));
      const { reply } = await sendPrepareWithRetries(sender, prepare, {
        ...PAID_WRITE_RETRY,
        ...this.#o.retry,
      });
      if (reply.type === "fulfill") {
        // Stored now, so an attempt whose answer was lost did not store it: it was not paid.
        if (write) this.#inDoubt.take(event.id);
        const paid = BigInt(prepare.amount);
        this.spent += paid;
        await this.#o.record?.({
          event,
          amount: paid,
          blob: amount !== undefined,
          jobId,
          townAddress: this.#o.townAddress,
        });
        return { reply, duplicate: false };
      }
      if (write && isDuplicateWrite(reply, { eventId: event.id, fulfillment })) {
        // Stored by an attempt whose answer was lost: that attempt paid (a payer over a channel
        // counted it in its claims); the log says so now (roles/town_client/in_doubt_writes.ts).
        const lost = this.#inDoubt.take(event.id);
        if (lost !== undefined) {
          this.spent += lost;
          await this.#o.record?.({
            event,
            amount: lost,
            blob: false,
            jobId,
            townAddress: this.#o.townAddress,
          });
        }
        return { reply, duplicate: true };
      }
      // F05 (wrong condition) or F02 after a town restart: the grant is stale; ask again once.
      if (
        handshake === 0 &&
        (reply.code === ILP_ERROR.wrongCondition || reply.code === ILP_ERROR.unreachable)
      ) {
        this.#grant = undefined;
        continue;
      }
      return { reply, duplicate: false };
    }
  }

  #uplinks(): TownUplink[] {
    const u = this.#o.uplinks;
    return typeof u === "function" ? u() : u;
  }

  /**
   * Sends by the open uplinks in order, moving on when one fails under the packet; `onInDoubt`
   * is told of each failure after the PREPARE left (it may have been FULFILLed), and awaited: the
   * doubt is lasting before the packet is sent again.
   */
  async #sendByUplinks(
    prepare: Parameters<PrepareSender["sendPrepare"]>[0],
    onLateFulfill?: () => void,
    onInDoubt?: () => Promise<void>,
  ): Promise<IlpReply> {
    const all = this.#uplinks();
    if (all.length === 0) throw new RangeError(`no uplink to ${this.#o.relayUrl}`);
    const open = all.filter((u) => u.state === undefined || u.state === "open");
    const order = [...open, ...all.filter((u) => !open.includes(u))];
    let failure: unknown;
    for (const uplink of order) {
      try {
        return await uplink.sendPrepare(prepare, { onLateFulfill });
      } catch (err) {
        failure = err;
        if (mayHaveArrived(err)) await onInDoubt?.();
        if (prepare.expiresAt.getTime() <= Date.now()) break;
      }
    }
    throw failure;
  }
}
