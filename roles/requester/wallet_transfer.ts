/**
 * A wallet paying another wallet's request outside any job (`wallet send`, docs/PROTOCOL.md
 * "Transfers between wallets"), with the job payer's rules (roles/requester/job_payer.ts): the
 * spend policy decides (protocol/spend_policy.ts: the per-job maximum is the most for one
 * transfer, the daily caps count transfers with jobs), and the payment log's never-pay-twice
 * protocol (state/payments/payment_log.ts) holds: the intent is on disk before the PREPARE, the
 * outcome after the reply. The payment leaves by the profile's towns (roles/requester/
 * town_links.ts), over its channel when it has one, like a job payment.
 *
 * A transfer in doubt (an intent with no outcome: a crash, a reply lost) asks its receiver
 * first (the receipt question, protocol/payment_receipt.ts): its fulfillment is recorded as the
 * outcome; a `not-paid` answer sends the PREPARE again (the receiver fulfils one per request, and
 * a town refuses a second packet of a condition it forwarded); no answer leaves it in doubt.
 *
 * @module
 */
import { bytesToHex, hexToBytes } from "@noble/hashes/utils.js";
import { RoleError } from "../role_error.ts";
import type { IlpReply } from "../../protocol/ilp_packet.ts";
import { checkFulfillment } from "../../protocol/ilp_fulfillment.ts";
import { formatAssetAmount } from "../../protocol/asset_amount.ts";
import {
  decideSpend,
  MIN_INVOICE_TIME_LEFT_MS,
  type SpendPolicy,
} from "../../protocol/spend_policy.ts";
import { encodeReceiptQuestion } from "../../protocol/payment_receipt.ts";
import {
  ALREADY_PAID,
  encodeTransferData,
  NOT_PAID,
  paidProofOf,
  type TransferRequest,
} from "../../protocol/transfer_request.ts";
import type { PaymentEntry, PaymentLog } from "../../state/payments/payment_log.ts";
import type { TownLinks } from "./town_links.ts";

/** Options for {@linkcode TransferPayer}. */
export interface TransferPayerOptions {
  payments: Pick<PaymentLog, "append" | "invoiceState" | "invoiceEntry" | "spentOn">;
  /** The profile's towns: the payment leaves by the first open one. */
  links: Pick<TownLinks, "sendPayment">;
  /** The payer's pubkey (the receiver's history names it). */
  pubkey: string;
  spendPolicy?: SpendPolicy;
  /** The asset the profile pays in; a request in another is refused. */
  asset?: string;
  /**
   * The home town's asset (its ILDCP answer): what the amount is counted in on the wire. A
   * request naming another code or scale is refused: its amount would be shown in one unit and
   * paid in another.
   */
  homeAsset?: () => { assetCode: string; assetScale: number } | undefined;
  /** The most one send may pay (`--max`), checked against what is sent, a retry's included. */
  max?: bigint;
  /** Told each step (`paying`, `paid`...). */
  onProgress?: (status: string, detail: string) => void;
}

/** What a transfer came to. */
export interface TransferOutcome {
  /** `paid` now; `paid-before`: an earlier run paid it (its receipt kept or given back). */
  status: "paid" | "paid-before";
  transferId: string;
  amount: bigint;
  destination: string;
  /** The receiver's fulfillment: the receipt. */
  fulfillment: string;
}

/** The transfer is refused before anything is sent (the spend policy, an expiry). */
export class TransferRefusedError extends RoleError {
  override name = "TransferRefusedError";
  constructor(readonly reason: string, detail: string) {
    super(`transfer refused: ${reason}: ${detail}`);
  }
}

/** The town or the receiver refused the payment: no money moved. */
export class TransferRejectedError extends RoleError {
  override name = "TransferRejectedError";
}

/** No answer to the payment: it may have arrived. Running the send again settles it. */
export class TransferInDoubtError extends RoleError {
  override name = "TransferInDoubtError";
}

/**
 * Pays requests; see the module doc.
 *
 * It pays over a town: no example that runs here:
 * tests/unit/roles/requester/wallet_transfer_test.ts.
 */
export class TransferPayer {
  #o: TransferPayerOptions;

  constructor(options: TransferPayerOptions) {
    this.#o = options;
  }

  /**
   * Pays `amount` to the request, once: a request paid before is not paid again.
   * @throws {TransferRefusedError} when the spend policy refuses it (nothing sent).
   * @throws {TransferRejectedError} when the payment was refused (no money moved).
   * @throws {TransferInDoubtError} when its outcome is unknown.
   */
  async pay(request: TransferRequest, amount: bigint): Promise<TransferOutcome> {
    const payments = this.#o.payments;
    const invoiceId = request.condition;
    const state = payments.invoiceState(invoiceId);
    const peer = peerOf(request.destination);
    const base = { transferId: request.transferId, destination: request.destination };
    const known = payments.invoiceEntry(invoiceId);
    if (state === "paid" && known?.fulfillment !== undefined) {
      return {
        ...base,
        status: "paid-before",
        amount: BigInt(known.amount),
        fulfillment: known.fulfillment,
      };
    }
    let entry: Omit<PaymentEntry, "ts" | "event">;
    const paid = async (fulfillment: string, status: TransferOutcome["status"]) => {
      await payments.append({
        ...entry,
        ts: new Date().toISOString(),
        event: "fulfilled",
        fulfillment,
      });
      this.#o.onProgress?.("paid", `receipt ${fulfillment.slice(0, 16)}`);
      return { ...base, status, amount: BigInt(entry.amount), fulfillment };
    };
    this.#checkAsset(request);
    const inDoubt = state === "in-doubt" && known !== undefined;
    if (inDoubt) {
      // Sent before, its outcome unknown: the receiver says whether it took it; sent again only
      // when it says it did not (it takes a request once, so a late first PREPARE is refused).
      // Its amount is the one sent then: another now would pay what this run did not ask.
      const sent = BigInt(known.amount);
      if (amount !== sent) {
        throw new TransferRefusedError(
          "in-doubt-amount",
          `an earlier run sent ${sent} for this request, its outcome unknown: give that amount`,
        );
      }
      this.#checkMax(sent);
      entry = { ...known };
      this.#o.onProgress?.("paying", "in doubt from an earlier run: asking the receiver");
      const receipt = await this.#askReceipt(request);
      if (receipt === undefined) {
        throw new TransferInDoubtError(
          `transfer ${request.transferId.slice(0, 12)} is in doubt and its receiver did not ` +
            "answer: run the same send again while the receiver waits",
        );
      }
      if (receipt !== NOT_PAID) return await paid(receipt, "paid-before");
    } else {
      this.#checkMax(amount);
      this.#check(request, amount, peer);
      entry = {
        direction: "out",
        jobId: request.transferId,
        invoiceId,
        amount: String(amount),
        asset: request.assetCode,
        scale: request.assetScale,
        peer,
        category: "transfer",
      };
      await payments.append({ ...entry, ts: new Date().toISOString(), event: "intent" });
      this.#o.onProgress?.(
        "paying",
        `${formatAssetAmount(amount, request)} to ${request.destination}`,
      );
    }
    const reply = await this.#send(request, BigInt(entry.amount));
    if (reply === undefined) {
      throw new TransferInDoubtError(
        `no answer to the payment of transfer ${request.transferId.slice(0, 12)}: it may have ` +
          "arrived; run the same send again (the receiver takes a request once)",
      );
    }
    if (reply.type === "fulfill") {
      const fulfillment = bytesToHex(reply.fulfillment);
      if (await this.#proves(fulfillment, invoiceId)) return await paid(fulfillment, "paid");
      throw new TransferInDoubtError("the receiver's fulfillment does not match the request");
    }
    const proof = reply.message === ALREADY_PAID ? paidProofOf(reply.data) : undefined;
    if (proof !== undefined && await this.#proves(proof, invoiceId)) {
      // The receiver took this request before: paid by this wallet only when the intent was
      // ours in doubt (an earlier run); a request someone else paid is not ours to record.
      if (state === "in-doubt") return await paid(proof, "paid-before");
    }
    const reason = `${reply.code} ${reply.message}`.trim();
    if (inDoubt && reply.code.startsWith("T")) {
      // Sent again while the first PREPARE may still be on its way (a town refuses a second
      // packet of a condition it forwarded: T00): the first may yet be fulfilled.
      throw new TransferInDoubtError(
        `transfer ${request.transferId.slice(0, 12)} is still in doubt (${reason}): run the ` +
          "same send again in a minute",
      );
    }
    await payments.append({ ...entry, ts: new Date().toISOString(), event: "rejected", reason });
    throw new TransferRejectedError(`payment rejected: ${reason}`);
  }

  /** A request counted in another asset or scale than the home town's is refused. */
  #checkAsset(request: TransferRequest): void {
    const home = this.#o.homeAsset?.();
    if (home === undefined) return;
    if (request.assetCode !== home.assetCode || request.assetScale !== home.assetScale) {
      throw new TransferRefusedError(
        "other-asset",
        `the request counts in ${request.assetCode} at scale ${request.assetScale}, the ` +
          `town in ${home.assetCode} at scale ${home.assetScale}`,
      );
    }
  }

  #checkMax(amount: bigint): void {
    if (this.#o.max !== undefined && amount > this.#o.max) {
      throw new TransferRefusedError("over-max", `${amount} is over --max ${this.#o.max}`);
    }
  }

  /** The spend policy's decision (its allowlist names providers: transfers pay addresses). */
  #check(request: TransferRequest, amount: bigint, peer: string): void {
    const policy = this.#o.spendPolicy ?? {};
    const decision = decideSpend({ ...policy, allowlist: undefined, allowWithoutBid: true }, {
      invoiceId: request.condition,
      amount,
      asset: request.assetCode,
      expectedAsset: this.#o.asset,
      provider: peer,
      paidForJob: 0n,
      spentTodayProvider: this.#o.payments.spentOn({ peer }),
      spentToday: this.#o.payments.spentOn(),
      alreadyAttempted: false,
      expiresAtMs: request.expiresAt.getTime(),
      nowMs: Date.now(),
      minTimeLeftMs: MIN_INVOICE_TIME_LEFT_MS,
    });
    if (!decision.pay) {
      const reason = decision.reason === "over-job-max" ? "over-transfer-max" : decision.reason;
      throw new TransferRefusedError(reason, decision.detail.replace("per-job", "per-transfer"));
    }
  }

  /**
   * The receipt question (protocol/payment_receipt.ts): the receiver's fulfillment when it took
   * the payment, `not-paid` when it says it did not, undefined when nobody answered so.
   */
  async #askReceipt(request: TransferRequest): Promise<string | undefined> {
    const reply = await this.#o.links.sendPayment({
      amount: "0",
      destination: request.destination,
      executionCondition: hexToBytes(request.condition),
      expiresAt: new Date(Date.now() + 30_000),
      data: encodeReceiptQuestion(request.transferId),
    }).catch(() => undefined);
    if (reply?.type === "reject") return reply.message === NOT_PAID ? NOT_PAID : undefined;
    if (reply === undefined) return undefined;
    const fulfillment = bytesToHex(reply.fulfillment);
    return await this.#proves(fulfillment, request.condition) ? fulfillment : undefined;
  }

  /** The PREPARE; undefined when nothing answered (in doubt). */
  async #send(request: TransferRequest, amount: bigint): Promise<IlpReply | undefined> {
    try {
      return await this.#o.links.sendPayment({
        amount: String(amount),
        destination: request.destination,
        executionCondition: hexToBytes(request.condition),
        expiresAt: new Date(Math.min(request.expiresAt.getTime(), Date.now() + 30_000)),
        data: encodeTransferData(this.#o.pubkey),
      });
    } catch {
      return undefined;
    }
  }

  async #proves(fulfillment: string, condition: string): Promise<boolean> {
    return await checkFulfillment(hexToBytes(fulfillment), hexToBytes(condition));
  }
}

/** The receiver's account address: the destination without its per-request segment. */
function peerOf(destination: string): string {
  const parts = destination.split(".");
  return parts.length > 2 ? parts.slice(0, -1).join(".") : destination;
}
