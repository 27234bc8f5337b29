/**
 * A town's start-up step that opens its books: its income (one line per paid write or blob), what
 * it owes each BTP peer it forwards payments to (state/payments/peer_ledger.ts), both on disk before the
 * FULFILL leaves, and what each peer without a channel spent on credit, in the database on a
 * shared store (btp/peer_credit_gate.ts, docs/OPERATIONS.md), and there which process owes each
 * condition paid (btp/paid_once.ts).
 *
 * @module
 */
import type { TownSettings } from "../../config/town_settings.ts";
import { openPaymentLog, type PaymentLog } from "../../state/payments/payment_log.ts";
import { openFilePeerCredit, type PeerCredit } from "../../state/payments/peer_credit.ts";
import { openPeerLedger, type PeerLedger } from "../../state/payments/peer_ledger.ts";
import type { PostgresEventStore } from "../../state/postgres/postgres_event_store.ts";
import type { TownClosers } from "./town_stop.ts";
import { PaidOnce } from "./btp/paid_once.ts";
import { sharedBooksId } from "./shared_books_id.ts";

/** The books a town opened. */
export interface TownBooks {
  /** The town's income. */
  income: PaymentLog;
  /** What the town owes each BTP peer. */
  ledger: PeerLedger;
  /** What each peer without a channel spent; undefined when no peer has credit. */
  credit: PeerCredit | undefined;
  /** The credit limits configured per peer account. */
  creditLimits: Map<string, bigint>;
  /** On a shared store: which process owes each condition paid (btp/paid_once.ts). */
  paidOnce?: PaidOnce;
}

// Loaded by URL on a shared store only: a SQLite town neither reads nor evaluates the PostgreSQL
// wrappers (docs/SCALE.md "An idle town's memory"; as cli/lazy_import.ts).
const POSTGRES_PEER_CREDIT = new URL(
  "../../state/postgres/postgres_peer_credit.ts",
  import.meta.url,
);
const POSTGRES_BOOKS_LEASE = new URL(
  "../../state/postgres/postgres_books_lease.ts",
  import.meta.url,
);
const POSTGRES_PAID_CONDITIONS = new URL(
  "../../state/postgres/postgres_paid_conditions.ts",
  import.meta.url,
);

/**
 * Opens the income log, the peer ledger and, when some peer has credit, the credit counts (their
 * closing added to `closers`); on a shared store the paid conditions (`log`: what they report).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { openTownBooks } from "./town_books.ts";
 * import { TownClosers } from "./town_stop.ts";
 *
 * const stateDir = await Deno.makeTempDir();
 * const closers = new TownClosers();
 * const books = await openTownBooks({ stateDir, peers: [] }, undefined, closers);
 * assert.equal(books.ledger.balance("beta").owed, 0n);
 * await closers.stop();
 * await Deno.remove(stateDir, { recursive: true });
 * ```
 */
export async function openTownBooks(
  config: Pick<TownSettings, "stateDir" | "peers" | "peerCreditLimit" | "storeUrl">,
  postgresStore: PostgresEventStore | undefined,
  closers: TownClosers,
  log: (line: string) => void = () => {},
): Promise<TownBooks> {
  // The town's income, one line per paid write or blob, on disk before the FULFILL leaves.
  // Only appended to here (a line per paid write): none of it is kept in memory.
  const income = await openPaymentLog({ stateDir: config.stateDir, appendOnly: true });
  // What the town owes each BTP peer it forwards payments to, on disk before the FULFILL leaves.
  const ledger = await openPeerLedger({ stateDir: config.stateDir });
  // What each peer without a channel has spent on credit: in the database on a shared store.
  const creditLimits = new Map(
    config.peers.flatMap((p) => p.creditLimit === undefined ? [] : [[p.account, p.creditLimit]]),
  );
  const credit = config.peerCreditLimit === undefined && creditLimits.size === 0
    ? undefined
    : postgresStore
    ? await (await (import(POSTGRES_PEER_CREDIT.href) as Promise<
      typeof import("../../state/postgres/postgres_peer_credit.ts")
    >)).openPostgresPeerCredit(postgresStore.sql)
    : await openFilePeerCredit({ stateDir: config.stateDir });
  // Claims on the books that the counts do not hold yet (made before payouts were counted
  // there) are counted now, before any packet: earnings paid out never back credit again.
  for (const b of credit ? ledger.balances() : []) {
    if (b.claimed > 0n) await credit!.payOut(b.account, { owed: 0n, cap: 0n, claimed: b.claimed });
  }
  // A condition paid is owed by one process's books: recorded after each FULFILL, claimed
  // before a payment in doubt is proven (docs/PROTOCOL.md "A payment in doubt on another process").
  const booksId = postgresStore && await sharedBooksId(config.stateDir);
  // One running process per books key: a state dir copied from a running process's is refused.
  const lease = booksId !== undefined && config.storeUrl !== undefined
    ? await (await (import(POSTGRES_BOOKS_LEASE.href) as Promise<
      typeof import("../../state/postgres/postgres_books_lease.ts")
    >)).holdPostgresBooksLease({ url: config.storeUrl, key: booksId, log })
    : undefined;
  if (lease) closers.add(() => lease.close());
  const paidOnce = postgresStore && new PaidOnce({
    conditions: await (await (import(POSTGRES_PAID_CONDITIONS.href) as Promise<
      typeof import("../../state/postgres/postgres_paid_conditions.ts")
    >)).openPostgresPaidConditions(postgresStore.sql),
    books: booksId!,
    log,
  });
  // Those booked before a kill within a batch's time, or while the store refused them.
  void paidOnce?.recordHeld(ledger.fulfilledHeld());
  closers.add(async () => {
    await paidOnce?.close();
    await credit?.close();
  });
  return { income, ledger, credit, creditLimits, ...(paidOnce && { paidOnce }) };
}
