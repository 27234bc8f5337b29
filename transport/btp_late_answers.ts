/**
 * The paid packets a BTP client gave up on for want of an answer in time, kept until the peer's
 * answer comes late on the same socket (docs/PROTOCOL.md "Payment channels and claims"): a
 * REJECT (or a BTP ERROR: the peer failed it) gives the amount back as cover, as an answer in
 * time would have; a FULFILL leaves it paid and is told to the send's `onLateFulfill`, so that
 * whoever records payments records it (it was delivered, and the chain pays for it).
 *
 * @module
 */
import { type BtpFrame, getIlpData } from "../protocol/btp_message.ts";
import { decodeIlpReply } from "../protocol/ilp_packet.ts";

/** A send's wish to hear of a FULFILL that came after it stopped waiting. */
export interface LateFulfillOption {
  /**
   * Told when the paid packet, given up on here for want of an answer in time, is FULFILLed
   * after all: it was delivered and stays paid.
   */
  onLateFulfill?: (fulfillment: Uint8Array) => void;
}

/** At most this many are kept; the oldest beyond stays counted as paid. */
const MAX_LATE_ANSWERS = 10_000;

/**
 * The packets awaiting a late answer, by BTP request id.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { BtpLateAnswers } from "./btp_late_answers.ts";
 *
 * let cover = 0n;
 * let paid = false;
 * const late = new BtpLateAnswers((amount) => cover += amount);
 * late.await(7, 500n, { onLateFulfill: () => paid = true });
 * late.clear(); // the socket is gone: no answer will come
 * assert(!paid);
 * ```
 */
export class BtpLateAnswers {
  readonly #waiting = new Map<number, { amount: bigint } & LateFulfillOption>();
  readonly #giveBack: (amount: bigint, rejectData: Uint8Array) => void;

  /** `giveBack` returns a refused packet's amount to the sender's cover. */
  constructor(giveBack: (amount: bigint, rejectData: Uint8Array) => void) {
    this.#giveBack = giveBack;
  }

  /** Keeps a paid packet that timed out on the open socket (still counted as paid). */
  await(requestId: number, amount: bigint, options: LateFulfillOption = {}): void {
    if (this.#waiting.size >= MAX_LATE_ANSWERS) {
      this.#waiting.delete(this.#waiting.keys().next().value!); // stays counted as paid
    }
    this.#waiting.set(requestId, { amount, onLateFulfill: options.onLateFulfill });
  }

  /** A frame no request waits for: the late answer of a kept packet, if it is one. */
  answer(frame: BtpFrame): void {
    const late = this.#waiting.get(frame.requestId);
    if (late === undefined) return;
    this.#waiting.delete(frame.requestId);
    if (frame.type === "error") return this.#giveBack(late.amount, new Uint8Array(0));
    const ilp = getIlpData(frame);
    if (ilp === undefined) return;
    let reply;
    try {
      reply = decodeIlpReply(ilp);
    } catch {
      return; // undecodable: stays counted as paid (at worst the next claim covers more)
    }
    if (reply.type === "reject") this.#giveBack(late.amount, reply.data);
    else late.onLateFulfill?.(reply.fulfillment);
  }

  /** The socket closed: no late answer can come any more. */
  clear(): void {
    this.#waiting.clear();
  }
}
