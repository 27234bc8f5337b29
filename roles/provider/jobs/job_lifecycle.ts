/**
 * A job between its admission and its run (the states of state/jobs/provider_job_record.ts): the
 * payment desk opened with the node's limits and told what a payment, a withdrawal or a late
 * payment means for the job; the job's quote; the payment request published once the billed
 * record is on disk; and, at restart, a record carried on from the state it was left in.
 *
 * @module
 */
import { formatAssetAmount } from "../../../protocol/asset_amount.ts";
import { ILP_ERROR, type IlpPrepare, type IlpReply } from "../../../protocol/ilp_packet.ts";
import type { NostrEvent } from "../../../protocol/nostr_event.ts";
import type { JobQuote } from "../../../protocol/provider_quote.ts";
import { billTag } from "../../../protocol/bill_tag.ts";
import type { PaymentLog } from "../../../state/payments/payment_log.ts";
import type { ProviderJobRecord } from "../../../state/jobs/provider_job_record.ts";
import type { ProviderJobStore } from "../../../state/jobs/provider_job_store.ts";
import type { TownClients } from "../../town_client/town_clients.ts";
import { PaymentDesk } from "../payments/payment_desk.ts";
import { reopenUnanswered } from "../payments/unanswered_payments.ts";
import { OwedQuestions } from "../payments/owed_questions.ts";
import { askTownOwed } from "../../town_client/owed_ask.ts";
import type { BtpClient, BtpClientState } from "../../../transport/btp_client.ts";
import { RefundDesk, type RefundDeskOptions } from "../payments/refund_desk.ts";
import { decodeRefundQuestion } from "../../../protocol/job_refund.ts";
import { paymentRequiredInfo, priceJob } from "./job_pricing.ts";
import type { SkillEntry } from "../skills/skill_catalog.ts";
import type { RunQueue } from "./run_queue.ts";
import type { JobPublisher } from "./job_publisher.ts";
import {
  DEFAULT_MAX_UNPAID,
  DEFAULT_MAX_UNPAID_PER_REQUESTER,
  DEFAULT_UNPAID_GRACE_SEC,
} from "../payments/unpaid_pool.ts";
import { countDrop, type ProviderCounters } from "../provider_counters.ts";
import { requesterShare } from "../payments/requester_share.ts";
import type { ProviderNodeOptions } from "../provider_options.ts";
import type { BackgroundWork } from "../background_work.ts";

/** Options for {@linkcode JobLifecycle}. */
export interface JobLifecycleOptions extends
  Pick<
    ProviderNodeOptions,
    | "pricePerByte"
    | "maxUnpaid"
    | "maxUnpaidPerRequester"
    | "maxUnpaidPerTrustedRequester"
    | "unpaidGraceMs"
    | "invoiceExpiryMs"
    | "deliveryExpiryMs"
  > {
  pubkey: string;
  /** This provider's ILP address (IL-DCP). */
  ilpAddress: () => string;
  store: Pick<
    ProviderJobStore,
    "get" | "put" | "income" | "ofCustomer" | "paidOnRecord"
  >;
  /** The payment log, once open. */
  payments: () => PaymentLog;
  /** Every town's client, once open. */
  towns: () => TownClients | undefined;
  /** The town a request was first found on, when not the home town. */
  foundOn: (jobId: string) => string | undefined;
  /** The town's blob price per MiB. */
  blobPricePerMiB: () => bigint;
  runs: Pick<RunQueue, "enqueue">;
  publisher: Pick<JobPublisher, "feedback" | "finishWithError" | "notifyError" | "publishResult">;
  /** A requester's slot is free again: its parked requests may come in. */
  wakeParked: (requester: string) => void;
  counters: ProviderCounters;
  work: Pick<BackgroundWork, "track" | "stopped">;
  log: (line: string) => void;
  markStatus: () => void;
  /** The refunds' key (protocol/job_refund.ts) and the home town's PREPAREs they leave by. */
  refunds: Pick<RefundDeskOptions, "signer" | "send">;
}

/**
 * Bills jobs, takes their payments and carries them on; see the module doc.
 *
 * It needs a provider's store, desk and town: no example that runs here:
 * tests/e2e/provider_crash_test.ts.
 */
export class JobLifecycle {
  #o: JobLifecycleOptions;
  #desk?: PaymentDesk;
  /** The payments counted just before a kill or a drop, asked of the town. */
  #owed?: OwedQuestions;
  #refunds?: RefundDesk;

  constructor(options: JobLifecycleOptions) {
    this.#o = options;
  }

  /** The payment desk, once open. */
  get desk(): PaymentDesk | undefined {
    return this.#desk;
  }

  /** The home town's connection changed: the payments of a drop's last moments are asked. */
  townConnection(state: BtpClientState): void {
    if (state === "open") this.#owed?.connection("open");
    else if (state === "reconnecting" || state === "closed") this.#owed?.connection("lost");
  }

  /** Refuses further payments and questions: the node is stopping. */
  close(): void {
    this.#desk?.close();
    this.#owed?.close();
  }

  /** Carries a job on from the state it is in (a restart, or a job just billed). */
  async advance(record: ProviderJobRecord): Promise<void> {
    if (this.#o.work.stopped) return;
    switch (record.status) {
      case "admitted":
        return await this.#invoice(record);
      case "invoiced":
        return this.#desk!.reopen(record);
      case "paid":
        return this.#o.runs.enqueue(record.id);
      case "result-computed":
        return await this.#o.publisher.publishResult(record);
      case "delivered":
        return this.#desk!.armDelivery(record);
      case "error":
      case "cancelled":
        if (!record.notified) await this.#o.publisher.notifyError(record);
        return;
    }
  }

  async #invoice(record: ProviderJobRecord): Promise<void> {
    const billed = await this.#desk!.bill(record);
    await this.#o.store.put(billed);
    await this.announceBill(billed);
  }

  /**
   * What this job costs its requester: the skill's price plus this provider's writes for it
   * (job_pricing.ts). A free skill (price 0) stays free: its provider chose to pay them.
   */
  quote(event: NostrEvent, entry: SkillEntry): JobQuote {
    if (entry.manifest.price === 0n) {
      return { amount: 0n, price: 0n, writes: 0n, blobs: 0n, firstWrite: 0n };
    }
    return priceJob({
      request: event,
      manifest: entry.manifest,
      // Its feedback and result are written (and paid) on each town they go to (a plain
      // relay's writes are free).
      pricePerByte: (this.#o.pricePerByte ?? 10n) * BigInt(this.#paidTargets(event)),
      blobPricePerMiB: this.#o.blobPricePerMiB(),
      providerPubkey: this.#o.pubkey,
      invoiceText: (amount) => this.#desk!.previewText(event.id, amount),
      asset: this.#desk!.asset,
    });
  }

  /** How many towns (not plain relays) a job's writes are paid at. */
  #paidTargets(event: NostrEvent): number {
    const towns = this.#o.towns();
    if (towns === undefined) return 1;
    return towns.targetsFor(event, this.#o.foundOn(event.id)).filter((r) => !towns.isPlain(r))
      .length;
  }

  /**
   * Opens the payment desk, once the asset is known (IL-DCP). First a payment an older turnpike
   * recorded and never answered (a crash between its record and its income line) awaits its
   * payment again (`unanswered_payments.ts`), before the desk takes a PREPARE; then the income of
   * the last moments of the run that ended is asked of the town over `owed.uplink`
   * (`owed_questions.ts`: killed after the income row, before the FULFILL left), before any job
   * is carried on; `owed.store` takes back what the town does not owe.
   */
  async openDesk(
    assetCode: string,
    assetScale: number,
    owed?: {
      uplink: Pick<BtpClient, "sendMessage">;
      store: Pick<ProviderJobStore, "get" | "put" | "reverseIncome" | "income">;
    },
  ): Promise<PaymentDesk> {
    const o = this.#o;
    await reopenUnanswered({ store: o.store, entries: o.payments().entries(), log: o.log });
    if (owed !== undefined) {
      const { uplink, store } = owed;
      const [payments, log] = [o.payments(), o.log];
      this.#owed = new OwedQuestions({
        ask: (conditions, paidExpiresAt) => askTownOwed(uplink, conditions, { paidExpiresAt }),
        store,
        payments,
        log,
      });
      await this.#owed.atStart();
    }
    // An invoice lives no longer than the grace its slot is held for.
    const grace = o.unpaidGraceMs ?? DEFAULT_UNPAID_GRACE_SEC * 1000;
    const [address, store, payments, log] = [() => o.ilpAddress(), o.store, o.payments(), o.log];
    this.#refunds = new RefundDesk({ ...o.refunds, address, store, payments, log });
    this.#desk = new PaymentDesk({
      address: () => o.ilpAddress(),
      assetCode,
      assetScale,
      unpaid: {
        max: o.maxUnpaid ?? DEFAULT_MAX_UNPAID,
        maxPerRequester: o.maxUnpaidPerRequester ?? DEFAULT_MAX_UNPAID_PER_REQUESTER,
        // More for a requester that paid here before (docs/PROTOCOL.md "Unpaid share from trust").
        shareOf: (requester) =>
          requesterShare(requester, {
            floor: o.maxUnpaidPerRequester ?? DEFAULT_MAX_UNPAID_PER_REQUESTER,
            ceiling: o.maxUnpaidPerTrustedRequester ?? 0,
            records: () => o.store.ofCustomer(requester),
            payments: () => o.payments().entries(),
            nowMs: Date.now(),
          }),
      },
      invoiceLifetimeMs: Math.min(o.invoiceExpiryMs ?? grace, grace),
      store: o.store,
      payments: o.payments(),
      onPaid: (record, amount, asset) => {
        o.counters.paid++;
        o.counters.earned += amount;
        o.log(
          `paid ${record.id}: ${formatAssetAmount(amount, { assetCode: asset, assetScale })}`,
        );
        o.markStatus();
        o.runs.enqueue(record.id);
        // A paying requester's slot is free again: its parked requests come in.
        o.wakeParked(record.customer);
      },
      deliveryLifetimeMs: o.deliveryExpiryMs,
      onDeliveryPaid: (record, amount, asset) => {
        o.counters.earned += amount;
        o.log(
          `delivery paid ${record.id}: ${
            formatAssetAmount(amount, { assetCode: asset, assetScale })
          }`,
        );
        o.markStatus();
      },
      onDeclined: (record) => {
        o.log(`declined ${record.id}: ${record.error}`);
        o.markStatus();
      },
      onWithdrawn: (record, reason, why) => {
        countDrop(o.counters, reason);
        o.log(`withdraw ${record.id}: ${reason} (${why})`);
        o.markStatus();
        o.work.track(o.publisher.finishWithError(record, "error", why));
      },
      onLatePayment: (destination, message) => {
        countDrop(o.counters, "late-payment");
        o.log(`late payment to ${destination} rejected: ${message}`);
        o.markStatus();
      },
      onRecordError: (jobId, err) => o.log(`cannot record payment of ${jobId}: ${err.message}`),
    });
    return this.#desk;
  }

  /** After the billed record is on disk: run a free job, or publish the payment request. */
  async announceBill(billed: ProviderJobRecord): Promise<void> {
    if (billed.status === "paid") return this.#o.runs.enqueue(billed.id);
    this.#desk!.armExpiry(billed);
    this.#o.markStatus();
    await this.#o.publisher.feedback(billed, "payment-required", {
      extraInfo: paymentRequiredInfo(BigInt(billed.price), this.#desk!.asset),
      amount: { amount: billed.price, paymentRequest: billed.invoice },
      // Its parts (protocol/bill_tag.ts): the price's share and the writes the deposit covers.
      tags: [billTag({
        price: String(BigInt(billed.price) - BigInt(billed.depositWrites ?? "0")),
        writes: billed.depositWrites ?? "0",
        blobs: "0",
      })],
    });
  }

  /** Payments go to the payment desk once it is open; until then (and when stopping) T00. */
  onPrepare(prepare: IlpPrepare): Promise<IlpReply> {
    const refund = prepare.amount === "0" ? decodeRefundQuestion(prepare.data) : undefined;
    if (refund && this.#refunds && !this.#o.work.stopped) {
      return this.#refunds.ask(refund.jobId, refund.address);
    }
    if (this.#desk !== undefined && !this.#o.work.stopped) return this.#desk.onPrepare(prepare);
    return Promise.resolve({
      type: "reject",
      code: ILP_ERROR.internalError,
      triggeredBy: this.#o.ilpAddress(),
      message: "provider not ready",
      data: new Uint8Array(),
    });
  }
}
