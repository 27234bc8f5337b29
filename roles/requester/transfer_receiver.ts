/**
 * A wallet taking a payment to its request (`wallet receive`, docs/PROTOCOL.md "Transfers
 * between wallets"), as the requester takes a deposit's refund (roles/requester/job_refunds.ts):
 * the PREPARE arrives on the wallet's own link to its town, and the payment log's line (`in`,
 * category `transfer`) is on disk before the FULFILL, so a payment taken is never lost nor
 * taken twice. One PREPARE per request is fulfilled; a later one is answered `already-paid` with
 * the fulfillment as the REJECT's data, and the receipt question (a PREPARE of amount 0 whose data
 * is `receipt:<transfer id>`, protocol/payment_receipt.ts: a payer that lost its FULFILL asks it)
 * with a FULFILL once paid, else `not-paid`.
 *
 * @module
 */
import { bytesToHex } from "@noble/hashes/utils.js";
import { ILP_ERROR, type IlpPrepare, type IlpReply } from "../../protocol/ilp_packet.ts";
import { conditionOf, MIN_FULFILL_TIME_LEFT_MS } from "../../protocol/ilp_fulfillment.ts";
import { decodeReceiptQuestion } from "../../protocol/payment_receipt.ts";
import {
  ALREADY_PAID,
  decodeTransferData,
  NOT_PAID,
  paidProofData,
  type TransferRequest,
} from "../../protocol/transfer_request.ts";
import type { PaymentEntry, PaymentLog } from "../../state/payments/payment_log.ts";

/** Options for {@linkcode TransferReceiver}. */
export interface TransferReceiverOptions {
  payments: Pick<PaymentLog, "append" | "incoming">;
  /** The receiver's address at its town (IL-DCP): the request's destination is under it. */
  address: string;
  amount?: bigint;
  assetCode: string;
  assetScale: number;
  /** How long the request may be paid. */
  expiresAt: Date;
  memo?: string;
}

/**
 * One request and its payment; see the module doc.
 *
 * It is paid over a town: no example that runs here:
 * tests/unit/roles/requester/transfer_receiver_test.ts.
 */
export class TransferReceiver {
  readonly request: TransferRequest;
  /** Resolves with the payment log's line once the payment is taken. */
  readonly paid: Promise<PaymentEntry>;
  #o: TransferReceiverOptions;
  #fulfillment: Uint8Array;
  #resolve: (entry: PaymentEntry) => void;
  /** Set before the log's append: a second PREPARE meanwhile is not taken too. */
  #taking = false;

  private constructor(
    o: TransferReceiverOptions,
    fulfillment: Uint8Array,
    condition: Uint8Array,
    transferId: string,
  ) {
    this.#o = o;
    this.#fulfillment = fulfillment;
    const paid = Promise.withResolvers<PaymentEntry>();
    this.paid = paid.promise;
    this.#resolve = paid.resolve;
    this.request = {
      destination: `${o.address}.${transferId.slice(0, 16)}`,
      amount: o.amount,
      assetCode: o.assetCode,
      assetScale: o.assetScale,
      condition: bytesToHex(condition),
      expiresAt: o.expiresAt,
      transferId,
      ...(o.memo === undefined ? {} : { memo: o.memo }),
    };
  }

  /** A new request: a random fulfillment (kept in memory only) and a random transfer id. */
  static async create(options: TransferReceiverOptions): Promise<TransferReceiver> {
    const fulfillment = crypto.getRandomValues(new Uint8Array(32));
    const id = bytesToHex(crypto.getRandomValues(new Uint8Array(32)));
    return new TransferReceiver(options, fulfillment, await conditionOf(fulfillment), id);
  }

  /** Answers a PREPARE on the wallet's link. */
  async onPrepare(prepare: IlpPrepare): Promise<IlpReply> {
    const r = this.request;
    if (prepare.destination !== r.destination) return reject(ILP_ERROR.unreachable, "no receiver");
    if (bytesToHex(prepare.executionCondition) !== r.condition) {
      return reject(ILP_ERROR.finalApplicationError, "not this request's condition");
    }
    const hex = bytesToHex(this.#fulfillment);
    const taken = this.#o.payments.incoming(r.condition).length > 0;
    const amount = BigInt(prepare.amount);
    if (amount === 0n && decodeReceiptQuestion(prepare.data) === r.transferId) {
      // The receipt question (protocol/payment_receipt.ts): amount 0, so a FULFILL moves nothing.
      return taken
        ? { type: "fulfill", fulfillment: this.#fulfillment, data: new Uint8Array() }
        : reject(ILP_ERROR.finalApplicationError, NOT_PAID);
    }
    if (taken || this.#taking) {
      return { ...reject(ILP_ERROR.finalApplicationError, ALREADY_PAID), data: paidProofData(hex) };
    }
    if (amount === 0n || (r.amount !== undefined && amount < r.amount)) {
      return reject(
        ILP_ERROR.finalApplicationError,
        `under the request's amount (${r.amount ?? 1})`,
      );
    }
    if (Date.now() > r.expiresAt.getTime()) {
      return reject(ILP_ERROR.finalApplicationError, "the request has expired");
    }
    if (prepare.expiresAt.getTime() - Date.now() < MIN_FULFILL_TIME_LEFT_MS) {
      // Too late to take: the town would refuse the FULFILL and book the packet rejected.
      return reject(ILP_ERROR.insufficientTimeout, "the payment expires before it can be taken");
    }
    this.#taking = true;
    const entry: PaymentEntry = {
      ts: new Date().toISOString(),
      direction: "in",
      event: "fulfilled",
      jobId: r.transferId,
      invoiceId: r.condition,
      amount: String(amount),
      asset: r.assetCode,
      scale: r.assetScale,
      peer: decodeTransferData(prepare.data) ?? "unknown",
      fulfillment: hex,
      category: "transfer",
    };
    try {
      // On disk before the FULFILL: a payment taken is never lost, nor taken twice.
      await this.#o.payments.append(entry);
    } catch (err) {
      this.#taking = false;
      return reject(ILP_ERROR.internalError, `not recorded: ${(err as Error).message}`);
    }
    this.#resolve(entry);
    return { type: "fulfill", fulfillment: this.#fulfillment, data: new Uint8Array() };
  }
}

function reject(code: string, message: string): IlpReply & { type: "reject" } {
  return { type: "reject", code, triggeredBy: "", message, data: new Uint8Array() };
}
