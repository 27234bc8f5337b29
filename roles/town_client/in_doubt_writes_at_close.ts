/**
 * The writes still in doubt when the payer's channel with their town is closed: never sent again,
 * so no `duplicate` will ever tell whether they were paid (roles/town_client/in_doubt_writes.ts).
 * The close pays the town what it delivered (docs/PROTOCOL.md "Payment channels and claims": a
 * write counts from its FULFILL, which the town sends once it stores the write), so the log is
 * brought to the close by asking the town: each one the town stores gets its `fulfilled` line at
 * the amount its PREPARE carried (the close pays it), each one it does not a `rejected` line (the
 * close does not pay it; its cover comes back to the payer). Not by the amounts: what the close
 * leaves unclaimed lumps every packet the town did not deliver together with cover claimed ahead,
 * so it cannot say which write was paid; the town's store can.
 *
 * @module
 */
import type { PaymentEntry } from "../../state/payments/payment_log.ts";
import { queryRelay } from "../../transport/relay_query.ts";
import { writesInDoubtAt } from "./logged_in_doubt_writes.ts";
import type { DoubtClaims } from "../../state/payments/doubt_claims.ts";

/** Options for {@linkcode resolveInDoubtWrites}. */
export interface ResolveInDoubtWritesOptions {
  /** The payer's payment log, loaded in full. */
  payments: {
    inDoubt(): PaymentEntry[];
    append(entry: PaymentEntry): Promise<void>;
  };
  /** The town's ILP address: the peer of its writes' lines. */
  townAddress: string;
  /** Which of these event ids the town stores (its relay, {@linkcode storedOnRelay}). */
  stored: (eventIds: string[]) => Promise<ReadonlySet<string>>;
  /** Clock. Default `new Date()`. */
  now?: () => Date;
  /**
   * The profile's claims on its payments in doubt: each is claimed before its outcome is written
   * and left alone when another process of the profile recorded one meanwhile
   * (state/payments/doubt_claims.ts). Default: none, this process alone.
   */
  claims?: DoubtClaims;
}

/** What {@linkcode resolveInDoubtWrites} wrote. */
export interface ResolvedInDoubtWrites {
  /** Writes the town stores: paid by the close, now `fulfilled`. */
  paid: number;
  /** Their amounts, base units. */
  paidAmount: bigint;
  /** Writes it does not: not paid, now `rejected`. */
  notPaid: number;
}

/** The reason of the `rejected` line of a write in doubt the town did not store. */
export const NOT_STORED_AT_CLOSE = "in doubt at the channel's close and not stored by the town";

/**
 * Gives each write still in doubt at the town its outcome on the log, as the town's store says.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { openPaymentLog } from "../../state/payments/payment_log.ts";
 * import { loggedInDoubtWrites } from "./logged_in_doubt_writes.ts";
 * import { resolveInDoubtWrites } from "./in_doubt_writes_at_close.ts";
 *
 * const stateDir = await Deno.makeTempDir();
 * const payments = await openPaymentLog({ stateDir });
 * const writes = loggedInDoubtWrites({ payments, townAddress: "g.town", asset: "USD" });
 * await writes.note({ event: { id: "a".repeat(64), tags: [] }, amount: 700n });
 * await writes.note({ event: { id: "b".repeat(64), tags: [] }, amount: 900n });
 * const done = await resolveInDoubtWrites({ payments, townAddress: "g.town",
 *   stored: () => Promise.resolve(new Set(["a".repeat(64)])) }); // the town stores the first
 * assert.deepEqual(done, { paid: 1, paidAmount: 700n, notPaid: 1 });
 * assert.deepEqual(payments.inDoubt(), []);
 * await Deno.remove(stateDir, { recursive: true });
 * ```
 * @throws {RelayQueryError} from {@linkcode storedOnRelay} when the town cannot be read (nothing
 * is written then: the writes stay in doubt).
 */
export async function resolveInDoubtWrites(
  options: ResolveInDoubtWritesOptions,
): Promise<ResolvedInDoubtWrites> {
  const open = writesInDoubtAt(options.payments, options.townAddress);
  const done: ResolvedInDoubtWrites = { paid: 0, paidAmount: 0n, notPaid: 0 };
  if (open.length === 0) return done;
  const stored = await options.stored(open.map((intent) => intent.invoiceId));
  const ts = () => (options.now?.() ?? new Date()).toISOString();
  for (const intent of open) {
    await using claim = await options.claims?.claim(intent.invoiceId, intent.peer);
    if (claim?.open === false) continue; // settled by another process of the profile meanwhile
    if (stored.has(intent.invoiceId)) {
      done.paid++;
      done.paidAmount += BigInt(intent.amount);
      await options.payments.append({ ...intent, ts: ts(), event: "fulfilled" });
    } else {
      done.notPaid++;
      await options.payments.append({
        ...intent,
        ts: ts(),
        event: "rejected",
        reason: NOT_STORED_AT_CLOSE,
      });
    }
  }
  return done;
}

const IDS_PER_QUERY = 100;

/**
 * Which of the event ids the relay at `relayUrl` stores (NIP-01 REQ by `ids`, a hundred a query).
 *
 * It needs a relay: {@linkcode resolveInDoubtWrites}'s caller, `turnpike channel close`, asks the
 * town with it (tests/e2e/channel_lost_answer_restart_test.ts).
 * @throws {RelayQueryError} when the relay cannot be read.
 */
export function storedOnRelay(
  relayUrl: string,
): (eventIds: string[]) => Promise<ReadonlySet<string>> {
  return async (eventIds) => {
    const found = new Set<string>();
    for (let i = 0; i < eventIds.length; i += IDS_PER_QUERY) {
      const ids = eventIds.slice(i, i + IDS_PER_QUERY);
      const { events } = await queryRelay(relayUrl, [{ ids, limit: ids.length }], {
        maxEvents: ids.length,
      });
      for (const e of events) if (ids.includes(e.id)) found.add(e.id);
    }
    return found;
  };
}
