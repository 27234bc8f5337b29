/**
 * The town's answer to a peer asking which of its payments the town's books owe it
 * (`payment-owed`, protocol/payment_owed.ts; docs/PROTOCOL.md "A crash between a payment's two
 * records"). A provider killed after its income line and before its FULFILL left asks so when it
 * starts again; the town answers from its books per peer (state/payments/peer_ledger.ts), of the
 * asking BTP account's packets only (the session authenticates the question: no peer learns
 * another's books):
 *
 * - `fulfilled` -> `owed`;
 * - `rejected` (the last answer relayed: the peer's REJECT, `T01` when it dropped, `R00` at the
 *   packet's expiry) -> `notOwed`: no money moved for it. On a shared store, where another
 *   process may have forwarded another packet of the same condition, only when it is the packet
 *   the provider asks about (the expiry of the PREPARE its income fulfilled, `paidExpiresAt`, is
 *   this packet's; or either does not say it) and it was not recorded rejected because the
 *   provider showed it fulfilled another packet (a payment in doubt proven by another process's
 *   packet, state/payments/peer_ledger.ts `prove`); else `inDoubt`: the process that forwarded
 *   the packet paid holds its answer (docs/PROTOCOL.md "A payment in doubt on another process");
 * - `in-flight` or `in-doubt` (forwarded before a crash of the town, asked of the peer by
 *   roles/town/town_btp_server.ts) -> `inDoubt`: ask again later;
 * - never forwarded here -> `notOwed` on a town of one process (its books hold every packet it
 *   forwarded); `inDoubt` on a shared store, where another process may have forwarded it and
 *   holds its line (docs/OPERATIONS.md "A town on several machines");
 * - on a shared store, whatever these books say short of `fulfilled`: `owed` when another
 *   process's books owe the condition (`held`, the shared store's paid conditions,
 *   roles/town/btp/paid_once.ts: a peer fulfills an invoice once, and the town owes it once);
 *   when the store cannot be read, what would have been `notOwed` is `inDoubt`;
 * - `unknown` (not held: the books hold each account's newest answered packets only, and a
 *   provider asks about its newest) -> `inDoubt`.
 *
 * A payer's question (`to`: the destination of the packets it sent, `expiresAt`: their PREPARE's
 * expiry; docs/PROTOCOL.md "The town's word on a payment in doubt") is answered of the town's
 * forwards to the child `to` names, once that expiry is {@linkcode PAYER_ANSWER_MARGIN_MS} past
 * on this town's clock (before: all `inDoubt` with `retryAfterMs`): only `notOwed` (rejected, or
 * never forwarded, on a town of one process: no money moved) or `inDoubt` (fulfilled, in flight,
 * in doubt, `to` not a child of this town, or a town on a shared store, where another process may
 * have forwarded it since this one refused it). A packet the books no longer hold (`unknown`) is
 * never forwarded when `expiresAt` is more than the router's longest expiry (and a margin for
 * the hops before this town) after the newest forgotten one was forwarded: the town forwards no
 * PREPARE expiring further out (roles/town/btp/btp_router.ts), so that packet came later.
 *
 * Bounded: at most {@linkcode MAX_OWED_QUESTION} conditions a question (longer is refused), and
 * per account a bucket of `burst` questions refilled at `perSecond`; a question past it is
 * answered all `inDoubt` with `retryAfterMs`, the books not read.
 *
 * @module
 */
import {
  decodeOwedQuestion,
  encodeOwedAnswer,
  type OwedAnswer,
  type PayerQuestion,
} from "../../../protocol/payment_owed.ts";
import type { PeerLedger } from "../../../state/payments/peer_ledger.ts";
import type { PacketStanding } from "../../../state/payments/ledger_packets.ts";
import { TokenBucket } from "../token_bucket.ts";
import { DEFAULT_MAX_EXPIRY_MS } from "./btp_router.ts";

/** Options for {@linkcode createOwedAnswers}. */
export interface OwedAnswersOptions {
  ledger: Pick<PeerLedger, "packetState" | "packetDetail" | "forgottenUpTo">;
  /** The town runs as several processes on a shared store: a packet unknown here is in doubt. */
  shared: boolean;
  /**
   * On a shared store: which of an account's conditions some process's books owe
   * (roles/town/btp/paid_once.ts); throws when the store cannot be read.
   */
  held?: (account: string, conditions: string[]) => Promise<ReadonlySet<string>>;
  /** The town's ILP address, for a payer's question (`to`); none: such a question is in doubt. */
  townAddress?: () => string;
  /** Wall clock, unix ms, for a payer's `expiresAt` (tests). Default `Date.now`. */
  clock?: () => number;
  /** Questions an account may ask at once. Default 8. */
  burst?: number;
  /** Questions per second an account's bucket refills at. Default 2. */
  perSecond?: number;
  /** Monotonic clock, ms (tests). Default `performance.now`. */
  now?: () => number;
  /** The router's furthest expiry accepted (its `maxExpiryMs`). Default 5 minutes. */
  maxExpiryMs?: number;
}

/**
 * What the hops before this town may have taken off a payer's expiry, at most, for
 * {@linkcode createOwedAnswers}'s payer answers about packets the books no longer hold.
 *
 * @example
 * ```ts
 * import { HOPS_EXPIRY_MARGIN_MS } from "./owed_answers.ts";
 *
 * if (HOPS_EXPIRY_MARGIN_MS < 10_000) throw new Error("too tight for a few hops");
 * ```
 */
export const HOPS_EXPIRY_MARGIN_MS = 60_000;

/**
 * The answer (bytes) to an account's question (bytes).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { createOwedAnswers } from "./owed_answers.ts";
 * import { openPeerLedger } from "../../../state/payments/peer_ledger.ts";
 * import { decodeOwedAnswer, encodeOwedQuestion } from "../../../protocol/payment_owed.ts";
 *
 * const stateDir = await Deno.makeTempDir();
 * const ledger = await openPeerLedger({ stateDir });
 * const [paid, refused] = ["ab".repeat(32), "cd".repeat(32)];
 * await ledger.forward("beta", paid, 100n);
 * await ledger.fulfilled("beta", paid, "ef".repeat(32));
 * await ledger.forward("beta", refused, 100n);
 * await ledger.rejected("beta", refused, "T01"); // beta dropped before its FULFILL left
 * const answer = createOwedAnswers({ ledger, shared: false });
 * const asked = async (account: string) =>
 *   decodeOwedAnswer(await answer(account, encodeOwedQuestion([paid, refused])));
 * assert.deepEqual(await asked("beta"), { owed: [paid], notOwed: [refused], inDoubt: [] });
 * assert.deepEqual((await asked("gamma")).owed, []); // another account's books stay its own
 * await Deno.remove(stateDir, { recursive: true });
 * ```
 * @throws {OwedMessageError} on a malformed question (answered BTP ERROR by the caller).
 */
export function createOwedAnswers(
  options: OwedAnswersOptions,
): (account: string, question: Uint8Array) => Promise<Uint8Array> {
  const burst = options.burst ?? 8;
  const perSecond = options.perSecond ?? 2;
  const buckets = new Map<string, TokenBucket>();
  return async (account, question) => {
    const { conditions, payer, paidExpiresAt } = decodeOwedQuestion(question);
    let bucket = buckets.get(account);
    if (bucket === undefined) {
      bucket = new TokenBucket({ ratePerSecond: perSecond, capacity: burst, now: options.now });
      buckets.set(account, bucket);
    }
    if (!bucket.take()) {
      const retryAfterMs = Math.ceil((1 - bucket.level()) * 1000 / perSecond);
      return encodeOwedAnswer({ owed: [], notOwed: [], inDoubt: conditions, retryAfterMs });
    }
    if (payer !== undefined) return encodeOwedAnswer(payerAnswer(options, conditions, payer));
    const answer: OwedAnswer = { owed: [], notOwed: [], inDoubt: [] };
    const asked = new Map<string, { paidAt: number | null; state?: PacketStanding }>();
    conditions.forEach((c, i) =>
      asked.has(c) || asked.set(c, {
        paidAt: paidExpiresAt?.[i] ?? null,
        state: options.ledger.packetState(account, c),
      })
    );
    const open = [...asked].filter(([, a]) => a.state !== "fulfilled").map(([c]) => c);
    const elsewhere = await heldElsewhere(options, account, open);
    for (const [condition, { paidAt, state }] of asked) {
      if (state === "fulfilled" || elsewhere?.has(condition)) answer.owed.push(condition);
      else if (
        (state === "rejected" && (!options.shared ||
          (elsewhere !== undefined && thePacketAsked(options, account, condition, paidAt)))) ||
        (state === undefined && !options.shared)
      ) {
        answer.notOwed.push(condition);
      } else answer.inDoubt.push(condition);
    }
    return encodeOwedAnswer(answer);
  };
}

/**
 * Of the conditions these books do not hold fulfilled (`open`), those another process's books owe (on a
 * shared store; an empty set on one process, or with no store to ask); undefined when the store
 * could not be read.
 */
async function heldElsewhere(
  options: OwedAnswersOptions,
  account: string,
  open: string[],
): Promise<ReadonlySet<string> | undefined> {
  if (!options.shared || options.held === undefined || open.length === 0) return new Set();
  try {
    return await options.held(account, open);
  } catch {
    return undefined;
  }
}

/**
 * Whether the packet of the condition this process refused is the one the provider's income
 * fulfilled (module doc): not when it was refused because another packet was paid, nor when its
 * expiry is not the one the provider names.
 */
function thePacketAsked(
  options: OwedAnswersOptions,
  account: string,
  condition: string,
  paidAt: number | null,
): boolean {
  const detail = options.ledger.packetDetail(account, condition);
  if (detail === undefined) return true;
  if (detail.paidElsewhere) return false;
  return paidAt === null || detail.expiresAt === undefined || detail.expiresAt === paidAt;
}

/** How long past a payer's PREPARE expiry, on the town's clock, its question is answered. */
export const PAYER_ANSWER_MARGIN_MS = 1_000;

/** The answer to a payer's question (module doc): never more than refused or never forwarded. */
function payerAnswer(
  options: OwedAnswersOptions,
  conditions: string[],
  payer: PayerQuestion,
): OwedAnswer {
  const answer: OwedAnswer = { owed: [], notOwed: [], inDoubt: [...new Set(conditions)] };
  const early = payer.expiresAt + PAYER_ANSWER_MARGIN_MS - (options.clock ?? Date.now)();
  if (early > 0) return { ...answer, retryAfterMs: Math.min(early, 3_600_000) };
  const town = options.townAddress?.();
  if (options.shared || town === undefined || !payer.to.startsWith(`${town}.`)) return answer;
  const child = payer.to.slice(town.length + 1).split(".")[0];
  answer.inDoubt = [];
  // Forwarded after every packet the books let go of: then not held is never forwarded.
  const forgotten = options.ledger.forgottenUpTo(child);
  const maxExpiryMs = options.maxExpiryMs ?? DEFAULT_MAX_EXPIRY_MS;
  const later = forgotten === undefined ||
    payer.expiresAt - maxExpiryMs - HOPS_EXPIRY_MARGIN_MS > forgotten;
  for (const condition of new Set(conditions)) {
    const state = options.ledger.packetState(child, condition);
    if (state === "rejected" || state === undefined || (state === "unknown" && later)) {
      answer.notOwed.push(condition);
    } else answer.inDoubt.push(condition);
  }
  return answer;
}
