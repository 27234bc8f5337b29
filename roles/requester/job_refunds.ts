/**
 * A requester's side of a deposit's refund (docs/PROTOCOL.md "Refunds: the provider's own
 * failures", protocol/job_refund.ts): a job that ends in error with its deposit paid asks its
 * provider for the refund, and the refund's PREPARE, arriving on the home town's link, is taken
 * once per job and never for more than the job paid: the payment log's line (`in`, keyed
 * `refund:<job id>`) and the job record's `refund` are on disk before the FULFILL.
 *
 * @module
 */
import { bytesToHex } from "@noble/hashes/utils.js";
import { ILP_ERROR, type IlpPrepare, type IlpReply } from "../../protocol/ilp_packet.ts";
import {
  decodeRefundPayment,
  encodeRefundQuestion,
  refundInvoiceId,
  refundLock,
} from "../../protocol/job_refund.ts";
import { MIN_FULFILL_TIME_LEFT_MS } from "../../protocol/ilp_fulfillment.ts";
import type { NodeSigner } from "../../protocol/node_signer.ts";
import type { RequesterJobRecord } from "../../state/jobs/job_record.ts";
import type { JobRepository } from "../../state/jobs/job_repository.ts";
import type { PaymentLog } from "../../state/payments/payment_log.ts";
import { ProviderAddresses } from "./provider_addresses.ts";
import type { TownLinks } from "./town_links.ts";
import { readJobSidecar } from "./job_sidecar.ts";
import type { WorkerDesk } from "./worker_desk.ts";

/** Options for {@linkcode JobRefunds}. */
export interface JobRefundsOptions {
  /**
   * The job records and the payment log, once open; with `workers` and `stateDir`, a Gas Town
   * worker's job (its sidecar's `spec.worker`) is refunded to the worker's key, which posted it.
   */
  node: {
    readonly repo: Pick<JobRepository, "read" | "update" | "sidecarText">;
    readonly payments: Pick<PaymentLog, "append" | "incoming">;
    readonly workers?: Pick<WorkerDesk, "signerOf">;
    readonly stateDir?: string;
  };
  signer: Pick<NodeSigner, "conversationKey">;
  /** The towns, once connected: the question leaves by the home town, the refund arrives there. */
  links: () => TownLinks | undefined;
}

/** How long the provider has to answer a question (it pays the refund before it answers). */
const ASK_TIMEOUT_MS = 30_000;

/**
 * Asks for refunds and takes them; see the module doc.
 *
 * It asks a provider over a town: no example that runs here: tests/e2e/agent_task_refund_test.ts.
 */
export class JobRefunds {
  #o: JobRefundsOptions;
  #addresses: ProviderAddresses;

  constructor(options: JobRefundsOptions) {
    this.#o = options;
    this.#addresses = new ProviderAddresses({ relays: () => options.links()?.relays ?? [] });
  }

  /**
   * Asks the job's provider for its deposit back, when something was paid and nothing came back
   * yet; the provider answers once it paid the refund, or why it will not: its answer, undefined
   * when nothing was asked. Never throws.
   */
  async ask(record: RequesterJobRecord): Promise<string | undefined> {
    const home = this.#o.links()?.home;
    const paid = record.payments.some((p) => p.status === "paid");
    if (!home || !record.provider || !paid || record.refund !== undefined) return undefined;
    const destination = await this.#addresses.of(record.provider).catch(() => undefined);
    const address = home.btp.ilpAddress;
    if (destination === undefined || address === undefined) return "no address to ask at";
    const reply = await home.send({
      amount: "0",
      destination,
      executionCondition: new Uint8Array(32),
      expiresAt: new Date(Date.now() + ASK_TIMEOUT_MS),
      data: encodeRefundQuestion(record.id, address),
    }).catch((err: Error) => ({ type: "reject" as const, message: err.message }));
    return reply.type === "reject" ? reply.message : "answered with a FULFILL";
  }

  /** Answers a PREPARE on the home town's link: a refund of one of this requester's jobs. */
  async onPrepare(prepare: IlpPrepare): Promise<IlpReply> {
    const jobId = decodeRefundPayment(prepare.data);
    if (jobId === undefined) return reject(ILP_ERROR.unreachable, "no receiver");
    const record = await this.#o.node.repo.read(jobId).catch(() => undefined);
    if (!record?.provider) return reject(ILP_ERROR.finalApplicationError, "no such job here");
    // The refund's lock is the provider's and the request's author's: a worker's key for its job.
    const signer = await this.#signerOf(jobId).catch(() => undefined);
    if (signer === undefined) return reject(ILP_ERROR.finalApplicationError, "no such job here");
    const key = await signer.conversationKey(record.provider);
    const { fulfillment, condition } = refundLock(key, jobId);
    if (bytesToHex(condition) !== bytesToHex(prepare.executionCondition)) {
      return reject(ILP_ERROR.finalApplicationError, "not this job's refund");
    }
    const invoiceId = refundInvoiceId(jobId);
    if (
      record.refund !== undefined ||
      this.#o.node.payments.incoming(invoiceId).length > 0
    ) return reject(ILP_ERROR.finalApplicationError, "already-refunded");
    const paid = record.payments.filter((p) => p.status === "paid");
    const total = paid.reduce((sum, p) => sum + p.amount, 0n);
    const amount = BigInt(prepare.amount);
    if (amount === 0n || amount > total) {
      return reject(ILP_ERROR.finalApplicationError, `over what the job paid (${total})`);
    }
    if (prepare.expiresAt.getTime() - Date.now() < MIN_FULFILL_TIME_LEFT_MS) {
      // Too late to take: the town would refuse the FULFILL and book the refund rejected.
      return reject(ILP_ERROR.insufficientTimeout, "the refund expires before it can be taken");
    }
    const asset = paid[0].asset;
    const hex = bytesToHex(fulfillment);
    // On disk before the FULFILL: a refund taken is never lost, nor taken twice.
    await this.#o.node.payments.append({
      ts: new Date().toISOString(),
      direction: "in",
      event: "fulfilled",
      jobId,
      invoiceId,
      amount: String(amount),
      asset,
      ...(paid[0].scale === undefined ? {} : { scale: paid[0].scale }),
      peer: record.provider,
      fulfillment: hex,
      category: "job",
    });
    await this.#o.node.repo.update(jobId, (r) => ({
      ...r,
      refund: { amount, asset, fulfillment: hex, atMs: Date.now() },
    }), { action: "refund", fields: { Amount: String(amount) } });
    return { type: "fulfill", fulfillment, data: new Uint8Array() };
  }

  /** Who posted job `jobId`: the profile, or the Gas Town worker its spec names. */
  async #signerOf(jobId: string): Promise<Pick<NodeSigner, "conversationKey">> {
    const { workers, stateDir } = this.#o.node;
    if (workers === undefined || stateDir === undefined) return this.#o.signer;
    const worker = (await readJobSidecar(stateDir, jobId, this.#o.node.repo))?.spec.worker;
    return worker === undefined ? this.#o.signer : await workers.signerOf(worker);
  }
}

function reject(code: string, message: string): IlpReply {
  return { type: "reject", code, triggeredBy: "", message, data: new Uint8Array() };
}
