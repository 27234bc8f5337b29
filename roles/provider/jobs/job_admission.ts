/**
 * Admission of a job request by the provider: a pure decision over the
 * request and the provider's current load. Every drop has a reason code, logged by the node:
 *
 * | reason                  | when                                                                |
 * |-------------------------|---------------------------------------------------------------------|
 * | `expired`               | NIP-40 `expiration` passed, or older than the configured max age     |
 * | `duplicate`             | the request id was admitted (or dropped) before                     |
 * | `other-provider`        | it has `p` tags and none is this provider                           |
 * | `bid-below-price`       | its bid is below the skill's price                                  |
 * | `over-capacity`         | the provider already has `maxInFlight` paid unfinished jobs         |
 * | `over-requester-capacity` | this requester already has `maxInFlightPerRequester` paid unfinished jobs |
 *
 * Jobs waiting for payment are not counted here: they have a pool of their own
 * (`unpaid_pool.ts`), so unpaid requests never take the slots of paid ones.
 * | `cancelled`             | a kind 5 from the requester cancelled it before it arrived           |
 * | `no-skill`              | no skill serves its kind (e.g. the skill was removed)               |
 * | `plain-relay-limit`     | from a plain relay, over its author's or relay's rate, or the queue full |
 *
 * @module
 */
import { depositMarginMs } from "../../../protocol/deposit_deadline.ts";
import type { NostrEvent } from "../../../protocol/nostr_event.ts";

/** Why a job request was dropped. */
export type AdmissionDropReason =
  | "expired"
  | "duplicate"
  | "other-provider"
  | "bid-below-price"
  | "over-capacity"
  | "over-requester-capacity"
  | "cancelled"
  | "no-skill"
  | "town-debt"
  /** Refused at a plain relay's gate (plain_relay_gate.ts), before the signature check. */
  | "plain-relay-limit";

/** The outcome of {@linkcode decideAdmission}. */
export type AdmissionDecision =
  | { admit: true }
  | { admit: false; reason: AdmissionDropReason; detail: string };

/** What the provider knows when a request arrives. */
export interface AdmissionContext {
  /** Unix seconds. */
  nowSec: number;
  /** Oldest request accepted, seconds (`created_at` older than now - maxAge is expired). */
  maxAgeSec: number;
  /** This provider's pubkey (hex). */
  providerPubkey: string;
  /** The serving skill's price, base units; undefined when no skill serves the kind. */
  price: bigint | undefined;
  /** Seen before (admitted or dropped). */
  seen: (id: string) => boolean;
  /** Cancelled by its author before it arrived. */
  cancelled: (id: string, author: string) => boolean;
  /** Paid unfinished jobs, overall and of one requester. */
  inFlight: number;
  inFlightOf: (pubkey: string) => number;
  maxInFlight: number;
  maxInFlightPerRequester: number;
}

/**
 * Decides whether to take a job request. Checks run cheapest and most final first.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { finalizeEvent, generateSecretKey } from "nostr-tools/pure";
 * import { decideAdmission } from "./job_admission.ts";
 *
 * const nowSec = Math.floor(Date.now() / 1000);
 * const event = finalizeEvent({ kind: 5601, created_at: nowSec, tags: [["bid", "50"]], content: "" }, generateSecretKey());
 * const context = {
 *   nowSec,
 *   maxAgeSec: 600,
 *   providerPubkey: "c".repeat(64),
 *   price: 100n,
 *   seen: () => false,
 *   cancelled: () => false,
 *   inFlight: 0,
 *   inFlightOf: () => 0,
 *   maxInFlight: 4,
 *   maxInFlightPerRequester: 2,
 * };
 * assert.deepEqual(decideAdmission(event, context), {
 *   admit: false,
 *   reason: "bid-below-price",
 *   detail: "bid 50 < price 100",
 * });
 * assert.deepEqual(decideAdmission(event, { ...context, price: 50n }), { admit: true });
 * ```
 */
export function decideAdmission(event: NostrEvent, ctx: AdmissionContext): AdmissionDecision {
  const drop = (reason: AdmissionDropReason, detail: string): AdmissionDecision => ({
    admit: false,
    reason,
    detail,
  });
  if (ctx.seen(event.id)) return drop("duplicate", "request seen before");
  const expiration = event.tags.find((t) => t[0] === "expiration")?.[1];
  if (expiration !== undefined && /^[0-9]{1,12}$/.test(expiration)) {
    if (Number(expiration) <= ctx.nowSec) return drop("expired", `NIP-40 expiration ${expiration}`);
    // Its requester pays no deposit this close to it (protocol/deposit_deadline.ts).
    const left = Number(expiration) - ctx.nowSec;
    if (left * 1000 <= depositMarginMs((Number(expiration) - event.created_at) * 1000)) {
      return drop("expired", `NIP-40 expiration ${expiration}: ${left} s left, too soon to run it`);
    }
  }
  if (event.created_at < ctx.nowSec - ctx.maxAgeSec) {
    return drop("expired", `created ${ctx.nowSec - event.created_at} s ago, max ${ctx.maxAgeSec}`);
  }
  const providers = event.tags.filter((t) => t[0] === "p" && t[1] !== undefined).map((t) => t[1]);
  if (providers.length > 0 && !providers.includes(ctx.providerPubkey)) {
    return drop("other-provider", `addressed to ${providers[0].slice(0, 16)}...`);
  }
  if (ctx.cancelled(event.id, event.pubkey)) return drop("cancelled", "kind 5 from its author");
  if (ctx.price === undefined) return drop("no-skill", `no skill serves kind ${event.kind}`);
  const bid = event.tags.find((t) => t[0] === "bid")?.[1];
  if (bid !== undefined && /^[0-9]{1,20}$/.test(bid) && BigInt(bid) < ctx.price) {
    return drop("bid-below-price", `bid ${bid} < price ${ctx.price}`);
  }
  if (ctx.inFlight >= ctx.maxInFlight) {
    return drop("over-capacity", `${ctx.inFlight} jobs in flight, max ${ctx.maxInFlight}`);
  }
  const mine = ctx.inFlightOf(event.pubkey);
  if (mine >= ctx.maxInFlightPerRequester) {
    return drop(
      "over-requester-capacity",
      `${mine} jobs of this requester in flight, max ${ctx.maxInFlightPerRequester}`,
    );
  }
  return { admit: true };
}
