/**
 * The writes in doubt of a town client, lasting in the payer's payment log
 * (docs/PROTOCOL.md "Payment channels and claims"): a write whose answer was lost gets an
 * `intent` line (category `town-write`, invoice the event id, peer the town), appended and fsynced
 * like any line of the log (state/line_appender.ts) before the write is sent again; its outcome is
 * the `fulfilled` line its town client records (the lost attempt's amount on a `duplicate` or a
 * late FULFILL, the retry's own when the retry is FULFILLed), which closes it. A process of the
 * profile started later reads the intents with no outcome for its town from the log and starts
 * with them (roles/town_client/in_doubt_writes.ts).
 *
 * Only the failure path writes: a write answered in time adds no line and no fsync.
 *
 * @module
 */
import { categoryOf, type PaymentEntry } from "../../state/payments/payment_log.ts";
import { townWriteEntry } from "../../state/payments/town_write_entry.ts";
import type { DoubtClaims } from "../../state/payments/doubt_claims.ts";
import { InDoubtWrites } from "./in_doubt_writes.ts";

/** Options for {@linkcode loggedInDoubtWrites}. */
export interface LoggedInDoubtWritesOptions {
  /** The payer's payment log (loaded in full: its writes in doubt are read once, here). */
  payments: {
    inDoubt(): PaymentEntry[];
    append(entry: PaymentEntry): Promise<void>;
  };
  /** The town's ILP address: the peer of its writes' lines. */
  townAddress: string;
  /** The asset of the lines (the town's, as its writes' `fulfilled` lines say it). */
  asset: string;
  /** Its decimal places, when known. */
  scale?: number;
  /** How many are remembered; default the town client's. */
  limit?: number;
  /** Told when one is forgotten past the limit. */
  warn?: (message: string) => void;
  /**
   * The profile's claims on its payments in doubt (`doubtClaims(stateDir)`): with them, a write
   * in doubt is sent again by one process of the profile at a time and its outcome recorded once
   * (state/payments/doubt_claims.ts). Without, this process alone is assumed.
   */
  claims?: DoubtClaims;
}

/**
 * The town client's writes in doubt, started with those the log holds for the town and kept in
 * it.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { openPaymentLog } from "../../state/payments/payment_log.ts";
 * import { loggedInDoubtWrites } from "./logged_in_doubt_writes.ts";
 *
 * const stateDir = await Deno.makeTempDir();
 * const town = { townAddress: "g.town", asset: "USD", scale: 6 };
 * const event = { id: "ab".repeat(32), tags: [] };
 * const before = loggedInDoubtWrites({ payments: await openPaymentLog({ stateDir }), ...town });
 * await before.note({ event, amount: 1_500n }); // the answer was lost; then the process died
 * const after = loggedInDoubtWrites({ payments: await openPaymentLog({ stateDir }), ...town });
 * assert.equal(after.take(event.id), 1_500n); // its retry, `duplicate`: the lost attempt paid
 * await Deno.remove(stateDir, { recursive: true });
 * ```
 */
export function loggedInDoubtWrites(options: LoggedInDoubtWritesOptions): InDoubtWrites {
  const { payments, townAddress, claims } = options;
  return new InDoubtWrites({
    limit: options.limit,
    initial: writesInDoubtAt(payments, townAddress).map((intent) =>
      [intent.invoiceId, BigInt(intent.amount)] as const
    ),
    warn: options.warn,
    claim: claims && ((eventId) => claims.claim(eventId, townAddress)),
    persist: async ({ event, amount, jobId }) => {
      await payments.append({
        ...townWriteEntry({
          direction: "out",
          kind: "write",
          event,
          jobId,
          amount,
          asset: options.asset,
          scale: options.scale,
          peer: townAddress,
        }),
        event: "intent",
      });
    },
  });
}

/**
 * The town's writes in doubt on the payer's log: its `town-write` intents with no outcome after
 * them, oldest first. The log keeps them by invoice and peer (state/payments/invoice_states.ts):
 * one event written to several towns is its own payment to each.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { openPaymentLog } from "../../state/payments/payment_log.ts";
 * import { writesInDoubtAt } from "./logged_in_doubt_writes.ts";
 *
 * const stateDir = await Deno.makeTempDir();
 * const log = await openPaymentLog({ stateDir });
 * const intent = { ts: new Date().toISOString(), direction: "out", event: "intent", jobId: "e1",
 *   invoiceId: "e1", amount: "100", asset: "USD", peer: "g.a", category: "town-write" } as const;
 * await log.append(intent);
 * await log.append({ ...intent, peer: "g.b" }); // the same event to another town
 * await log.append({ ...intent, peer: "g.b", event: "fulfilled" });
 * assert.deepEqual(writesInDoubtAt(log, "g.a").map((e) => e.invoiceId), ["e1"]);
 * assert.deepEqual(writesInDoubtAt(log, "g.b"), []); // its retry there was FULFILLed
 * await Deno.remove(stateDir, { recursive: true });
 * ```
 */
export function writesInDoubtAt(
  payments: { inDoubt(): PaymentEntry[] },
  townAddress: string,
): PaymentEntry[] {
  return payments.inDoubt().filter((e) => e.peer === townAddress && categoryOf(e) === "town-write");
}
