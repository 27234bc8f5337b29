/**
 * The requester's payer: pays a provider's ILP invoice for a job within the job's bid and the
 * spend policy, with the payment log's never-pay-twice protocol (`state/payments/payment_log.ts`): the
 * job record goes to `paying` and the log gets the intent (both on disk) before the PREPARE;
 * the outcome goes to the log first, then to the job's record. A payment whose outcome is
 * unknown is never sent again while it may have been paid: the provider is asked for its receipt,
 * again when its result comes (`settleAtResult`), and after the PREPARE's expiry its town, whose
 * word that it never forwarded it lets the invoice be paid again (`doubt_at_town.ts`); else its
 * result (or the timeout) ends the job. A town refusing for now (rate limited, busy, a channel not yet
 * covering it) is paid again while the invoice has time left (`JOB_PAYMENT_RETRY`). An invoice
 * whose destination is not the provider's announced ILP address, or under it, is never paid
 * (`protocol/invoice_destination.ts`).
 *
 * @module
 */
import type { InvoiceParts } from "../../protocol/bill_tag.ts";
import { bytesToHex, hexToBytes } from "@noble/hashes/utils.js";
import {
  ILP_ERROR,
  type IlpPrepare,
  type IlpReject,
  type IlpReply,
} from "../../protocol/ilp_packet.ts";
import { type IlpInvoice, parseIlpInvoice } from "../../protocol/ilp_invoice.ts";
import { formatAssetAmount } from "../../protocol/asset_amount.ts";
import { conditionOf } from "../../protocol/ilp_fulfillment.ts";
import {
  decideSpend,
  MIN_INVOICE_TIME_LEFT_MS,
  type SpendPolicy,
  tooSoonToPay,
} from "../../protocol/spend_policy.ts";
import { checkInvoiceDestination } from "../../protocol/invoice_destination.ts";
import { sleep } from "../../protocol/backoff.ts";
import type { RequesterJobRecord } from "../../state/jobs/job_record.ts";
import type { InvoiceState, PaymentEntry, PaymentLog } from "../../state/payments/payment_log.ts";
import {
  isRetryablePaymentReject,
  rejectClaimReason,
  rejectSuggestion,
} from "../town_client/town_rejection.ts";
import { JOB_PAYMENT_RETRY, nextRetryWait } from "../town_client/town_retry.ts";
import { PaymentInDoubtError, type TownLinks } from "./town_links.ts";
import { ProviderAddresses } from "./provider_addresses.ts";
import { askReceipt } from "./receipt_ask.ts";
import { JOB_PREPARE_LIFETIME_MS, notForwardedByTown } from "./doubt_at_town.ts";
import type { DepositDeadline } from "../../protocol/deposit_deadline.ts";
import type { PayerJobs } from "./payer_jobs.ts";

/** Options for {@linkcode JobPayer}. */
export interface JobPayerOptions {
  /** The payment log (opened with the node: read when a payment is made). */
  payments: () => Pick<
    PaymentLog,
    "append" | "invoiceState" | "invoiceEntry" | "spentOn" | "hasPaid"
  >;
  /**
   * The towns: a PREPARE leaves by the first open one (`sendPayment`); their relays tell each
   * provider's announced ILP address (kind 10032), the only place an invoice is paid at or under
   * (`roles/requester/provider_addresses.ts`).
   */
  links: () => Pick<TownLinks, "sendPayment" | "relays" | "all">;
  /** A job's record as it is on disk. */
  read: (id: string) => Promise<RequesterJobRecord | undefined>;
  /** The job's record writes and progress lines. */
  jobs: PayerJobs;
  /** The spend limits (none when absent). */
  spendPolicy?: SpendPolicy;
  /** The asset invoices must be in (any when absent). */
  asset?: string;
  /** Whether the node is closing (no payment is sent again then). */
  closed: () => boolean;
  /** Aborted by the node's close: cuts a wait before paying again short. */
  closing: AbortSignal;
}

/** Options of {@linkcode JobPayer.pay}. */
export interface PayOptions {
  /** The invoice came in a `payment-required` feedback, whose status this call records. */
  fromFeedback?: boolean;
  /** The job's record as the caller just read it in the job's queue (saves a read). */
  current?: RequesterJobRecord;
  /** How many times the town refused this invoice for now before (`JOB_PAYMENT_RETRY`). */
  attempt?: number;
  /** The invoice's parts, as its event's `bill` tag gives them (protocol/bill_tag.ts). */
  parts?: InvoiceParts;
  /** A deposit's deadline: not paid past it (protocol/deposit_deadline.ts). */
  deadline?: DepositDeadline;
}

/** A payment's log entry without its time and event (the intent's and the outcome's). */
type PaymentIntent = Omit<PaymentEntry, "ts" | "event">;

/** A payment that never left (no connection, a claim not signed): no ILP answer, no money moved. */
type LocalFailure = { type: "reject"; code: string; message: string; local: true };

/**
 * Pays jobs' invoices; see the module doc.
 *
 * It pays over a town: no example that runs here: tests/e2e/requester_job_flow_test.ts.
 */
export class JobPayer {
  #o: JobPayerOptions;
  #addresses: ProviderAddresses;

  constructor(options: JobPayerOptions) {
    this.#o = options;
    this.#addresses = new ProviderAddresses({ relays: () => options.links().relays });
  }

  /**
   * Pays one invoice; true when paid (now or before). `fromFeedback`: the invoice came in a
   * `payment-required` feedback, whose status this call records (as `paying` when it pays).
   * `attempt`: how many times the town refused this invoice for now before (JOB_PAYMENT_RETRY).
   */
  async pay(
    id: string,
    invoiceText: string,
    provider: string,
    options: PayOptions = {},
  ): Promise<boolean> {
    const jobs = this.#o.jobs;
    if (options.fromFeedback) jobs.progress(id, "payment-required");
    const invoice = await this.#parse(id, invoiceText);
    if (invoice === undefined) return false;
    const invoiceId = invoice.condition;
    const state = this.#o.payments().invoiceState(invoiceId);
    if (state !== "none" && state !== "rejected" && options.fromFeedback) {
      await jobs.advance(id, "payment-required", { quiet: true });
    }
    if (state === "paid") return true;
    // Paid again only once the town said it never forwarded the one in doubt (its record read
    // afresh then: the payment in doubt is `rejected` on it, not counted against the bid).
    const again = () =>
      this.pay(id, invoiceText, provider, { ...options, fromFeedback: false, current: undefined });
    if (state === "in-doubt") {
      // A crash mid-payment: never pay again; ask the provider for its receipt, else its town.
      const entry = this.#o.payments().invoiceEntry(invoiceId);
      return await this.#settleDoubt(id, invoice, entry, Date.parse(entry?.ts ?? ""), again);
    }
    // The bid and the payments so far: only this handler (events of a job run one at a time)
    // changes them, so the feed's read serves (the status write above changes neither).
    const record = options.current ?? (await this.#o.read(id))!;
    if (invoice.jobId !== id) {
      await jobs.finish(id, "payment-refused", { error: `invoice is for job ${invoice.jobId}` });
      return false;
    }
    const now = Date.now();
    if (!(await this.#allowed(id, invoice, provider, record, state, now, options))) return false;
    if (!(await this.#paysProvider(id, invoice, provider))) return false;
    const entry = await this.#recordIntent(id, invoice, provider, now, options.parts);
    if (await this.#tooLateToSend(id, invoice, entry)) return false;
    const reply = await this.#sendPrepare(invoice, now);
    if (reply === "in-doubt") {
      // Never paid again. The provider's receipt settles it; without one the intent stays
      // without an outcome, and the result, or the timeout, ends the job.
      return await this.#settleDoubt(id, invoice, entry, now, again);
    }
    if (reply.type === "fulfill") return await this.#fulfilled(id, invoice, entry, reply);
    return await this.#rejected(id, invoiceText, provider, invoice, entry, reply, options);
  }

  /**
   * A result came for a job: each payment of its record still in doubt (a crash between its
   * PREPARE and its outcome's line, an answer lost) asks its receipt now, and a FULFILL is
   * logged. Returns the invoices still in doubt (no receipt, or no destination on the record).
   */
  async settleAtResult(id: string, record: RequesterJobRecord): Promise<string[]> {
    const left: string[] = [];
    for (const p of record.payments.filter((p) => p.status === "paying")) {
      const log = this.#o.payments();
      const entry = log.invoiceEntry(p.invoiceId);
      if (log.invoiceState(p.invoiceId) !== "in-doubt" || entry === undefined) continue;
      const at = { condition: p.invoiceId, destination: p.destination ?? "" };
      if (!p.destination || !(await this.#askReceipt(id, at, entry))) left.push(p.invoiceId);
    }
    return left;
  }

  /** The invoice read from its text; one that does not parse refuses the payment. */
  async #parse(id: string, invoiceText: string): Promise<IlpInvoice | undefined> {
    try {
      return parseIlpInvoice(invoiceText);
    } catch (err) {
      await this.#o.jobs.finish(id, "payment-refused", { error: (err as Error).message });
      return undefined;
    }
  }

  /**
   * A payment in doubt: never sent again while it may have been paid. True when the provider's
   * receipt says it was paid, or when its town said it never forwarded it (no money moved:
   * roles/requester/doubt_at_town.ts) and `again` paid it; else it stays in doubt (the result,
   * or the timeout, ends the job).
   */
  async #settleDoubt(
    id: string,
    invoice: IlpInvoice,
    entry: PaymentIntent | undefined,
    sentAtMs: number,
    again: () => Promise<boolean>,
  ): Promise<boolean> {
    if (entry !== undefined && await this.#askReceipt(id, invoice, entry)) return true;
    const held = `invoice ${invoice.condition.slice(0, 12)} in doubt`;
    this.#o.jobs.progress(id, "paying", `${held}: not paid again unless its town never sent it`);
    // The node closing, or the job cancelled or timed out meanwhile (its end queued behind
    // this): not paid.
    const signal = AbortSignal.any([this.#o.closing, this.#o.jobs.endSignal(id)]);
    const town = entry && !Number.isNaN(sentAtMs) && await notForwardedByTown({
      links: () => this.#o.links().all,
      invoice,
      sentAtMs,
      minTimeLeftMs: MIN_INVOICE_TIME_LEFT_MS,
      signal,
    });
    if (!town || this.#o.closed() || signal.aborted) return false;
    const reason = `never forwarded by town ${town} (asked after its PREPARE expired)`;
    await this.#recordPaymentOutcome(id, entry!, { event: "rejected", reason }, {
      action: "payment-rejected",
      fields: { Invoice: invoice.condition, Code: "not-forwarded" },
    });
    this.#o.jobs.progress(id, "paying", `${held}: ${reason}: no money moved, paying again`);
    return await again();
  }

  /** The spend policy's decision (protocol/spend_policy.ts); a refusal ends the job. */
  async #allowed(
    id: string,
    invoice: IlpInvoice,
    provider: string,
    record: RequesterJobRecord,
    state: InvoiceState,
    now: number,
    options: Pick<PayOptions, "deadline">,
  ): Promise<boolean> {
    const payments = this.#o.payments();
    const invoiceId = invoice.condition;
    const paidForJob = record.payments
      .filter((p) => p.status !== "rejected")
      .reduce((sum, p) => sum + p.amount, 0n);
    const decision = decideSpend(this.#o.spendPolicy ?? {}, {
      invoiceId,
      amount: invoice.amount,
      asset: invoice.assetCode,
      expectedAsset: this.#o.asset,
      provider,
      bid: record.bid,
      paidForJob,
      spentTodayProvider: payments.spentOn({ peer: provider }),
      spentToday: payments.spentOn(),
      alreadyAttempted: state === "rejected" ? false : payments.hasPaid(invoiceId),
      expiresAtMs: invoice.expiresAt.getTime(),
      nowMs: now,
      minTimeLeftMs: MIN_INVOICE_TIME_LEFT_MS,
      deposit: options.deadline,
    });
    if (decision.pay) return true;
    await this.#o.jobs.finish(id, "payment-refused", {
      error: `${decision.reason}: ${decision.detail}`,
    });
    return false;
  }

  /**
   * Whether the invoice pays the provider: its destination is the provider's announced ILP
   * address or under it (`protocol/invoice_destination.ts`); else the job ends refused, nothing
   * paid. A kept address that does not match is read again before refusing.
   */
  async #paysProvider(id: string, invoice: IlpInvoice, provider: string): Promise<boolean> {
    const check = async (fresh: boolean) =>
      checkInvoiceDestination(
        invoice.destination,
        await this.#addresses.of(provider, { fresh }),
      );
    let refusal: string;
    try {
      let decision = await check(false);
      if (!decision.pay) decision = await check(true);
      if (decision.pay) return true;
      refusal = `${decision.reason}: ${decision.detail}`;
    } catch (err) {
      refusal = `no-announced-address: the provider's ILP address could not be read (${
        (err as Error).message
      }), so ${invoice.destination} is not paid`;
    }
    await this.#o.jobs.finish(id, "payment-refused", { error: refusal });
    return false;
  }

  /**
   * The job `paying` with this payment on its record, then the payment log's intent: both on
   * disk before the PREPARE. Returns the payment's log entry.
   */
  async #recordIntent(
    id: string,
    invoice: IlpInvoice,
    provider: string,
    now: number,
    parts: InvoiceParts | undefined,
  ): Promise<PaymentIntent> {
    const invoiceId = invoice.condition;
    await this.#o.jobs.update(id, (r) => ({
      ...r,
      status: "paying",
      payments: [...r.payments.filter((p) => p.invoiceId !== invoiceId), {
        invoiceId,
        amount: invoice.amount,
        asset: invoice.assetCode,
        scale: invoice.assetScale,
        status: "paying",
        destination: invoice.destination,
        startedAtMs: now,
      }],
    }), { action: "pay", fields: { Invoice: invoiceId, Amount: String(invoice.amount) } });
    const entry = {
      direction: "out" as const,
      jobId: id,
      invoiceId,
      amount: String(invoice.amount),
      asset: invoice.assetCode,
      scale: invoice.assetScale,
      peer: provider,
      category: "job" as const,
      ...(parts === undefined ? {} : { parts }),
    };
    await this.#o.payments().append({ ...entry, ts: new Date().toISOString(), event: "intent" });
    this.#o.jobs.progress(
      id,
      "paying",
      `${formatAssetAmount(invoice.amount, invoice)} to ${invoice.destination}`,
    );
    return entry;
  }

  /**
   * The record and the intent took their fsyncs: not sent if the invoice now expires too soon
   * (the intent's outcome says so: no money moved; the job is refused). True when not sent.
   */
  async #tooLateToSend(id: string, invoice: IlpInvoice, entry: PaymentIntent): Promise<boolean> {
    const left = invoice.expiresAt.getTime() - Date.now();
    if (left >= MIN_INVOICE_TIME_LEFT_MS) return false;
    await this.#recordPaymentOutcome(id, entry, {
      event: "rejected",
      reason: `not sent: ${tooSoonToPay(left)}`,
    }, { action: "payment-not-sent", fields: { Invoice: invoice.condition } });
    await this.#o.jobs.finish(id, "payment-refused", { error: `expired: ${tooSoonToPay(left)}` });
    return true;
  }

  /**
   * The PREPARE, by the first open town, the next if it dies under it. No answer after it left
   * (a timeout, the socket lost: {@linkcode PaymentInDoubtError}) is in doubt, never sent again;
   * only a failure before sending (no open link, a claim not signed) is a local reject.
   */
  #sendPrepare(invoice: IlpInvoice, now: number): Promise<IlpReply | LocalFailure | "in-doubt"> {
    return this.#o.links().sendPayment({
      amount: String(invoice.amount),
      destination: invoice.destination,
      executionCondition: hexToBytes(invoice.condition),
      expiresAt: new Date(Math.min(invoice.expiresAt.getTime(), now + JOB_PREPARE_LIFETIME_MS)),
      data: new Uint8Array(),
    }).catch((err): LocalFailure | "in-doubt" =>
      err instanceof PaymentInDoubtError ? "in-doubt" : {
        type: "reject",
        code: ILP_ERROR.internalError,
        message: (err as Error).message,
        local: true,
      }
    );
  }

  /** A FULFILL: paid when its fulfillment matches the condition, else left in doubt. */
  async #fulfilled(
    id: string,
    invoice: IlpInvoice,
    entry: PaymentIntent,
    reply: { fulfillment: Uint8Array },
  ): Promise<boolean> {
    const fulfillment = bytesToHex(reply.fulfillment);
    const check = bytesToHex(await conditionOf(reply.fulfillment));
    if (check === invoice.condition) {
      await this.#recordPaymentOutcome(id, entry, { event: "fulfilled", fulfillment }, {
        action: "paid",
        fields: { Invoice: invoice.condition, Fulfillment: fulfillment },
      });
      this.#o.jobs.progress(id, "paid", `receipt ${fulfillment.slice(0, 16)}`, {
        paid: entry.amount,
      });
      return true;
    }
    // A fulfillment that does not match leaves the payment in doubt (the log keeps the intent).
    this.#o.jobs.progress(
      id,
      "paying",
      `invoice ${invoice.condition.slice(0, 12)}: fulfillment does not match`,
    );
    return false;
  }

  /**
   * A REJECT (or no answer): recorded; a refusal for now is paid again after a wait while the
   * invoice has time left, anything else ends the job `error`.
   */
  async #rejected(
    id: string,
    invoiceText: string,
    provider: string,
    invoice: IlpInvoice,
    entry: PaymentIntent,
    reply: ({ type: "reject" } & IlpReject) | LocalFailure,
    options: PayOptions,
  ): Promise<boolean> {
    const reason = `${reply.code} ${reply.message}`.trim();
    await this.#recordPaymentOutcome(id, entry, { event: "rejected", reason }, {
      action: "payment-rejected",
      fields: { Invoice: invoice.condition, Code: reply.code },
    });
    const attempt = (options.attempt ?? 0) + 1;
    if (
      !("local" in reply) && isRetryablePaymentReject(reply.code, rejectClaimReason(reply)) &&
      !this.#o.closed()
    ) {
      const wait = nextRetryWait(JOB_PAYMENT_RETRY, attempt - 1, {
        until: invoice.expiresAt.getTime(),
        leaveMs: MIN_INVOICE_TIME_LEFT_MS,
      });
      if (wait !== undefined) {
        // A definite REJECT moved no money: the same invoice is paid again (its log state is
        // `rejected`, which allows a new intent), the job record keeps one payment for it.
        this.#o.jobs.progress(
          id,
          "paying",
          `refused for now (${reason}): paying again in ${wait} ms`,
        );
        await sleep(wait, this.#o.closing);
        // Closing: the job stays `paying`, its invoice `rejected` in the log (no money moved).
        if (this.#o.closed()) return false;
        const { parts, deadline } = options;
        return await this.pay(id, invoiceText, provider, { attempt, parts, deadline });
      }
    }
    await this.#o.jobs.finish(id, "error", {
      // Never sent (no open connection, a claim not signed): the town did not refuse anything,
      // so the reason does not blame it.
      error: "local" in reply
        ? `payment failed: ${reply.message} (not sent: nothing was paid)`
        : `payment rejected: ${reason} (${rejectSuggestion(reply.code, rejectClaimReason(reply))})`,
    });
    return false;
  }

  /**
   * Asks the provider whether an in-doubt payment reached it (protocol/payment_receipt.ts: a
   * PREPARE of amount 0 with the invoice's condition, by any open town); a FULFILL whose
   * fulfillment matches the condition is the receipt, recorded as the payment's outcome.
   * Returns whether it was paid; false also when nobody could answer (it stays in doubt).
   */
  async #askReceipt(
    id: string,
    invoice: Pick<IlpInvoice, "condition" | "destination">,
    entry: PaymentIntent,
  ): Promise<boolean> {
    const { condition, destination } = invoice;
    const send = (prepare: IlpPrepare) => this.#o.links().sendPayment(prepare);
    const fulfillment = await askReceipt({ send, jobId: id, condition, destination });
    if (fulfillment === undefined) return false;
    await this.#recordPaymentOutcome(id, entry, { event: "fulfilled", fulfillment }, {
      action: "paid",
      fields: { Invoice: invoice.condition, Fulfillment: fulfillment, By: "receipt" },
    });
    this.#o.jobs.progress(id, "paid", `receipt ${fulfillment.slice(0, 16)} (asked after a doubt)`);
    return true;
  }

  /**
   * A payment's outcome, in the payment log first (the money's record), then on the job's
   * record: the payment `paid` with its fulfillment (the job `paid` if it was `paying`), or
   * `rejected` with the reason.
   */
  async #recordPaymentOutcome(
    id: string,
    entry: PaymentIntent,
    outcome: { event: "fulfilled"; fulfillment: string } | { event: "rejected"; reason: string },
    audit: { action: string; fields: Record<string, string> },
  ): Promise<void> {
    await this.#o.payments().append({ ...entry, ...outcome, ts: new Date().toISOString() });
    const paid = outcome.event === "fulfilled";
    const detail = paid ? { fulfillment: outcome.fulfillment } : { reason: outcome.reason };
    await this.#o.jobs.update(id, (r) => ({
      ...r,
      status: paid && r.status === "paying" ? "paid" : r.status,
      payments: r.payments.map((p) =>
        p.invoiceId === entry.invoiceId
          ? { ...p, ...detail, status: paid ? "paid" : "rejected", finishedAtMs: Date.now() }
          : p
      ),
    }), audit);
  }
}
