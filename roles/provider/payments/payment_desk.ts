/**
 * The provider's payment desk: everything between "admitted" and "paid". It bills a job (an
 * invoice in memory, or `paid` straight away for a free skill), holds the job's slot in the
 * unpaid pool and its expiry timer, matches each incoming PREPARE to its invoice, and records
 * a payment (the job record `paid` and its income row, one transaction on disk) before it
 * answers FULFILL. Invoices not paid in time, or displaced by newer requests, are withdrawn; a payment
 * arriving after that gets the withdrawal's reject. See docs/ARCHITECTURE.md, "Provider".
 *
 * @module
 */
import { bytesToHex, hexToBytes } from "@noble/hashes/utils.js";
import { ILP_ERROR, type IlpPrepare, type IlpReply } from "../../../protocol/ilp_packet.ts";
import { parseIlpInvoice } from "../../../protocol/ilp_invoice.ts";
import { decodeReceiptQuestion } from "../../../protocol/payment_receipt.ts";
import type { ProviderJobRecord } from "../../../state/jobs/provider_job_record.ts";
import type { ProviderJobStore } from "../../../state/jobs/provider_job_store.ts";
import type { PaymentEntry, PaymentLog } from "../../../state/payments/payment_log.ts";
import { INVOICE_WITHDRAWN_CODE, InvoiceDesk, type OpenInvoice } from "./invoice_desk.ts";
import {
  type UnpaidDropReason,
  UnpaidPool,
  type UnpaidPoolOptions,
  type UnpaidWithdrawalReason,
} from "./unpaid_pool.ts";

/** Options for {@linkcode PaymentDesk}. */
export interface PaymentDeskOptions {
  /** This provider's ILP address (invoices are sub-addresses of it; rejects name it). */
  address: () => string;
  assetCode: string;
  assetScale: number;
  /** Sizes of the unpaid pool. */
  unpaid: UnpaidPoolOptions;
  /** How long an invoice stays open, ms. */
  invoiceLifetimeMs: number;
  /**
   * How long a delivery invoice (paid on delivery: the one a result carries) stays open, ms;
   * past it the job is declined and its key never released. Default one day.
   */
  deliveryLifetimeMs?: number;
  /** Where job records live: a payment is recorded here before it is acknowledged. */
  store: Pick<ProviderJobStore, "get" | "put">;
  /** The payment log: takes each payment's income in (its row is the job store's). */
  payments: Pick<PaymentLog, "noteIncome">;
  /** A job was paid and recorded: run it. */
  onPaid: (record: ProviderJobRecord, amount: bigint, assetCode: string) => void;
  /** A job's delivery was paid and recorded: its key went out with the FULFILL. */
  onDeliveryPaid?: (record: ProviderJobRecord, amount: bigint, assetCode: string) => void;
  /** A delivery invoice expired unpaid: the job is declined (recorded by the desk). */
  onDeclined?: (record: ProviderJobRecord) => void;
  /** An unpaid job's invoice was withdrawn: end the job and tell its requester why. */
  onWithdrawn: (record: ProviderJobRecord, reason: UnpaidWithdrawalReason, why: string) => void;
  /** A PREPARE for a withdrawn invoice was refused. */
  onLatePayment: (destination: string, message: string) => void;
  /** A payment could not be recorded (it was rejected, so nothing is owed). */
  onRecordError: (jobId: string, error: Error) => void;
  /** Clock, ms (tests). */
  now?: () => number;
}

/** Outcome of {@linkcode PaymentDesk.reserve}. */
export type PaymentSlot = { ok: true } | {
  ok: false;
  reason: UnpaidDropReason;
  detail: string;
};

/** How long a delivery invoice stays open by default: a day. */
export const DEFAULT_DELIVERY_LIFETIME_MS = 24 * 3600_000;

const WITHDRAWAL_WHY: Readonly<Record<UnpaidWithdrawalReason, string>> = {
  "unpaid-grace": "payment not received before expiry",
  "unpaid-displaced": "invoice withdrawn unpaid: its slot went to a newer request",
};

/**
 * Bills jobs and takes their payments; see the module doc.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { hexToBytes } from "@noble/hashes/utils.js";
 * import { PaymentDesk } from "./payment_desk.ts";
 * import { parseIlpInvoice } from "../../../protocol/ilp_invoice.ts";
 * import { openProviderJobStore } from "../../../state/jobs/provider_job_store.ts";
 * import { openPaymentLog } from "../../../state/payments/payment_log.ts";
 *
 * const stateDir = await Deno.makeTempDir();
 * const store = await openProviderJobStore({ stateDir });
 * const payments = await openPaymentLog({ stateDir });
 * const ran: string[] = [];
 * const desk = new PaymentDesk({
 *   address: () => "g.town.provider",
 *   assetCode: "USD",
 *   assetScale: 6,
 *   unpaid: { max: 8, maxPerRequester: 2 },
 *   invoiceLifetimeMs: 60_000,
 *   store,
 *   payments,
 *   onPaid: (r) => ran.push(r.id),
 *   onWithdrawn: () => {},
 *   onLatePayment: () => {},
 *   onRecordError: () => {},
 * });
 * const now = new Date().toISOString();
 * const record = { // a job just admitted
 *   id: "e".repeat(64), kind: 5601, customer: "c".repeat(64), skill: "echo", price: "100",
 *   status: "admitted" as const, requestToon: "", encrypted: false, attempts: 0,
 *   admittedAt: now, updatedAt: now,
 * };
 * assert(desk.reserve(record).ok);
 * assert.equal(desk.unpaidOf(record.customer), 1);
 * const billed = await desk.bill(record);
 * await store.put(billed);
 * desk.armExpiry(billed);
 * // The requester pays the invoice: the payment is recorded, then FULFILLed and the job runs.
 * const invoice = parseIlpInvoice(billed.invoice!);
 * const reply = await desk.onPrepare({
 *   amount: "100",
 *   expiresAt: new Date(Date.now() + 30_000),
 *   executionCondition: hexToBytes(invoice.condition),
 *   destination: invoice.destination,
 *   data: new Uint8Array(),
 * });
 * assert.equal(reply.type, "fulfill");
 * assert.deepEqual(ran, [record.id]);
 * assert.equal(desk.unpaidOf(record.customer), 0);
 * assert.equal(store.get(record.id)?.status, "paid");
 * assert.equal(payments.entries()[0].event, "fulfilled"); // the income, a row with the record
 * desk.close();
 * store.close();
 * await Deno.remove(stateDir, { recursive: true });
 * ```
 */
export class PaymentDesk {
  #o: PaymentDeskOptions;
  #invoices: InvoiceDesk;
  #unpaid: UnpaidPool;
  #timers = new Map<string, ReturnType<typeof setTimeout>>();
  #closed = false;
  #now: () => number;

  constructor(options: PaymentDeskOptions) {
    this.#o = options;
    this.#now = options.now ?? Date.now;
    this.#invoices = new InvoiceDesk({
      address: options.address,
      assetCode: options.assetCode,
      assetScale: options.assetScale,
      now: this.#now,
    });
    this.#unpaid = new UnpaidPool(options.unpaid);
  }

  /** The asset invoices are in. */
  get asset(): { assetCode: string; assetScale: number } {
    return this.#invoices.asset;
  }

  /**
   * Unpaid jobs of one requester (holding a slot of the unpaid pool): the class example
   * counts one.
   */
  unpaidOf(requester: string): number {
    return this.#unpaid.countOf(requester);
  }

  /** How many unpaid jobs `requester` may have (unpaid_pool.ts `shareOf`). */
  unpaidShareOf(requester: string): number {
    return this.#unpaid.shareOf(requester);
  }

  /** Invoices open now. */
  get openInvoices(): number {
    return this.#invoices.size;
  }

  /** The text of an invoice for `amount`, opening nothing (for pricing the feedback it rides in). */
  previewText(jobId: string, amount: bigint): string {
    return this.#invoices.previewText({ jobId, amount, expiryMs: this.#o.invoiceLifetimeMs });
  }

  /**
   * Holds a slot in the unpaid pool for a paid job about to be billed. When the pool is full
   * the oldest unpaid job is withdrawn to make room; a requester over its share is refused.
   */
  reserve(record: Pick<ProviderJobRecord, "id" | "customer">): PaymentSlot {
    const slot = this.#unpaid.reserve(record.id, record.customer);
    if (!slot.ok) return slot;
    if (slot.displaced !== undefined) this.withdraw(slot.displaced, "unpaid-displaced");
    return { ok: true };
  }

  /**
   * The job's next state once billed, not persisted: `paid` for a free job, else `invoiced`
   * with a fresh invoice open in memory. Persist it, then call {@linkcode armExpiry}; if it
   * cannot be persisted, {@linkcode release} it (nobody has seen the invoice).
   */
  async bill(record: ProviderJobRecord): Promise<ProviderJobRecord> {
    const price = BigInt(record.price);
    if (price === 0n) return { ...record, status: "paid", paidAt: this.#iso() };
    const open = await this.#invoices.issue({
      jobId: record.id,
      amount: price,
      expiryMs: this.#o.invoiceLifetimeMs,
    });
    return {
      ...record,
      status: "invoiced",
      invoice: open.text,
      fulfillment: bytesToHex(open.fulfillment),
    };
  }

  /** Starts the expiry timer of an invoiced record now on disk. */
  armExpiry(record: ProviderJobRecord): void {
    this.#arm(record.id, parseIlpInvoice(record.invoice!).expiresAt.getTime());
  }

  /** Re-opens an invoiced record's invoice and slot after a restart. */
  reopen(record: ProviderJobRecord): void {
    const invoice = parseIlpInvoice(record.invoice!);
    this.#invoices.restore({
      invoice,
      text: record.invoice!,
      fulfillment: hexToBytes(record.fulfillment!),
    });
    this.#unpaid.restore(record.id, record.customer);
    this.#arm(record.id, invoice.expiresAt.getTime());
  }

  /**
   * A paid-on-delivery job's delivery invoice (docs/PROTOCOL.md "Paid on delivery"), opened in
   * memory: the record with its invoice and fulfillment, not persisted. Persist it before the
   * result that carries the invoice goes out, then {@linkcode armDelivery}. A record that has
   * one already (a restart before its result went out) gets the same invoice back.
   */
  async billDelivery(record: ProviderJobRecord): Promise<ProviderJobRecord> {
    if (record.deliveryInvoice !== undefined) {
      this.#restoreDelivery(record);
      return record;
    }
    const open = await this.#invoices.issue({
      jobId: record.id,
      amount: BigInt(record.deliveryPrice!),
      expiryMs: this.#o.deliveryLifetimeMs ?? DEFAULT_DELIVERY_LIFETIME_MS,
    });
    return {
      ...record,
      deliveryInvoice: open.text,
      deliveryFulfillment: bytesToHex(open.fulfillment),
    };
  }

  /** Starts the expiry timer of a delivery invoice now on disk (and open again, at restart). */
  armDelivery(record: ProviderJobRecord): void {
    this.#restoreDelivery(record);
    const expiresAt = parseIlpInvoice(record.deliveryInvoice!).expiresAt.getTime();
    this.#disarm(record.id);
    const t = setTimeout(() => {
      this.#timers.delete(record.id);
      if (!this.#closed) void this.#decline(record.id);
    }, Math.max(0, expiresAt - this.#now()) + 50);
    this.#timers.set(record.id, t);
  }

  #restoreDelivery(record: ProviderJobRecord): void {
    this.#invoices.restore({
      invoice: parseIlpInvoice(record.deliveryInvoice!),
      text: record.deliveryInvoice!,
      fulfillment: hexToBytes(record.deliveryFulfillment!),
    });
  }

  /** A delivery invoice expired unpaid: withdrawn, the job recorded `declined`. */
  async #decline(jobId: string): Promise<void> {
    const current = this.#o.store.get(jobId);
    if (current?.deliveryInvoice === undefined || current.deliveryPaidAt !== undefined) return;
    if (!this.#invoices.withdraw(jobId, "delivery-expired")) return;
    const declined: ProviderJobRecord = {
      ...current,
      status: "declined",
      error: "the delivery was not paid before its invoice expired",
    };
    try {
      await this.#o.store.put(declined);
    } catch (err) {
      this.#o.onRecordError(jobId, err as Error);
      return;
    }
    this.#o.onDeclined?.(declined);
  }

  /** Closes a job's invoice and frees its slot (cancelled, or never persisted). */
  release(jobId: string): void {
    this.#invoices.close(jobId);
    this.#unpaid.release(jobId);
    this.#disarm(jobId);
  }

  /**
   * Withdraws an unpaid job's invoice and frees its slot, then reports it through
   * `onWithdrawn`. Does nothing when a payment got there first.
   */
  withdraw(jobId: string, reason: UnpaidWithdrawalReason): void {
    const current = this.#o.store.get(jobId);
    if (current?.status !== "invoiced") return;
    if (!this.#invoices.withdraw(jobId, reason === "unpaid-grace" ? "grace" : "displaced")) return;
    this.#unpaid.release(jobId);
    this.#disarm(jobId);
    this.#o.onWithdrawn(current, reason, WITHDRAWAL_WHY[reason]);
  }

  /**
   * Answers a PREPARE: FULFILL only for the exact open invoice of a job awaiting payment, once
   * the payment is on disk; otherwise the precise reject.
   */
  async onPrepare(prepare: IlpPrepare): Promise<IlpReply> {
    if (this.#closed) return this.#reject(ILP_ERROR.internalError, "provider not ready");
    if (prepare.amount === "0") {
      const jobId = decodeReceiptQuestion(prepare.data);
      if (jobId !== undefined) return this.#receipt(jobId, prepare);
    }
    const match = await this.#invoices.match(prepare);
    if (!match.ok) {
      const reply = match.reply;
      if (reply.type === "reject" && reply.code === INVOICE_WITHDRAWN_CODE) {
        this.#o.onLatePayment(prepare.destination, reply.message);
      }
      return reply;
    }
    // A packet its sender has given up is not fulfilled: the FULFILL would reach it too late to
    // be paid (docs/PROTOCOL.md "Expiry"); the invoice stays open for a payment sent again.
    if (this.#now() >= prepare.expiresAt.getTime()) {
      return this.#reject(ILP_ERROR.transferTimedOut, "the packet expired before it was fulfilled");
    }
    const { invoice, fulfillment } = match.open;
    const record = this.#o.store.get(invoice.jobId);
    if (
      record?.deliveryInvoice !== undefined &&
      parseIlpInvoice(record.deliveryInvoice).condition === invoice.condition
    ) {
      return await this.#deliveryPaid(record, match.open, prepare);
    }
    if (record?.status !== "invoiced") {
      return this.#reject(ILP_ERROR.unreachable, "job is not awaiting payment");
    }
    // Closed synchronously so a concurrent identical PREPARE, or a withdrawal, cannot win too.
    if (!this.#invoices.close(invoice.jobId)) {
      // Withdrawn while this PREPARE was being checked: its payer gets the withdrawal's reject.
      const again = await this.#invoices.match(prepare);
      return again.ok
        ? this.#reject(ILP_ERROR.unreachable, "job is not awaiting payment")
        : again.reply;
    }
    this.#unpaid.release(invoice.jobId);
    this.#disarm(invoice.jobId);
    const paid: ProviderJobRecord = { ...record, status: "paid", paidAt: this.#iso() };
    if (!(await this.#record(paid, match.open, prepare))) {
      return this.#reject(ILP_ERROR.internalError, "cannot record the payment");
    }
    this.#o.onPaid(paid, invoice.amount, invoice.assetCode);
    return { type: "fulfill", fulfillment, data: new Uint8Array() };
  }

  /**
   * The delivery of a job paid: recorded (the job `published` once its result is out, the
   * payment log's line) before the FULFILL, which carries the key-releasing fulfillment.
   */
  async #deliveryPaid(
    record: ProviderJobRecord,
    open: OpenInvoice,
    prepare: IlpPrepare,
  ): Promise<IlpReply> {
    if (record.deliveryPaidAt !== undefined || record.status === "declined") {
      return this.#reject(ILP_ERROR.unreachable, "job is not awaiting payment");
    }
    // Closed synchronously so a concurrent identical PREPARE, or the expiry, cannot win too.
    if (!this.#invoices.close(record.id)) {
      return this.#reject(ILP_ERROR.unreachable, "job is not awaiting payment");
    }
    this.#disarm(record.id);
    const { invoice, fulfillment } = open;
    // Read again: the result's publication may have moved the record on meanwhile.
    const current = this.#o.store.get(record.id) ?? record;
    const paid: ProviderJobRecord = {
      ...current,
      status: current.status === "delivered" ? "published" : current.status,
      deliveryPaidAt: this.#iso(),
    };
    if (!(await this.#record(paid, open, prepare))) {
      // Not acknowledged: the invoice opens again for the payment sent again.
      this.#invoices.restore(open);
      return this.#reject(ILP_ERROR.internalError, "cannot record the payment");
    }
    this.#o.onDeliveryPaid?.(paid, invoice.amount, invoice.assetCode);
    return { type: "fulfill", fulfillment, data: new Uint8Array() };
  }

  /**
   * Records a payment before it is answered: an acknowledged payment is never lost. The record
   * that says paid and the payment's income row are one transaction of the job store, durable
   * before the FULFILL: a kill leaves both or neither (docs/PROTOCOL.md "A crash between a
   * payment's two records"). The payment log takes the income in, in memory. False (told to
   * `onRecordError`) when it could not be written. The income keeps the PREPARE's expiry: which
   * packet paid, for a town that lost its answer (protocol/payment_in_doubt.ts).
   */
  async #record(paid: ProviderJobRecord, open: OpenInvoice, prepare: IlpPrepare): Promise<boolean> {
    const { invoice, fulfillment } = open;
    const income: PaymentEntry = {
      ts: this.#iso(),
      direction: "in",
      event: "fulfilled",
      jobId: paid.id,
      invoiceId: invoice.condition,
      amount: String(invoice.amount),
      asset: invoice.assetCode,
      scale: invoice.assetScale,
      peer: paid.customer,
      fulfillment: bytesToHex(fulfillment),
      expiresAt: prepare.expiresAt.toISOString(),
      category: "job",
    };
    try {
      await this.#o.store.put(paid, { income });
      this.#o.payments.noteIncome(income);
      return true;
    } catch (err) {
      this.#o.onRecordError(paid.id, err as Error);
      return false;
    }
  }

  /** Stops the expiry timers and refuses further payments (T00): the node is stopping. */
  close(): void {
    this.#closed = true;
    for (const t of this.#timers.values()) clearTimeout(t);
    this.#timers.clear();
  }

  #arm(jobId: string, expiresAtMs: number): void {
    this.#disarm(jobId);
    const t = setTimeout(() => {
      this.#timers.delete(jobId);
      if (!this.#closed) this.withdraw(jobId, "unpaid-grace");
    }, Math.max(0, expiresAtMs - this.#now()) + 50);
    this.#timers.set(jobId, t);
  }

  #disarm(jobId: string): void {
    clearTimeout(this.#timers.get(jobId));
    this.#timers.delete(jobId);
  }

  /**
   * Answers a receipt question (protocol/payment_receipt.ts): FULFILL with the fulfillment when
   * this job's invoice, at this destination and condition, was paid; else F99. Amount 0:
   * nothing is paid, nothing recorded.
   */
  #receipt(jobId: string, prepare: IlpPrepare): IlpReply {
    const record = this.#o.store.get(jobId);
    // The deposit's invoice, or the delivery's (paid on delivery), whichever was paid.
    const paid = [
      { at: record?.paidAt, text: record?.invoice, fulfillment: record?.fulfillment },
      {
        at: record?.deliveryPaidAt,
        text: record?.deliveryInvoice,
        fulfillment: record?.deliveryFulfillment,
      },
    ].filter((p) => p.at !== undefined && p.text !== undefined && p.fulfillment);
    if (paid.length === 0) {
      return this.#reject(ILP_ERROR.finalApplicationError, "no payment received for this job");
    }
    const asked = bytesToHex(prepare.executionCondition);
    for (const p of paid) {
      const invoice = parseIlpInvoice(p.text!);
      if (invoice.destination === prepare.destination && invoice.condition === asked) {
        return { type: "fulfill", fulfillment: hexToBytes(p.fulfillment!), data: new Uint8Array() };
      }
    }
    return this.#reject(ILP_ERROR.finalApplicationError, "not this job's invoice");
  }

  #reject(code: string, message: string): IlpReply {
    return {
      type: "reject",
      code,
      triggeredBy: this.#o.address(),
      message,
      data: new Uint8Array(),
    };
  }

  #iso(): string {
    return new Date(this.#now()).toISOString();
  }
}
