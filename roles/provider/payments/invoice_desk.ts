/**
 * The provider's open invoices and the rule for paying them (docs/PROTOCOL.md, "Paying a
 * provider"): one invoice per job, destination `<provider address>.<first 20 hex of the job id>`,
 * a random 32-byte fulfillment whose SHA-256 is the invoice's condition. An incoming PREPARE is
 * fulfilled only when it matches an open invoice exactly: same destination, same condition,
 * exactly the invoiced amount, before the invoice's expiry. Everything else is rejected with a
 * precise code and nothing is recorded:
 *
 * | code | why                                                                       |
 * |------|---------------------------------------------------------------------------|
 * | F02  | no open invoice at that destination (unknown, already paid, or cancelled)  |
 * | F99  | the invoice was withdrawn unpaid ({@linkcode INVOICE_WITHDRAWN_CODE}): late |
 * | F05  | the condition is not the invoice's                                         |
 * | F04  | the amount is below the invoice's                                          |
 * | F03  | the amount is above the invoice's (never keep an overpayment)             |
 * | R00  | the invoice has expired                                                    |
 *
 * Paying is a two-step handshake with the node: {@linkcode InvoiceDesk.match} finds the invoice
 * without changing anything; the node persists "paid" and only then answers FULFILL, so a crash
 * never loses a payment that was acknowledged.
 *
 * @module
 */
import { ILP_ERROR } from "../../../protocol/ilp_packet.ts";
import { bytesToHex } from "@noble/hashes/utils.js";
import { conditionOf } from "../../../protocol/ilp_fulfillment.ts";
import { formatIlpInvoice, type IlpInvoice } from "../../../protocol/ilp_invoice.ts";
import type { IlpPrepare, IlpReply } from "../../../protocol/ilp_packet.ts";

/**
 * ILP code of the reject a payment for a withdrawn invoice gets: F99 (application error), final,
 * so the payer's connector does not retry what will never be accepted.
 */
export const INVOICE_WITHDRAWN_CODE = ILP_ERROR.finalApplicationError;

/** Why an invoice was withdrawn unpaid, as its late payer is told. */
export type InvoiceWithdrawal = "grace" | "displaced" | "delivery-expired";

/** The message of the reject for each withdrawal. */
export const INVOICE_WITHDRAWN_MESSAGES: Readonly<Record<InvoiceWithdrawal, string>> = {
  grace: "invoice withdrawn: not paid within the provider's unpaid grace; request the job again",
  displaced:
    "invoice withdrawn: its slot went to a newer request before payment; request the job again",
  "delivery-expired":
    "invoice withdrawn: the delivery was not paid before its invoice expired; the result's key is not released",
};

/** Withdrawn invoices remembered for a precise late reject (oldest forgotten first). */
const MAX_WITHDRAWN = 10_000;

/** An open invoice. */
export interface OpenInvoice {
  invoice: IlpInvoice;
  /** The string form published in the `amount` tag. */
  text: string;
  fulfillment: Uint8Array;
}

/** Options for {@linkcode InvoiceDesk}. */
export interface InvoiceDeskOptions {
  /** The provider's ILP address (from IL-DCP). */
  address: () => string;
  assetCode: string;
  assetScale: number;
  /** Clock, unix ms. Default Date.now. */
  now?: () => number;
}

/** Options for {@linkcode InvoiceDesk.issue}. */
export interface IssueInvoiceOptions {
  jobId: string;
  amount: bigint;
  /** Invoice lifetime. */
  expiryMs: number;
}

/** Result of {@linkcode InvoiceDesk.match}. */
export type InvoiceMatch = { ok: true; open: OpenInvoice } | {
  ok: false;
  reply: IlpReply;
};

const JOB_SEGMENT = 20;

/**
 * Invoice destination for a job: the provider's address plus the first 20 hex of the job id.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { invoiceDestination } from "./invoice_desk.ts";
 *
 * assert.equal(invoiceDestination("test.town.beta", "ab".repeat(32)), "test.town.beta.abababababababababab");
 * ```
 */
export function invoiceDestination(address: string, jobId: string): string {
  return `${address}.${jobId.slice(0, JOB_SEGMENT)}`;
}

/** The provider's open invoices; see the module doc. */
export class InvoiceDesk {
  #options: InvoiceDeskOptions;
  #now: () => number;
  #byDestination = new Map<string, OpenInvoice>();
  #withdrawn = new Map<string, InvoiceWithdrawal>();

  constructor(options: InvoiceDeskOptions) {
    this.#options = options;
    this.#now = options.now ?? Date.now;
  }

  /** The asset invoices are in. */
  get asset(): { assetCode: string; assetScale: number } {
    return { assetCode: this.#options.assetCode, assetScale: this.#options.assetScale };
  }

  /** Open invoices. */
  get size(): number {
    return this.#byDestination.size;
  }

  /**
   * Issues a new invoice for a job with a fresh random fulfillment.
   *
   * @example
   * ```ts
   * import assert from "node:assert/strict";
   * import { InvoiceDesk } from "./invoice_desk.ts";
   * import { buildJobFeedback } from "../../../protocol/nip90_job.ts";
   *
   * const desk = new InvoiceDesk({ address: () => "g.town.provider", assetCode: "USD", assetScale: 6 });
   * const request = { id: "e".repeat(64), pubkey: "c".repeat(64) }; // the job request
   * const open = await desk.issue({ jobId: request.id, amount: 100n, expiryMs: 60_000 });
   * assert.equal(open.invoice.destination, `g.town.provider.${"e".repeat(20)}`);
   * assert.equal(desk.size, 1);
   * const feedback = buildJobFeedback({
   *   request,
   *   status: "payment-required",
   *   amount: { amount: "100", paymentRequest: open.text },
   * });
   * assert.deepEqual(feedback.tags.find((t) => t[0] === "amount"), ["amount", "100", open.text]);
   * ```
   */
  async issue(options: IssueInvoiceOptions): Promise<OpenInvoice> {
    const fulfillment = crypto.getRandomValues(new Uint8Array(32));
    const invoice: IlpInvoice = {
      destination: invoiceDestination(this.#options.address(), options.jobId),
      amount: options.amount,
      assetCode: this.#options.assetCode,
      assetScale: this.#options.assetScale,
      condition: bytesToHex(await conditionOf(fulfillment)),
      expiresAt: new Date(this.#now() + options.expiryMs),
      jobId: options.jobId,
    };
    const open = { invoice, text: formatIlpInvoice(invoice), fulfillment };
    this.#byDestination.set(invoice.destination, open);
    return open;
  }

  /**
   * The text an invoice for `amount` would have, opening nothing: for measuring what the
   * payment-required feedback will weigh before the amount is final (same length as a real one).
   */
  previewText(options: { jobId: string; amount: bigint; expiryMs: number }): string {
    return formatIlpInvoice({
      destination: invoiceDestination(this.#options.address(), options.jobId),
      amount: options.amount,
      assetCode: this.#options.assetCode,
      assetScale: this.#options.assetScale,
      condition: "0".repeat(64),
      expiresAt: new Date(this.#now() + options.expiryMs),
      jobId: options.jobId,
    });
  }

  /** Re-opens an invoice after a restart (from the job record). */
  restore(open: OpenInvoice): void {
    this.#byDestination.set(open.invoice.destination, open);
  }

  /**
   * Closes a job's invoice (paid, expired or cancelled): no PREPARE can match it again. Returns
   * whether it was open, so of a payment and a withdrawal racing, exactly one wins.
   *
   * @example
   * ```ts
   * import assert from "node:assert/strict";
   * import { InvoiceDesk } from "./invoice_desk.ts";
   *
   * const desk = new InvoiceDesk({ address: () => "g.town.provider", assetCode: "USD", assetScale: 6 });
   * const jobId = "e".repeat(64);
   * await desk.issue({ jobId, amount: 100n, expiryMs: 60_000 });
   * assert.equal(desk.close(jobId), true); // cancelled
   * assert.equal(desk.close(jobId), false); // paid or withdrawn meanwhile: nothing to close
   * ```
   */
  close(jobId: string): boolean {
    const destination = this.#destinationOf(jobId);
    return destination !== undefined && this.#byDestination.delete(destination);
  }

  /**
   * Withdraws an unpaid invoice: like {@linkcode InvoiceDesk.close}, and a later PREPARE for it
   * is rejected with {@linkcode INVOICE_WITHDRAWN_CODE} and the reason instead of F02.
   *
   * @example
   * ```ts
   * import assert from "node:assert/strict";
   * import { INVOICE_WITHDRAWN_MESSAGES, InvoiceDesk } from "./invoice_desk.ts";
   *
   * const desk = new InvoiceDesk({ address: () => "g.town.provider", assetCode: "USD", assetScale: 6 });
   * const jobId = "e".repeat(64);
   * const open = await desk.issue({ jobId, amount: 100n, expiryMs: 60_000 });
   * assert.equal(desk.withdraw(jobId, "grace"), true); // the caller answers the job unpaid
   * // A late payment is told why.
   * const late = await desk.match({
   *   amount: "100",
   *   expiresAt: new Date(Date.now() + 30_000),
   *   executionCondition: new Uint8Array(32),
   *   destination: open.invoice.destination,
   *   data: new Uint8Array(),
   * });
   * assert.equal(!late.ok && late.reply.type === "reject" && late.reply.message, INVOICE_WITHDRAWN_MESSAGES.grace);
   * ```
   */
  withdraw(jobId: string, why: InvoiceWithdrawal): boolean {
    const destination = this.#destinationOf(jobId);
    if (destination === undefined) return false;
    this.#byDestination.delete(destination);
    this.#withdrawn.set(destination, why);
    if (this.#withdrawn.size > MAX_WITHDRAWN) {
      this.#withdrawn.delete(this.#withdrawn.keys().next().value!);
    }
    return true;
  }

  // A restored invoice keeps the address it was issued at, so the id is looked up, not derived.
  #destinationOf(jobId: string): string | undefined {
    for (const [destination, open] of this.#byDestination) {
      if (open.invoice.jobId === jobId) return destination;
    }
    return undefined;
  }

  /**
   * Checks a PREPARE against the open invoices (changes nothing).
   *
   * @example
   * ```ts
   * import assert from "node:assert/strict";
   * import { hexToBytes } from "@noble/hashes/utils.js";
   * import { InvoiceDesk } from "./invoice_desk.ts";
   *
   * const desk = new InvoiceDesk({ address: () => "g.town.provider", assetCode: "USD", assetScale: 6 });
   * const open = await desk.issue({ jobId: "e".repeat(64), amount: 100n, expiryMs: 60_000 });
   * const prepare = {
   *   amount: "100",
   *   expiresAt: new Date(Date.now() + 30_000),
   *   executionCondition: hexToBytes(open.invoice.condition),
   *   destination: open.invoice.destination,
   *   data: new Uint8Array(),
   * };
   * const m = await desk.match(prepare);
   * assert(m.ok); // the caller fulfils with m.open.fulfillment
   * assert.deepEqual(m.open.fulfillment, open.fulfillment);
   * const short = await desk.match({ ...prepare, amount: "99" });
   * assert.equal(!short.ok && short.reply.type === "reject" && short.reply.code, "F04");
   * ```
   */
  async match(prepare: IlpPrepare): Promise<InvoiceMatch> {
    const reject = (code: string, message: string): InvoiceMatch => ({
      ok: false,
      reply: {
        type: "reject",
        code,
        triggeredBy: this.#options.address(),
        message,
        data: new Uint8Array(),
      },
    });
    const open = this.#byDestination.get(prepare.destination);
    const withdrawn = this.#withdrawn.get(prepare.destination);
    if (open === undefined && withdrawn !== undefined) {
      return reject(INVOICE_WITHDRAWN_CODE, INVOICE_WITHDRAWN_MESSAGES[withdrawn]);
    }
    if (open === undefined) return reject(ILP_ERROR.unreachable, "no open invoice at this address");
    const { invoice } = open;
    if (this.#now() > invoice.expiresAt.getTime()) {
      return reject(ILP_ERROR.transferTimedOut, "invoice expired");
    }
    if (bytesToHex(prepare.executionCondition) !== invoice.condition) {
      return reject(ILP_ERROR.wrongCondition, "condition is not the invoice's");
    }
    let amount: bigint;
    try {
      amount = BigInt(prepare.amount);
    } catch {
      return reject(ILP_ERROR.invalidAmount, "amount is not an integer");
    }
    if (amount < invoice.amount) {
      return reject(
        ILP_ERROR.insufficientDestinationAmount,
        `amount below the invoice's ${invoice.amount}`,
      );
    }
    if (amount > invoice.amount) {
      return reject(ILP_ERROR.invalidAmount, `amount above the invoice's ${invoice.amount}`);
    }
    // The preimage is checked once more so a corrupted restore can never fulfil wrongly.
    if (bytesToHex(await conditionOf(open.fulfillment)) !== invoice.condition) {
      return reject(ILP_ERROR.internalError, "invoice state is inconsistent");
    }
    return { ok: true, open };
  }
}
