/**
 * Publishes the provider's events to its town as paid writes (docs/PROTOCOL.md):
 * the SPSP handshake once (kind 23194/23195 over ILP), then one PREPARE per event with the TOON
 * bytes as data, amount = price per byte x bytes, condition from the shared secret. A reject is
 * a {@linkcode TownWriteRejectedError}; an F99/unknown-destination after a town restart re-runs
 * the handshake once (the town's secrets may be gone with a throwaway identity).
 *
 * @module
 */
import { ILP_ERROR } from "../../protocol/ilp_packet.ts";
import type { EventTemplate, NostrEvent } from "../../protocol/nostr_event.ts";
import type { IlpReply } from "../../protocol/ilp_packet.ts";
import type { SpspResponse } from "../../protocol/spsp_message.ts";
import type { NodeSigner } from "../../protocol/node_signer.ts";
import { buildPaidWrite, type PrepareSender, requestSpspOverIlp } from "../town/spsp_ilp_client.ts";

/** Options for {@linkcode TownPublisher}. */
export interface TownPublisherOptions {
  sender: PrepareSender;
  /** The town's ILP address. */
  townAddress: string;
  /** The town's Nostr pubkey (signs its SPSP answers). */
  townPubkey: string;
  /** The provider's key (signs events). */
  signer: NodeSigner;
  /** Base units per TOON byte the town charges. Default 10. */
  pricePerByte?: bigint;
  /**
   * Records each fulfilled payment to the town (the payment log) before the publish resolves:
   * `town-write` for an event stored, `town-blob` for a blob paid for (`amount` given).
   */
  record?: (
    paid: { event: NostrEvent; amount: bigint; blob: boolean; jobId?: string },
  ) => Promise<void>;
}

/** The town refused a paid write. */
export class TownWriteRejectedError extends Error {
  override name = "TownWriteRejectedError";
  code: string;
  constructor(code: string, message: string) {
    super(`town rejected the write: ${code} ${message}`);
    this.code = code;
  }
}

/** Signs and pays for events on one town. */
export class TownPublisher {
  #options: TownPublisherOptions;
  #grant: Promise<SpspResponse> | undefined;
  /** Base units paid so far. */
  spent = 0n;
  /** Events published. */
  published = 0;

  constructor(options: TownPublisherOptions) {
    this.#options = options;
  }

  #handshake(): Promise<SpspResponse> {
    const grant = requestSpspOverIlp({
      sender: this.#options.sender,
      townAddress: this.#options.townAddress,
      townPubkey: this.#options.townPubkey,
      signer: this.#options.signer,
    });
    // A failed handshake is retried at the next publish instead of being cached.
    grant.catch(() => {
      if (this.#grant === grant) this.#grant = undefined;
    });
    return this.#grant = grant;
  }

  /**
   * Signs the template, pays for it and sends it; resolves with the signed event.
   *
   * @example
   * ```ts
   * const event = await publisher.publish(buildJobFeedback({ request, status: "processing" }));
   * ```
   */
  async publish(template: EventTemplate): Promise<NostrEvent> {
    const event = await this.#options.signer.signEvent(template);
    await this.publishSigned(event);
    return event;
  }

  /** Pays for and sends an already signed event. */
  async publishSigned(event: NostrEvent): Promise<void> {
    const reply = await this.sendPaid(event);
    if (reply.type === "reject") throw new TownWriteRejectedError(reply.code, reply.message);
    this.published++;
  }

  /**
   * Sends `event` as the data of a paid PREPARE (amount: its price per byte, or `amount`: a
   * blob payment, for `jobId`'s outputs) and returns the reply; the spent counter follows what
   * was fulfilled.
   */
  async sendPaid(event: NostrEvent, amount?: bigint, jobId?: string): Promise<IlpReply> {
    for (let attempt = 0;; attempt++) {
      const grant = await (this.#grant ?? this.#handshake());
      const { prepare } = await buildPaidWrite({
        event,
        grant,
        pricePerByte: this.#options.pricePerByte ?? 10n,
        amount,
      });
      const reply = await this.#options.sender.sendPrepare(prepare);
      if (reply.type === "fulfill") {
        this.spent += BigInt(prepare.amount);
        await this.#options.record?.({
          event,
          amount: BigInt(prepare.amount),
          blob: amount !== undefined,
          jobId,
        });
        return reply;
      }
      // F05 (wrong condition) or F02 after a town restart: the grant is stale; redo SPSP once.
      if (
        attempt === 0 &&
        (reply.code === ILP_ERROR.wrongCondition || reply.code === ILP_ERROR.unreachable)
      ) {
        this.#grant = undefined;
        continue;
      }
      return reply;
    }
  }
}
