/**
 * The most a requester pays a provider before delivery (docs/PROTOCOL.md "The deposit bound"):
 * the request's `["param", "deposit-max", "<units>"]`, set by a requester whose trust of the
 * provider is not enough to risk its whole bid up front. A provider whose deposit asks more
 * refuses the job before any invoice (roles/provider/jobs/provider_admission.ts); a requester
 * declines a deposit invoice over its bound before paying (roles/requester/job_feed.ts), for a
 * provider that does not read the param. Either way nothing is paid and nothing runs.
 *
 * @module
 */
import type { JobParam } from "./nip90_job.ts";
import { parseIlpInvoice } from "./ilp_invoice.ts";

/** The param's name. */
export const DEPOSIT_MAX_PARAM = "deposit-max";

/** The refusal's code: first in the provider's error and the requester's `payment-refused`. */
export const DEPOSIT_OVER_BOUND = "deposit-over-bound";

const UINT = /^(0|[1-9][0-9]{0,19})$/;

/**
 * The bound a request's tags (or a spec's params as tags) state, or undefined when none (or one
 * that is not a base-unit amount: ignored, as an unknown param is).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { depositMaxOf } from "./deposit_bound.ts";
 *
 * assert.equal(depositMaxOf([["param", "deposit-max", "10000"]]), 10000n);
 * assert.equal(depositMaxOf([["param", "agent", "tiny"]]), undefined);
 * ```
 */
export function depositMaxOf(tags: readonly (readonly string[])[]): bigint | undefined {
  const value = tags.find((t) => t[0] === "param" && t[1] === DEPOSIT_MAX_PARAM)?.[2];
  return value !== undefined && UINT.test(value) ? BigInt(value) : undefined;
}

/**
 * Why a deposit of `deposit` is not paid under `bound`, or undefined when it is within it.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { depositRefusal } from "./deposit_bound.ts";
 *
 * assert.equal(depositRefusal(9000n, 10000n), undefined);
 * assert.match(depositRefusal(15900n, 10000n)!, /^deposit-over-bound: /);
 * ```
 */
export function depositRefusal(deposit: bigint, bound: bigint | undefined): string | undefined {
  if (bound === undefined || deposit <= bound) return undefined;
  return `${DEPOSIT_OVER_BOUND}: the deposit ${deposit} is over the ${bound} the requester pays ` +
    `this provider before delivery (its ${DEPOSIT_MAX_PARAM}, from its trust of the provider)`;
}

/**
 * Why a deposit invoice is not paid under the bound a job's params state (a spec's params, as
 * the requester keeps them), or undefined when it is within it, no bound is stated, or the
 * invoice does not parse (the payer refuses that one itself).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { depositOverBound } from "./deposit_bound.ts";
 *
 * assert.equal(depositOverBound("not an invoice", [{ name: "deposit-max", values: ["1"] }]), undefined);
 * assert.equal(depositOverBound("any", []), undefined);
 * ```
 */
export function depositOverBound(
  invoiceText: string,
  params: readonly JobParam[] | undefined,
): string | undefined {
  const bound = depositMaxOf((params ?? []).map((p) => ["param", p.name, ...p.values]));
  if (bound === undefined) return undefined;
  try {
    return depositRefusal(parseIlpInvoice(invoiceText).amount, bound);
  } catch {
    return undefined;
  }
}
