/**
 * The books of a town's payouts to its BTP peers, shared by the processes of a town on one
 * PostgreSQL store (docs/OPERATIONS.md "Paying providers", "A town on several machines"):
 *
 * - `turnpike_payout_owed`: what each process's own books (its `peer_ledger.jsonl`, keyed by
 *   `books`, the key its state dir keeps: roles/town/shared_books_id.ts) say the town owes a
 *   peer, cumulative, only ever raised, and how much of it the town's claims cover (`covered`).
 *   The town owes a peer the sum over books.
 * - `turnpike_payout_channels`: the payer's side of the one payout channel per peer: the
 *   channel, its deposit, the newest claim's nonce and cumulative amount. The nonce and amount
 *   are the channel's book as the payer keeps it, shared: this is the PostgreSQL backend of
 *   state/channels/sent_channel_book.ts `SentChannelBook` (docs/ARCHITECTURE.md, "Where a channel's
 *   state lives").
 *
 * A claim is decided in one transaction that locks the peer's channel row (`SELECT ... FOR
 * UPDATE`), reads what is owed in sum and writes the new nonce and amount: two processes never
 * sign the same nonce nor, together, more than the deposit. The claim is signed inside that
 * transaction and leaves only after the commit; the commit sends `NOTIFY turnpike_payouts` with
 * the peer's account, so the process holding the peer's connection sends it on. A channel is
 * opened by one process at a time (a transaction-scoped advisory lock held across the chain
 * transactions, which also keeps two processes from taking the same account nonce).
 *
 * A channel's row carries where it is on chain (`status`: open, closed, settled; docs/OPERATIONS.md
 * "The town's payout channels on chain"): a close marked by any process stops every process's
 * claims on it (the claim's row lock reads the status), and one process at a time settles it
 * (`settleOnce`: the row taken with `FOR UPDATE SKIP LOCKED`, the others skip it). The row is
 * kept after the settle, so no process opens a second channel to the peer.
 *
 * @module
 */
import { StateError } from "../state_error.ts";
import type postgres from "postgres";
import { openPostgresSchema } from "./postgres_schema.ts";
import {
  assertFollows,
  SentBookError,
  type SentChannelBook,
  type SentClaimBook,
} from "../channels/sent_channel_book.ts";

type Sql = ReturnType<typeof postgres>;
type Tx = postgres.TransactionSql;

/** Options for {@linkcode openPostgresPayoutBooks}. */
export interface PostgresPayoutBooksOptions {
  /** `postgres://user@host:port/db`: the town's shared store. */
  url: string;
  /** Connections of this process for the books (one more listens). Default 3. */
  maxConnections?: number;
  /** Seconds to wait for a connection before an operation fails. Default 5. */
  connectTimeoutSeconds?: number;
}

/** The payout books' tables could not be created or reached. */
export class PayoutBooksError extends StateError {
  override name = "PayoutBooksError";
}

/** The payer's side of a payout channel, as the books keep it. */
export interface PayoutChannelRow {
  account: string;
  channelId: `0x${string}`;
  peerAddress: `0x${string}`;
  chainId: number;
  tokenNetworkAddress: `0x${string}`;
  tokenAddress: `0x${string}`;
  /** The town's deposit. */
  deposit: bigint;
  /** The newest claim's nonce; 0 before the first. */
  nonce: bigint;
  /** The newest claim's cumulative amount. */
  transferred: bigint;
  /** Where the channel is on chain, as the processes' watch last saw it. */
  status: PayoutChannelStatus;
  /** Unix seconds from which the closed channel can be settled; 0 while open. */
  settleAt: bigint;
  /** Settled: the settle's transaction, or who settled it first. */
  settledBy?: string;
  /** Settled: what the settle paid the peer (the town's balance proof on chain). */
  paid?: bigint;
  /**
   * The transaction that opened the channel, when known: proves this contract opened it and
   * narrows log reads to blocks from its own (a hosted RPC caps the range). Rows written before
   * the column have none.
   */
  openTx?: `0x${string}`;
}

/** A payout channel on chain: claims are signed only on an open one. */
export type PayoutChannelStatus = "open" | "closed" | "settled";

/** How a settle ended, as {@linkcode PostgresPayoutBooks.settleOnce} books it. */
export interface PayoutSettle {
  /** The settle's transaction, or who settled the channel first. */
  settledBy: string;
  /** What the settle paid the peer. */
  paid: bigint;
}

/** What one process's books stand at for a peer, and the town's in sum. */
export interface PayoutStanding {
  /** Owed by the town in sum over every process's books. */
  owed: bigint;
  /** The newest claim's cumulative amount (0 without a channel). */
  transferred: bigint;
}

/** A claim decided under the row lock. */
export interface PayoutDecision {
  nonce: bigint;
  transferred: bigint;
}

const SCHEMA = `
CREATE TABLE IF NOT EXISTS turnpike_payout_owed (
  account TEXT NOT NULL,
  books TEXT NOT NULL,
  owed NUMERIC(78, 0) NOT NULL,
  covered NUMERIC(78, 0) NOT NULL DEFAULT 0,
  PRIMARY KEY (account, books));
CREATE TABLE IF NOT EXISTS turnpike_payout_channels (
  account TEXT PRIMARY KEY,
  channel_id TEXT NOT NULL,
  peer_address TEXT NOT NULL,
  chain_id BIGINT NOT NULL,
  token_network TEXT NOT NULL,
  token TEXT NOT NULL,
  deposit NUMERIC(78, 0) NOT NULL,
  nonce NUMERIC(78, 0) NOT NULL,
  transferred NUMERIC(78, 0) NOT NULL,
  updated_at TIMESTAMPTZ NOT NULL DEFAULT now());
ALTER TABLE turnpike_payout_channels ADD COLUMN IF NOT EXISTS status TEXT NOT NULL DEFAULT 'open';
ALTER TABLE turnpike_payout_channels ADD COLUMN IF NOT EXISTS settle_at NUMERIC(78, 0) NOT NULL
  DEFAULT 0;
ALTER TABLE turnpike_payout_channels ADD COLUMN IF NOT EXISTS settled_by TEXT;
ALTER TABLE turnpike_payout_channels ADD COLUMN IF NOT EXISTS paid NUMERIC(78, 0);
ALTER TABLE turnpike_payout_channels ADD COLUMN IF NOT EXISTS open_tx TEXT;
`;
/** Held while a payout channel is opened (chain transactions from the town's one key). */
const OPEN_LOCK = 0x7475726e70696b6fn; // "turnpiko"
const CHANNEL = "turnpike_payouts";

interface ChannelDbRow {
  account: string;
  channel_id: string;
  peer_address: string;
  chain_id: string;
  token_network: string;
  token: string;
  deposit: string;
  nonce: string;
  transferred: string;
  status: PayoutChannelStatus;
  settle_at: string;
  settled_by: string | null;
  paid: string | null;
  open_tx: string | null;
}

const COLUMNS = "account, channel_id, peer_address, chain_id::text, token_network, token, " +
  "deposit::text, nonce::text, transferred::text, status, settle_at::text, settled_by, " +
  "paid::text, open_tx";

function fromRow(r: ChannelDbRow): PayoutChannelRow {
  return {
    account: r.account,
    channelId: r.channel_id as `0x${string}`,
    peerAddress: r.peer_address as `0x${string}`,
    chainId: Number(r.chain_id),
    tokenNetworkAddress: r.token_network as `0x${string}`,
    tokenAddress: r.token as `0x${string}`,
    deposit: BigInt(r.deposit),
    nonce: BigInt(r.nonce),
    transferred: BigInt(r.transferred),
    status: r.status,
    settleAt: BigInt(r.settle_at),
    ...(r.settled_by === null ? {} : { settledBy: r.settled_by }),
    ...(r.paid === null ? {} : { paid: BigInt(r.paid) }),
    ...(r.open_tx === null ? {} : { openTx: r.open_tx as `0x${string}` }),
  };
}

/** The sender's book of a payout channel's row. */
function sentBookOf(row: PayoutChannelRow): SentClaimBook {
  return { channelId: row.channelId, nonce: row.nonce, transferred: row.transferred };
}

/**
 * The payout books in PostgreSQL; their channels' rows are the shared backend of
 * {@linkcode SentChannelBook}.
 *
 * It needs PostgreSQL: no example that runs here:
 * tests/unit/state/postgres/postgres_payout_books_test.ts.
 */
export class PostgresPayoutBooks implements SentChannelBook {
  /** Every process of the town writes these books. */
  readonly shared = true;
  readonly #sql: Sql;

  constructor(sql: Sql) {
    this.#sql = sql;
  }

  /**
   * Records what one process's books owe a peer (cumulative; a lower figure changes nothing)
   * and answers what the town owes it in sum and its newest claim.
   */
  async publish(account: string, books: string, owed: bigint): Promise<PayoutStanding> {
    const [row] = await this.#sql.unsafe<{ owed: string; transferred: string }[]>(
      `WITH up AS (
         INSERT INTO turnpike_payout_owed AS o (account, books, owed) VALUES ($1, $2, $3)
         ON CONFLICT (account, books) DO UPDATE SET owed = GREATEST(o.owed, EXCLUDED.owed)
         RETURNING owed)
       SELECT ((SELECT owed FROM up) + COALESCE((SELECT sum(owed) FROM turnpike_payout_owed
                 WHERE account = $1 AND books <> $2), 0))::text AS owed,
              COALESCE((SELECT transferred FROM turnpike_payout_channels WHERE account = $1),
                0)::text AS transferred`,
      [account, books, owed.toString()],
    );
    return { owed: BigInt(row.owed), transferred: BigInt(row.transferred) };
  }

  /** How much of one process's books for a peer the town's claims cover. */
  async covered(account: string, books: string): Promise<bigint> {
    const [row] = await this.#sql.unsafe<{ covered: string }[]>(
      `SELECT covered::text FROM turnpike_payout_owed WHERE account = $1 AND books = $2`,
      [account, books],
    );
    return row === undefined ? 0n : BigInt(row.covered);
  }

  /** The peer's payout channel, when one was opened. */
  async channel(account: string): Promise<PayoutChannelRow | undefined> {
    const [row] = await this.#sql.unsafe<ChannelDbRow[]>(
      `SELECT ${COLUMNS} FROM turnpike_payout_channels WHERE account = $1`,
      [account],
    );
    return row === undefined ? undefined : fromRow(row);
  }

  /**
   * The peer's payout channel, opened with `open` when it has none: one process at a time
   * opens (an advisory lock held until the row is committed), the others then find the row.
   */
  async openOnce(
    account: string,
    open: () => Promise<
      Omit<PayoutChannelRow, "account" | "nonce" | "transferred" | "status" | "settleAt">
    >,
  ): Promise<PayoutChannelRow> {
    return await this.#sql.begin(async (tx) => {
      await tx.unsafe("SELECT pg_advisory_xact_lock($1)", [OPEN_LOCK.toString()]);
      const [known] = await tx.unsafe<ChannelDbRow[]>(
        `SELECT ${COLUMNS} FROM turnpike_payout_channels WHERE account = $1`,
        [account],
      );
      if (known !== undefined) return fromRow(known);
      const c = await open();
      const [row] = await tx.unsafe<ChannelDbRow[]>(
        `INSERT INTO turnpike_payout_channels
           (account, channel_id, peer_address, chain_id, token_network, token, deposit, nonce,
            transferred, open_tx)
         VALUES ($1, $2, $3, $4, $5, $6, $7, 0, 0, $8) RETURNING ${COLUMNS}`,
        [
          account,
          c.channelId.toLowerCase(),
          c.peerAddress,
          c.chainId,
          c.tokenNetworkAddress,
          c.tokenAddress,
          c.deposit.toString(),
          c.openTx ?? null,
        ],
      );
      return fromRow(row);
    });
  }

  /**
   * Decides the peer's next claim under its channel row's lock: `decide` gets the channel and
   * what is owed in sum, and answers the new nonce and cumulative amount (signing before it
   * answers), or undefined for none. The claim's cover is shared out over the books (each
   * process's `covered` raised up to its `owed`, in the order of their keys) and the commit
   * notifies the other processes. Resolves with the row as committed. On a channel that is not
   * open (closed on chain) nothing is decided: the row is answered as it is.
   */
  async claim(
    account: string,
    decide: (channel: PayoutChannelRow, owed: bigint) => Promise<PayoutDecision | undefined>,
  ): Promise<PayoutChannelRow | undefined> {
    return await this.#sql.begin(async (tx) => {
      const channel = await this.#lock(tx, "account", account);
      if (channel === undefined || channel.status !== "open") return channel;
      const rows = await tx.unsafe<{ books: string; owed: string; covered: string }[]>(
        `SELECT books, owed::text, covered::text FROM turnpike_payout_owed WHERE account = $1
          ORDER BY books FOR UPDATE`,
        [account],
      );
      const owed = rows.reduce((sum, r) => sum + BigInt(r.owed), 0n);
      const next = await decide(channel, owed);
      if (next === undefined) return channel;
      await this.#keep(tx, channel, next);
      let spare = next.transferred - rows.reduce((sum, r) => sum + BigInt(r.covered), 0n);
      for (const r of rows) {
        const gap = BigInt(r.owed) - BigInt(r.covered);
        const add = gap < spare ? gap : spare;
        if (add <= 0n) continue;
        spare -= add;
        await tx.unsafe(
          `UPDATE turnpike_payout_owed SET covered = covered + $3 WHERE account = $1 AND books = $2`,
          [account, r.books, add.toString()],
        );
      }
      await tx.unsafe("SELECT pg_notify($1, $2)", [CHANNEL, account]);
      return { ...channel, nonce: next.nonce, transferred: next.transferred };
    });
  }

  /**
   * See {@linkcode SentChannelBook.update}: the channel's row locked, its claim decided and
   * committed in one transaction. Only the claim: what is owed, its cover and the notice to the
   * other processes are {@linkcode PostgresPayoutBooks.claim}'s.
   */
  async update(
    channelId: `0x${string}`,
    decide: (
      book: SentClaimBook,
    ) => SentClaimBook | undefined | Promise<SentClaimBook | undefined>,
  ): Promise<SentClaimBook> {
    return await this.#sql.begin(async (tx) => {
      const channel = await this.#lock(tx, "channel_id", channelId.toLowerCase());
      if (channel === undefined) throw new SentBookError(`no book of channel ${channelId}`);
      if (channel.status !== "open") {
        throw new SentBookError(
          `channel ${channelId} is ${channel.status}: no claim is signed on it`,
        );
      }
      const book = sentBookOf(channel);
      const next = await decide({ ...book });
      if (next === undefined) return book;
      await this.#keep(tx, channel, next);
      return { ...next, channelId: book.channelId };
    });
  }

  /** See {@linkcode SentChannelBook.read}. */
  async read(channelId: `0x${string}`): Promise<SentClaimBook | undefined> {
    const [row] = await this.#sql.unsafe<ChannelDbRow[]>(
      `SELECT ${COLUMNS} FROM turnpike_payout_channels WHERE channel_id = $1`,
      [channelId.toLowerCase()],
    );
    return row === undefined ? undefined : sentBookOf(fromRow(row));
  }

  /** See {@linkcode SentChannelBook.list}. */
  async list(): Promise<SentClaimBook[]> {
    const rows = await this.#sql.unsafe<ChannelDbRow[]>(
      `SELECT ${COLUMNS} FROM turnpike_payout_channels ORDER BY channel_id`,
    );
    return rows.map((r) => sentBookOf(fromRow(r)));
  }

  /** Every payout channel's row, by account. */
  async channels(): Promise<PayoutChannelRow[]> {
    const rows = await this.#sql.unsafe<ChannelDbRow[]>(
      `SELECT ${COLUMNS} FROM turnpike_payout_channels ORDER BY account`,
    );
    return rows.map(fromRow);
  }

  /**
   * Marks an open channel closed on chain (settleable from `settleAt`), after any claim under
   * way on it commits: no process signs on it after. True when this call marked it.
   */
  async markClosed(channelId: `0x${string}`, settleAt: bigint): Promise<boolean> {
    const rows = await this.#sql.unsafe(
      `UPDATE turnpike_payout_channels SET status = 'closed', settle_at = $2, updated_at = now()
        WHERE channel_id = $1 AND status = 'open' RETURNING account`,
      [channelId.toLowerCase(), settleAt.toString()],
    );
    return rows.length > 0;
  }

  /**
   * Settles a channel that is not settled yet, one process at a time: its row is taken with
   * `FOR UPDATE SKIP LOCKED` (a process that finds it taken skips it; another is settling) and
   * `settle` runs under that lock; what it answers is committed with the status `settled`.
   * Resolves with the settled row, or undefined when this process did not settle it (taken,
   * already settled, or `settle` answered undefined: not due yet).
   */
  async settleOnce(
    channelId: `0x${string}`,
    settle: (channel: PayoutChannelRow) => Promise<PayoutSettle | undefined>,
  ): Promise<PayoutChannelRow | undefined> {
    return await this.#sql.begin(async (tx) => {
      const [row] = await tx.unsafe<ChannelDbRow[]>(
        `SELECT ${COLUMNS} FROM turnpike_payout_channels
          WHERE channel_id = $1 AND status <> 'settled' FOR UPDATE SKIP LOCKED`,
        [channelId.toLowerCase()],
      );
      if (row === undefined) return undefined;
      const done = await settle(fromRow(row));
      if (done === undefined) return undefined;
      const [settled] = await tx.unsafe<ChannelDbRow[]>(
        `UPDATE turnpike_payout_channels SET status = 'settled', settled_by = $2, paid = $3,
           updated_at = now() WHERE channel_id = $1 RETURNING ${COLUMNS}`,
        [channelId.toLowerCase(), done.settledBy, done.paid.toString()],
      );
      return fromRow(settled);
    });
  }

  /**
   * One process's books' share of what a settled channel paid the peer: the settle's amount
   * shared out over the books as the claims' cover was (in the order of their keys, each up to
   * what it covered), so the shares sum to what the chain paid.
   */
  async settledShare(account: string, books: string): Promise<bigint> {
    const channel = await this.channel(account);
    if (channel?.paid === undefined) return 0n;
    const rows = await this.#sql.unsafe<{ books: string; covered: string }[]>(
      `SELECT books, covered::text FROM turnpike_payout_owed WHERE account = $1 ORDER BY books`,
      [account],
    );
    let left = channel.paid;
    for (const r of rows) {
      const share = BigInt(r.covered) < left ? BigInt(r.covered) : left;
      if (r.books === books) return share;
      left -= share;
    }
    return 0n;
  }

  /** The channel's row by its peer's account or by its id, locked until the commit. */
  async #lock(
    tx: Tx,
    by: "account" | "channel_id",
    key: string,
  ): Promise<PayoutChannelRow | undefined> {
    const [locked] = await tx.unsafe<ChannelDbRow[]>(
      `SELECT ${COLUMNS} FROM turnpike_payout_channels WHERE ${by} = $1 FOR UPDATE`,
      [key],
    );
    return locked === undefined ? undefined : fromRow(locked);
  }

  /** Writes the channel's next claim, when it follows the newest. */
  async #keep(
    tx: Tx,
    channel: PayoutChannelRow,
    next: Pick<SentClaimBook, "nonce" | "transferred">,
  ): Promise<void> {
    assertFollows(sentBookOf(channel), { ...next, channelId: channel.channelId });
    await tx.unsafe(
      `UPDATE turnpike_payout_channels SET nonce = $2, transferred = $3, updated_at = now()
        WHERE account = $1`,
      [channel.account, next.nonce.toString(), next.transferred.toString()],
    );
  }

  /** Calls `onClaim` with the account of every claim committed (by any process). */
  async listen(onClaim: (account: string) => void): Promise<void> {
    await this.#sql.listen(CHANNEL, (payload) => onClaim(payload));
  }

  async close(): Promise<void> {
    await this.#sql.end({ timeout: 5 });
  }
}

/**
 * Connects to the town's shared store and creates the payout books' tables if they are not
 * there.
 *
 * It needs PostgreSQL: no example that runs here:
 * tests/unit/state/postgres/postgres_payout_books_test.ts.
 */
export async function openPostgresPayoutBooks(
  options: PostgresPayoutBooksOptions,
): Promise<PostgresPayoutBooks> {
  const sql = await openPostgresSchema({
    url: options.url,
    maxConnections: options.maxConnections ?? 3,
    connectTimeoutSeconds: options.connectTimeoutSeconds,
    what: "the payout books",
    schema: SCHEMA,
    error: (message, cause) => new PayoutBooksError(message, { cause }),
  });
  return new PostgresPayoutBooks(sql);
}
