/**
 * The states of a payer's outgoing invoices, as its payment log's lines leave them
 * (state/payments/payment_log.ts): per (invoice, peer), since an invoice is a payment to one
 * peer and one event written to several towns is a payment to each under the same invoice id
 * (its event id). Each line of an invoice to a peer sets its state (`intent`: in doubt,
 * `fulfilled`: paid, `rejected`), except that nothing after a `fulfilled` line downgrades it.
 *
 * A reader that names no peer gets the invoice's most settled state over its peers: paid, then in
 * doubt, then rejected. A provider's invoice or a transfer has one peer, so that is its state; a
 * log written before states were kept per peer reads the same, its lines each naming their peer.
 *
 * @module
 */
import type { PaymentEntry } from "./payment_log.ts";

/** State of one outgoing invoice. */
export type InvoiceState = "none" | "in-doubt" | "paid" | "rejected";

/** An outgoing invoice to one peer: its state and its newest line. */
export interface InvoiceRecord {
  state: InvoiceState;
  entry: PaymentEntry;
}

/** Over an invoice's peers, the most settled state wins: paid, then in doubt, then rejected. */
const SETTLED_RANK: Record<InvoiceState, number> = {
  none: 0,
  rejected: 1,
  "in-doubt": 2,
  paid: 3,
};

/**
 * Outgoing invoices by id and peer, in the order of their last line, oldest first.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { InvoiceStates } from "./invoice_states.ts";
 *
 * const intent = { ts: "2026-11-02T10:00:00Z", direction: "out", event: "intent", jobId: "e1",
 *   invoiceId: "e1", amount: "100", asset: "USD", peer: "g.a", category: "town-write" } as const;
 * const states = new InvoiceStates();
 * states.apply(intent); // one event written to two towns: a payment to each
 * states.apply({ ...intent, peer: "g.b" });
 * states.apply({ ...intent, event: "fulfilled" });
 * assert.equal(states.get("e1", "g.a")?.state, "paid");
 * assert.deepEqual(states.inDoubt().map((e) => e.peer), ["g.b"]); // g.b's answer still lost
 * assert.equal(states.get("e1")?.state, "paid"); // naming no peer: the most settled
 * ```
 */
export class InvoiceStates {
  readonly #byInvoice = new Map<string, Map<string, InvoiceRecord>>();

  /**
   * Takes one outgoing line (the caller passes only `direction: "out"` lines); returns the
   * invoice's record to that peer before and after it, or undefined when the line changed nothing
   * (a late reject after the payment).
   */
  apply(
    entry: PaymentEntry,
  ): { before: InvoiceRecord | undefined; after: InvoiceRecord } | undefined {
    const state: InvoiceState = entry.event === "intent"
      ? "in-doubt"
      : entry.event === "fulfilled"
      ? "paid"
      : "rejected";
    const byPeer = this.#byInvoice.get(entry.invoiceId) ?? new Map<string, InvoiceRecord>();
    const prior = byPeer.get(entry.peer);
    // A late reject never downgrades a fulfilled invoice.
    if (prior?.state === "paid" && state !== "paid") return undefined;
    const after = { state, entry };
    byPeer.delete(entry.peer);
    byPeer.set(entry.peer, after);
    this.#byInvoice.delete(entry.invoiceId);
    this.#byInvoice.set(entry.invoiceId, byPeer);
    return { before: prior, after };
  }

  /** The invoice to `peer`, or its most settled over its peers when no peer is named. */
  get(invoiceId: string, peer?: string): InvoiceRecord | undefined {
    const byPeer = this.#byInvoice.get(invoiceId);
    if (byPeer === undefined) return undefined;
    if (peer !== undefined) return byPeer.get(peer);
    let settled: InvoiceRecord | undefined;
    for (const v of byPeer.values()) {
      if (settled === undefined || SETTLED_RANK[v.state] > SETTLED_RANK[settled.state]) settled = v;
    }
    return settled;
  }

  /** Every invoice to every peer, in the order of their last line. */
  *records(): Iterable<InvoiceRecord> {
    for (const byPeer of this.#byInvoice.values()) yield* byPeer.values();
  }

  /** The newest lines of the invoices in doubt, one per invoice and peer, oldest first. */
  inDoubt(): PaymentEntry[] {
    return [...this.records()].filter((v) => v.state === "in-doubt").map((v) => v.entry);
  }
}
