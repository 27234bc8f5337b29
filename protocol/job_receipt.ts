/**
 * A job receipt (docs/PROTOCOL.md "Receipts and trust"): what one ended job was, as one side of
 * it (the requester or the provider) saw it, signed with that side's key. Each side keeps its own
 * receipts in its profile (state/receipts/receipt_book.ts); a counterparty's trust is computed
 * from them (protocol/trust_score.ts).
 *
 * A receipt travels as a Nostr event so that its signature is the one every node already checks
 * (NIP-01, BIP-340): kind {@linkcode JOB_RECEIPT_KIND}, the receipt as JSON in `content`, the job
 * and the counterparty as `e` and `p` tags. It is never published; the kind is in the ephemeral
 * range so that a relay handed one by mistake does not store it.
 *
 * @module
 */
import { ProtocolError } from "./protocol_error.ts";
import type { EventTemplate, NostrEvent } from "./nostr_event.ts";
import type { JobVerdict } from "./job_verdict.ts";
import { verifyEvent } from "./event_verifier.ts";

/** The kind of a signed receipt (ephemeral range: never stored by a relay). */
export const JOB_RECEIPT_KIND = 27_390;

/** Which side of the job signed a receipt. */
export type ReceiptSide = "requester" | "provider";

/** How a job ended, in the receipt's words. */
export const RECEIPT_OUTCOMES = [
  "done",
  "failed",
  "declined",
  "cancelled",
  "refused",
  "timed-out",
] as const;

/** How a job ended. */
export type ReceiptOutcome = typeof RECEIPT_OUTCOMES[number];

/** What one ended job was, as one side saw it. Amounts in base units, decimal strings. */
export interface JobReceipt {
  side: ReceiptSide;
  /** The job request's event id. */
  job: string;
  /** The other side's pubkey (64 hex). */
  counterparty: string;
  kind: number;
  /** The skill (provider side) or callback skill (requester side). */
  skill: string;
  /** An agent-task's preset, from its report. */
  preset?: string;
  outcome: ReceiptOutcome;
  /** The job record's own final status. */
  status: string;
  asset?: string;
  scale?: number;
  /** Paid up front (the deposit, or the whole price of a job paid before it runs). */
  deposit: string;
  /** Paid with the result (paid on delivery). */
  delivery: string;
  /** Given back by the provider (its own failure). */
  refunded: string;
  /** The provider's verdict, from its report. */
  providerVerdict?: JobVerdict;
  /** The requester's own run of the acceptance command (`job results --apply --verify`). */
  localVerify?: JobVerdict;
  /** How many protected paths the delivered work changed. */
  protectedChanged?: number;
  /** False when the job timed out. */
  onTime: boolean;
  /** When the job ended (its record's last update), unix ms. */
  endedAtMs: number;
}

/** A signed receipt read back: the receipt, who signed it, and its event id. */
export interface SignedReceipt {
  receipt: JobReceipt;
  signer: string;
  id: string;
  event: NostrEvent;
}

/** Why a receipt could not be read. */
export type ReceiptErrorReason = "kind" | "signature" | "content";

/** A receipt event that is not one, or whose signature does not check. */
export class ReceiptError extends ProtocolError {
  override name = "ReceiptError";
  /** Why it was refused. */
  readonly reason: ReceiptErrorReason;
  constructor(reason: ReceiptErrorReason, message: string, options?: ErrorOptions) {
    super(message, options);
    this.reason = reason;
  }
}

const HEX64 = /^[0-9a-f]{64}$/;
const UNITS = /^(0|[1-9][0-9]{0,38})$/;

/**
 * The receipt with its keys in one order and no undefined values: what is signed, and what two
 * receipts are compared by.
 *
 * @example
 * ```ts
 * import { canonicalReceipt } from "./job_receipt.ts";
 *
 * const r = { side: "requester", job: "ab".repeat(32), counterparty: "cd".repeat(32), kind: 5603,
 *   skill: "none", outcome: "done", status: "done", deposit: "1", delivery: "0", refunded: "0",
 *   onTime: true, endedAtMs: 1 } as const;
 * if (canonicalReceipt(r) !== canonicalReceipt({ ...r })) throw new Error("not stable");
 * ```
 */
export function canonicalReceipt(r: JobReceipt): string {
  const ordered: Record<string, unknown> = {};
  for (const key of KEYS) if (r[key] !== undefined) ordered[key] = r[key];
  return JSON.stringify(ordered);
}

const KEYS: readonly (keyof JobReceipt)[] = [
  "side",
  "job",
  "counterparty",
  "kind",
  "skill",
  "preset",
  "outcome",
  "status",
  "asset",
  "scale",
  "deposit",
  "delivery",
  "refunded",
  "providerVerdict",
  "localVerify",
  "protectedChanged",
  "onTime",
  "endedAtMs",
];

/**
 * The event template of a receipt, for a signer (`NodeSigner.signEvent`).
 *
 * @example
 * ```ts
 * import { receiptTemplate } from "./job_receipt.ts";
 *
 * const t = receiptTemplate({ side: "provider", job: "ab".repeat(32), counterparty: "cd".repeat(32),
 *   kind: 5603, skill: "agent-task", outcome: "done", status: "published", deposit: "5",
 *   delivery: "7", refunded: "0", onTime: true, endedAtMs: 1_700_000_000_000 });
 * if (t.kind !== 27_390) throw new Error();
 * ```
 */
export function receiptTemplate(r: JobReceipt, nowMs: number = Date.now()): EventTemplate {
  validateReceipt(r);
  return {
    kind: JOB_RECEIPT_KIND,
    created_at: Math.floor(nowMs / 1000),
    tags: [["e", r.job], ["p", r.counterparty], ["side", r.side]],
    content: canonicalReceipt(r),
  };
}

/** Options for {@linkcode readReceipt}. */
export interface ReadReceiptOptions {
  /**
   * The event's id and signature were checked before, as these very bytes (a line of the receipt
   * book under its checked mark, state/receipts/receipt_book.ts): only the rest is checked.
   * Default false.
   */
  signatureChecked?: boolean;
}

/**
 * Reads a signed receipt: checks its kind, its id and signature (unless `signatureChecked`), and
 * its content.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { localNodeSigner } from "@turnpike/turnpike";
 * import { generateSecretKey } from "nostr-tools/pure";
 * import { readReceipt, receiptTemplate } from "./job_receipt.ts";
 *
 * const event = await localNodeSigner(generateSecretKey()).signEvent(receiptTemplate({
 *   side: "requester", job: "ab".repeat(32), counterparty: "cd".repeat(32), kind: 5600,
 *   skill: "echo", outcome: "done", status: "completed", deposit: "0", delivery: "5000",
 *   refunded: "0", onTime: true, endedAtMs: 1_700_000_000_000,
 * }));
 * assert.equal(readReceipt(event).receipt.outcome, "done");
 * ```
 * @throws {ReceiptError} a wrong kind, a bad id or signature, or content that is not a receipt.
 */
export function readReceipt(event: NostrEvent, options: ReadReceiptOptions = {}): SignedReceipt {
  if (event.kind !== JOB_RECEIPT_KIND) throw new ReceiptError("kind", `kind ${event.kind}`);
  if (!options.signatureChecked) {
    try {
      verifyEvent(event);
    } catch (err) {
      throw new ReceiptError("signature", "the receipt's id or signature is wrong", { cause: err });
    }
  }
  let receipt: JobReceipt;
  try {
    receipt = JSON.parse(event.content) as JobReceipt;
    validateReceipt(receipt);
  } catch (err) {
    throw new ReceiptError("content", `not a receipt: ${(err as Error).message}`, { cause: err });
  }
  return { receipt, signer: event.pubkey, id: event.id, event };
}

/**
 * Checks a receipt's fields; throws a `TypeError` naming the first bad one.
 *
 * @example
 * ```ts
 * import { validateReceipt } from "./job_receipt.ts";
 *
 * try {
 *   validateReceipt({} as Parameters<typeof validateReceipt>[0]);
 * } catch (err) {
 *   console.log((err as Error).message); // bad side
 * }
 * ```
 */
export function validateReceipt(r: JobReceipt): void {
  const fail = (what: string): never => {
    throw new TypeError(`bad ${what}`);
  };
  if (typeof r !== "object" || r === null) fail("receipt");
  if (r.side !== "requester" && r.side !== "provider") fail("side");
  if (typeof r.job !== "string" || !HEX64.test(r.job)) fail("job");
  if (typeof r.counterparty !== "string" || !HEX64.test(r.counterparty)) fail("counterparty");
  if (!Number.isInteger(r.kind)) fail("kind");
  if (typeof r.skill !== "string") fail("skill");
  if (!(RECEIPT_OUTCOMES as readonly string[]).includes(r.outcome)) fail("outcome");
  for (const key of ["deposit", "delivery", "refunded"] as const) {
    if (typeof r[key] !== "string" || !UNITS.test(r[key])) fail(key);
  }
  for (const key of ["providerVerdict", "localVerify"] as const) {
    if (r[key] !== undefined && r[key] !== "passed" && r[key] !== "failed") fail(key);
  }
  if (typeof r.onTime !== "boolean") fail("onTime");
  if (!Number.isSafeInteger(r.endedAtMs)) fail("endedAtMs");
}
