/**
 * A provider's side of a deposit's refund (docs/PROTOCOL.md "Refunds: the provider's own
 * failures", protocol/job_refund.ts): asked by a requester, it pays back the deposit of a job
 * that ended in error for a cause on the provider's side ({@linkcode providerSideCause}), once
 * per job and never more than the deposit paid. The payment log's intent (`out`, keyed
 * `refund:<job id>`) is on disk before the PREPARE leaves, so a refund is sent at most once
 * even across a crash between the two: an intent with no outcome is in doubt and is not sent
 * again (`turnpike wallet` lists it for the operator), as the requester's payments are. The
 * refund paid is a row of the provider's income table (`ProviderJobStore.income`, `refund`), kept
 * as long as the income it pays back; the payment log takes it in from there, as it does income.
 *
 * @module
 */
import { bytesToHex } from "@noble/hashes/utils.js";
import { parseIlpInvoice } from "../../../protocol/ilp_invoice.ts";
import { ILP_ERROR, type IlpPrepare, type IlpReply } from "../../../protocol/ilp_packet.ts";
import { encodeRefundPayment, refundInvoiceId, refundLock } from "../../../protocol/job_refund.ts";
import type { NodeSigner } from "../../../protocol/node_signer.ts";
import type { ProviderJobRecord } from "../../../state/jobs/provider_job_record.ts";
import type { ProviderJobStore } from "../../../state/jobs/provider_job_store.ts";
import { RESTARTED_WHILE_RUNNING } from "../jobs/job_recovery.ts";
import { PRESET_CANNOT_RUN } from "../../agent_work/provider/agent_task_runner.ts";
import type { PaymentEntry, PaymentLog } from "../../../state/payments/payment_log.ts";

/** The error codes of a run the provider's own machinery failed (roles/provider/jobs/job_run.ts). */
const PROVIDER_CODES = ["sandbox-error", "agent-sandbox-error", "unavailable", "skill-refused"];

/**
 * The cause on the provider's side a failed job ended for, or undefined when the failure is the
 * requester's or its agent's (a failed gate, a declined delivery, no commits, the budget spent).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { providerSideCause } from "./refund_desk.ts";
 *
 * // The sandbox failed: the provider's cause, its deposit goes back when asked.
 * const sandboxFailed = { status: "error" as const, error: "sandbox", errorCode: "sandbox-error" };
 * assert.equal(providerSideCause(sandboxFailed), "sandbox-error");
 * // The requester's gate failed: not the provider's.
 * const gateFailed = { status: "error" as const, error: "gate failed", errorCode: "gate-failed" };
 * assert.equal(providerSideCause(gateFailed), undefined);
 * ```
 */
export function providerSideCause(
  record: Pick<ProviderJobRecord, "status" | "error" | "errorCode">,
): string | undefined {
  if (record.status !== "error") return undefined;
  const error = record.error ?? "";
  if (error.startsWith(RESTARTED_WHILE_RUNNING)) return "restarted";
  if (error.startsWith(`failed: ${PRESET_CANNOT_RUN}:`)) return PRESET_CANNOT_RUN;
  const code = record.errorCode;
  return code !== undefined && PROVIDER_CODES.includes(code) ? code : undefined;
}

/** Options for {@linkcode RefundDesk}. */
export interface RefundDeskOptions {
  /** This provider's ILP address (the rejects' `triggeredBy`). */
  address: () => string;
  store: Pick<ProviderJobStore, "get" | "income">;
  payments: Pick<PaymentLog, "append" | "invoiceState" | "noteIncome">;
  signer: Pick<NodeSigner, "conversationKey">;
  /** Sends a PREPARE by the home town. */
  send: (prepare: IlpPrepare) => Promise<IlpReply>;
  log: (line: string) => void;
}

/** How long the refund's PREPARE may take (within the question's 30 s). */
const REFUND_EXPIRY_MS = 20_000;

/**
 * How long after its admission a job's refund may be asked for. Its intent, written when it is
 * sent, is a payment log line, kept 30 days: within this window every question sees an intent sent
 * before, so a refund in doubt is never sent again however late it is asked.
 */
const REFUND_WINDOW_MS = 7 * 86_400_000;

/**
 * Answers refund questions; see the module doc.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { generateSecretKey } from "nostr-tools/pure";
 * import { RefundDesk } from "./refund_desk.ts";
 * import { localNodeSigner } from "../../../identity/local_node_signer.ts";
 * import { openPaymentLog } from "../../../state/payments/payment_log.ts";
 * import { openProviderJobStore } from "../../../state/jobs/provider_job_store.ts";
 *
 * const stateDir = await Deno.makeTempDir();
 * using signer = localNodeSigner(generateSecretKey());
 * const store = await openProviderJobStore({ stateDir }); // no jobs yet
 * const desk = new RefundDesk({
 *   address: () => "g.town.provider",
 *   store,
 *   payments: await openPaymentLog({ stateDir }),
 *   signer,
 *   send: () => Promise.reject(new Error("nothing is owed: nothing is sent")),
 *   log: () => {},
 * });
 * const answer = await desk.ask("ab".repeat(32), "g.town.alice"); // F99: what happened
 * assert.equal(answer.type === "reject" && answer.message, "no-refund: no such job");
 * store.close();
 * await Deno.remove(stateDir, { recursive: true });
 * // A refund paid: tests/unit/roles/provider/refund_desk_test.ts.
 * ```
 */
export class RefundDesk {
  #o: RefundDeskOptions;
  /** The jobs whose refund is being sent now: a second question waits for no second payment. */
  #sending = new Set<string>();

  constructor(options: RefundDeskOptions) {
    this.#o = options;
  }

  /** Pays the refund of `jobId` to `address` when it is owed; answers what happened (F99). */
  async ask(jobId: string, address: string): Promise<IlpReply> {
    const record = this.#o.store.get(jobId);
    if (record === undefined) return this.#answer("no-refund: no such job");
    const cause = providerSideCause(record);
    if (record.paidAt === undefined || record.invoice === undefined) {
      return this.#answer("no-refund: no deposit was paid");
    }
    if (cause === undefined) {
      return this.#answer(`no-refund: the job's failure is not the provider's (${record.error})`);
    }
    const invoiceId = refundInvoiceId(jobId);
    const state = this.#o.payments.invoiceState(invoiceId);
    // The refund paid is a row kept as long as the income: paid months ago is still paid.
    if (state === "paid" || this.#o.store.income.stands(invoiceId)) {
      return this.#answer("already-refunded");
    }
    if (this.#sending.has(jobId)) return this.#answer("refund-being-sent: ask again");
    if (state === "in-doubt") return this.#answer("refund-in-doubt: sent before; not sent again");
    if (Date.now() - Date.parse(record.admittedAt) > REFUND_WINDOW_MS) {
      return this.#answer("no-refund: asked more than 7 days after the job was admitted");
    }
    this.#sending.add(jobId);
    try {
      return await this.#pay(record, cause, address);
    } finally {
      this.#sending.delete(jobId);
    }
  }

  async #pay(record: ProviderJobRecord, cause: string, address: string): Promise<IlpReply> {
    const deposit = parseIlpInvoice(record.invoice!);
    const { condition } = refundLock(
      await this.#o.signer.conversationKey(record.customer),
      record.id,
    );
    const intent: PaymentEntry = {
      ts: new Date().toISOString(),
      direction: "out",
      event: "intent",
      jobId: record.id,
      invoiceId: refundInvoiceId(record.id),
      amount: String(deposit.amount),
      asset: deposit.assetCode,
      scale: deposit.assetScale,
      peer: record.customer,
      category: "job",
    };
    await this.#o.payments.append(intent);
    const reply = await this.#o.send({
      amount: String(deposit.amount),
      destination: address,
      executionCondition: condition,
      expiresAt: new Date(Date.now() + REFUND_EXPIRY_MS),
      data: encodeRefundPayment(record.id),
    }).catch((err: Error) => err);
    // The uplink failed under the PREPARE: it may have been fulfilled; in doubt, never sent again.
    if (reply instanceof Error) return this.#answer(`refund-in-doubt: ${reply.message}`);
    const ts = new Date().toISOString();
    if (reply.type === "fulfill") {
      const fulfillment = bytesToHex(reply.fulfillment);
      const refunded: PaymentEntry = { ...intent, ts, event: "fulfilled", fulfillment };
      this.#o.store.income.refund(refunded);
      this.#o.payments.noteIncome(refunded);
      this.#o.log(`refunded ${record.id}: ${deposit.amount} (${cause})`);
      return this.#answer(`refunded ${deposit.amount}`);
    }
    const reason = `${reply.code} ${reply.message}`.slice(0, 200);
    await this.#o.payments.append({ ...intent, ts, event: "rejected", reason });
    // The requester took it before (its answer to a refund sent again): it is not owed twice.
    if (reply.message === "already-refunded") return this.#answer("already-refunded");
    return this.#answer(`refund-not-taken: ${reason}; ask again`);
  }

  #answer(message: string): IlpReply {
    return {
      type: "reject",
      code: ILP_ERROR.finalApplicationError,
      triggeredBy: this.#o.address(),
      message,
      data: new Uint8Array(),
    };
  }
}
