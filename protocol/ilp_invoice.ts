/**
 * ILP invoices: what a provider asks to be paid, carried in the third value of a NIP-90
 * `amount` tag (`["amount", "<amount>", "<invoice>"]`, where NIP-90 puts a bolt11 for
 * Lightning). One documented string form (docs/PROTOCOL.md, "Paying a provider"):
 *
 *     ilp:<destination ILP address>?amount=<uint64>&asset=<code>&scale=<0-255>
 *        &condition=<64 hex>&expires=<ISO 8601>&job=<64 hex job id>
 *
 * The provider picks a random 32-byte fulfillment per invoice and publishes only its SHA-256
 * (the condition); the requester pays one PREPARE of exactly `amount` to `destination` with that
 * condition before `expires`, and keeps the fulfillment it gets back as the receipt. Nobody but
 * the provider can fulfil, and the provider fulfils only the exact invoice.
 *
 * @module
 */
import { ProtocolError } from "./protocol_error.ts";
import { isValidIlpAddress, MAX_UINT64 } from "./ilp_packet.ts";

/** Longest invoice string accepted (network input). */
export const MAX_INVOICE_LENGTH = 2048;

/** The URI scheme of an invoice. */
export const INVOICE_SCHEME = "ilp:";

/** A parsed invoice. */
export interface IlpInvoice {
  /** Where to send the PREPARE (normally `<provider address>.<job id prefix>`). */
  destination: string;
  /** Base units, uint64. */
  amount: bigint;
  assetCode: string;
  assetScale: number;
  /** SHA-256 of the provider's fulfillment, 32 bytes as lowercase hex. */
  condition: string;
  /** Pay before this instant. */
  expiresAt: Date;
  /** The job request the invoice is for. */
  jobId: string;
}

/** An invoice string that cannot be used. `reason` names the bad part. */
export class IlpInvoiceError extends ProtocolError {
  override name = "IlpInvoiceError";
  reason: string;
  constructor(reason: string, message: string) {
    super(`invalid ILP invoice: ${message}`);
    this.reason = reason;
  }
}

const HEX64 = /^[0-9a-f]{64}$/;
const ASSET_CODE = /^[A-Za-z0-9]{1,16}$/;

function validate(invoice: IlpInvoice): IlpInvoice {
  if (!isValidIlpAddress(invoice.destination)) {
    throw new IlpInvoiceError("destination", `destination "${invoice.destination}"`);
  }
  if (invoice.amount <= 0n || invoice.amount > MAX_UINT64) {
    throw new IlpInvoiceError("amount", `amount ${invoice.amount} is not a positive uint64`);
  }
  if (!ASSET_CODE.test(invoice.assetCode)) {
    throw new IlpInvoiceError("asset", `asset code "${invoice.assetCode}"`);
  }
  if (!Number.isInteger(invoice.assetScale) || invoice.assetScale < 0 || invoice.assetScale > 255) {
    throw new IlpInvoiceError("scale", `asset scale ${invoice.assetScale}`);
  }
  if (!HEX64.test(invoice.condition)) {
    throw new IlpInvoiceError("condition", "condition is not 32 bytes of lowercase hex");
  }
  if (Number.isNaN(invoice.expiresAt.getTime())) {
    throw new IlpInvoiceError("expires", "expiry is not a date");
  }
  if (!HEX64.test(invoice.jobId)) throw new IlpInvoiceError("job", "job id is not 64 hex");
  return invoice;
}

/**
 * Writes an invoice in its string form (validating it first).
 *
 * @example
 * ```ts
 * formatIlpInvoice({
 *   destination: "g.town.beta.3f2a", amount: 5000n, assetCode: "USD", assetScale: 6,
 *   condition: "ab".repeat(32), expiresAt: new Date("2026-11-22T03:00:00Z"), jobId: "cd".repeat(32),
 * });
 * // "ilp:g.town.beta.3f2a?amount=5000&asset=USD&scale=6&condition=abab...&expires=2026-11-22T03:00:00.000Z&job=cdcd..."
 * ```
 */
export function formatIlpInvoice(invoice: IlpInvoice): string {
  const i = validate(invoice);
  return `${INVOICE_SCHEME}${i.destination}?amount=${i.amount}&asset=${i.assetCode}` +
    `&scale=${i.assetScale}&condition=${i.condition}&expires=${i.expiresAt.toISOString()}` +
    `&job=${i.jobId}`;
}

function field(params: URLSearchParams, name: string): string {
  const values = params.getAll(name);
  if (values.length !== 1) {
    throw new IlpInvoiceError(name, values.length === 0 ? `no ${name}` : `${name} given twice`);
  }
  return values[0];
}

/**
 * Parses and validates an invoice string.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { parseIlpInvoice } from "./ilp_invoice.ts";
 *
 * const text = `ilp:g.town.beta.3f2a?amount=5000&asset=USD&scale=6&condition=${"ab".repeat(32)}` +
 *   `&expires=2026-11-22T03:00:00.000Z&job=${"cd".repeat(32)}`;
 * const invoice = parseIlpInvoice(text);
 * assert.equal(invoice.amount, 5000n); // at most the bid
 * ```
 */
export function parseIlpInvoice(text: string): IlpInvoice {
  if (typeof text !== "string" || text.length > MAX_INVOICE_LENGTH) {
    throw new IlpInvoiceError("size", `longer than ${MAX_INVOICE_LENGTH} characters`);
  }
  if (!text.startsWith(INVOICE_SCHEME)) {
    throw new IlpInvoiceError("scheme", `does not start with "${INVOICE_SCHEME}"`);
  }
  const q = text.indexOf("?");
  if (q === -1) throw new IlpInvoiceError("syntax", "no query part");
  const params = new URLSearchParams(text.slice(q + 1));
  for (const key of params.keys()) {
    if (!["amount", "asset", "scale", "condition", "expires", "job"].includes(key)) {
      throw new IlpInvoiceError("syntax", `unknown field "${key}"`);
    }
  }
  const amount = field(params, "amount");
  if (!/^[0-9]{1,20}$/.test(amount)) throw new IlpInvoiceError("amount", `amount "${amount}"`);
  const scale = field(params, "scale");
  if (!/^[0-9]{1,3}$/.test(scale)) throw new IlpInvoiceError("scale", `scale "${scale}"`);
  return validate({
    destination: text.slice(INVOICE_SCHEME.length, q),
    amount: BigInt(amount),
    assetCode: field(params, "asset"),
    assetScale: Number(scale),
    condition: field(params, "condition"),
    expiresAt: new Date(field(params, "expires")),
    jobId: field(params, "job"),
  });
}
