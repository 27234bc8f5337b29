/**
 * Test helper: a provider's payment desk (roles/provider/payments/payment_desk.ts) on a real job store and
 * payment log in a temp dir, with what it told the node recorded, and the PREPARE a requester
 * builds from an invoice.
 *
 * @module
 */
import { assert } from "../../harness/assert.ts";
import { hexToBytes } from "@noble/hashes/utils.js";
import {
  PaymentDesk,
  type PaymentDeskOptions,
} from "../../roles/provider/payments/payment_desk.ts";
import { parseIlpInvoice } from "../../protocol/ilp_invoice.ts";
import type { IlpPrepare, IlpReply } from "../../protocol/ilp_packet.ts";
import {
  openProviderJobStore,
  type ProviderJobStore,
} from "../../state/jobs/provider_job_store.ts";
import { openPaymentLog, type PaymentLog } from "../../state/payments/payment_log.ts";
import type { ProviderJobRecord } from "../../state/jobs/provider_job_record.ts";
import type { UnpaidWithdrawalReason } from "../../roles/provider/payments/unpaid_pool.ts";

/** The PREPARE a requester builds from an invoice string (its amount, or `amount`). */
export function prepareForInvoice(invoiceText: string, amount?: string): IlpPrepare {
  const invoice = parseIlpInvoice(invoiceText);
  return {
    amount: amount ?? String(invoice.amount),
    destination: invoice.destination,
    executionCondition: hexToBytes(invoice.condition),
    expiresAt: new Date(Date.now() + 30_000),
    data: new Uint8Array(),
  };
}

/** A reply's code, `fulfill` for a FULFILL. */
export const replyCode = (reply: IlpReply): string =>
  reply.type === "reject" ? reply.code : "fulfill";

/** A desk open on a state dir, and what it told the node. */
export interface TestDesk {
  desk: PaymentDesk;
  store: ProviderJobStore;
  payments: PaymentLog;
  paid: string[];
  withdrawn: [string, UnpaidWithdrawalReason][];
  late: string[];
  delivered: string[];
  declined: string[];
  /** Reserve, bill, persist, arm: what the node does on admission. */
  admit(record: ProviderJobRecord): Promise<ProviderJobRecord>;
}

/**
 * Opens a desk at `test.town.beta` (USD, scale 6, two unpaid jobs in all and per requester,
 * invoices of 60 s) on `stateDir`; `overrides` replaces any option.
 */
export async function openTestDesk(
  stateDir: string,
  overrides: Partial<PaymentDeskOptions> = {},
): Promise<TestDesk> {
  const store = await openProviderJobStore({ stateDir });
  const payments = await openPaymentLog({ stateDir });
  const told = {
    paid: [] as string[],
    withdrawn: [] as [string, UnpaidWithdrawalReason][],
    late: [] as string[],
    delivered: [] as string[],
    declined: [] as string[],
  };
  const desk = new PaymentDesk({
    address: () => "test.town.beta",
    assetCode: "USD",
    assetScale: 6,
    unpaid: { max: 2, maxPerRequester: 2 },
    invoiceLifetimeMs: 60_000,
    store,
    payments,
    onPaid: (r) => told.paid.push(r.id),
    onDeliveryPaid: (r) => told.delivered.push(r.id),
    onDeclined: (r) => told.declined.push(r.id),
    onWithdrawn: (r, reason) => told.withdrawn.push([r.id, reason]),
    onLatePayment: (_, message) => told.late.push(message),
    onRecordError: (id, err) => {
      throw new Error(`unexpected record error for ${id}: ${err.message}`);
    },
    ...overrides,
  });
  const admit = async (record: ProviderJobRecord) => {
    const slot = desk.reserve(record);
    assert(slot.ok, `slot refused: ${JSON.stringify(slot)}`);
    const billed = await desk.bill(record);
    await store.put(billed);
    if (billed.status === "invoiced") desk.armExpiry(billed);
    return billed;
  };
  return { desk, store, payments, ...told, admit };
}
