/**
 * Payment channel claim books shared by the processes of one town (docs/OPERATIONS.md, "A town
 * on several machines"): one row per channel in PostgreSQL, `turnpike_channel_books`, holding
 * the peer's newest accepted claim (nonce, cumulative amount, signature), the value delivered
 * for the peer (`forwarded`: packets FULFILLed) and the value in flight (`in_flight`: packets
 * whose claim check passed and whose write has not been answered; a process killed with packets
 * in flight leaves them there, never delivered). Every change runs in one transaction that first locks the channel's row (an
 * `INSERT ... ON CONFLICT DO UPDATE` that returns it, which locks it as `SELECT ... FOR UPDATE`
 * would, and creates it the first time): a claim accepted by one process and a packet charged
 * by another are decided one after the other, on the same numbers, so no cover is counted twice. The
 * commit is what makes a claim durable; the FULFILL waits for it (roles/channels/btp_claim_gate.ts).
 * `closing` is set once, when a process co-signs the channel's cooperative settle, and never
 * cleared: from that commit on, every process refuses the channel's claims and packets.
 *
 * @module
 */
import { StateError } from "../state_error.ts";
import type { ChannelBook, ClaimBook } from "../channels/channel_book.ts";
import type postgres from "postgres";
import { openPostgresSchema } from "./postgres_schema.ts";

type Sql = ReturnType<typeof postgres>;

/** Options for {@linkcode openPostgresClaimBooks}. */
export interface PostgresClaimBooksOptions {
  /** `postgres://user@host:port/db`: the town's shared store. */
  url: string;
  /** Connections of this process for the books. Default 2. */
  maxConnections?: number;
  /** Seconds to wait for a connection before an operation fails. Default 5. */
  connectTimeoutSeconds?: number;
}

/** The books' table could not be created or reached. */
export class ClaimBooksError extends StateError {
  override name = "ClaimBooksError";
}

// Numbers up to 2^256 (uint256 amounts) fit in NUMERIC(78, 0).
const SCHEMA = `
CREATE TABLE IF NOT EXISTS turnpike_channel_books (
  channel_id TEXT PRIMARY KEY,
  nonce NUMERIC(78, 0) NOT NULL,
  claimed NUMERIC(78, 0) NOT NULL,
  signature TEXT,
  forwarded NUMERIC(78, 0) NOT NULL,
  peer_withdrawn NUMERIC(78, 0) NOT NULL DEFAULT 0,
  updated_at TIMESTAMPTZ NOT NULL DEFAULT now()
);
ALTER TABLE turnpike_channel_books ADD COLUMN IF NOT EXISTS closing BOOLEAN NOT NULL DEFAULT false;
ALTER TABLE turnpike_channel_books ADD COLUMN IF NOT EXISTS in_flight NUMERIC(78, 0) NOT NULL DEFAULT 0`;

interface BookRow {
  channel_id: string;
  nonce: string;
  claimed: string;
  signature: string | null;
  forwarded: string;
  in_flight: string;
  peer_withdrawn: string;
  closing: boolean;
}

function fromRow(row: BookRow): ClaimBook {
  return {
    channelId: row.channel_id as `0x${string}`,
    nonce: BigInt(row.nonce),
    claimed: BigInt(row.claimed),
    signature: (row.signature ?? undefined) as `0x${string}` | undefined,
    forwarded: BigInt(row.forwarded),
    inFlight: BigInt(row.in_flight),
    peerWithdrawn: BigInt(row.peer_withdrawn),
    ...(row.closing ? { closing: true } : {}),
  };
}

/**
 * The claim books in PostgreSQL: the shared backend of {@linkcode ChannelBook}.
 *
 * It needs PostgreSQL: no example that runs here: tests/unit/chain/postgres_claim_books_test.ts.
 */
export class PostgresClaimBooks implements ChannelBook {
  /** Every process of the town writes these books. */
  readonly shared = true;
  readonly #sql: Sql;

  constructor(sql: Sql) {
    this.#sql = sql;
  }

  async update(
    channelId: `0x${string}`,
    seed: ClaimBook,
    decide: (book: ClaimBook) => ClaimBook | Promise<ClaimBook>,
  ): Promise<ClaimBook> {
    const id = channelId.toLowerCase();
    return await this.#sql.begin(async (tx) => {
      // One statement: inserts the seed when the channel has no row yet, else touches the row,
      // which locks it (as SELECT ... FOR UPDATE would) until the commit; either way the row
      // as it stands comes back.
      const [row] = await tx.unsafe<BookRow[]>(
        `INSERT INTO turnpike_channel_books AS b
           (channel_id, nonce, claimed, signature, forwarded, peer_withdrawn, in_flight)
         VALUES ($1, $2, $3, $4, $5, $6, $7)
         ON CONFLICT (channel_id) DO UPDATE SET channel_id = b.channel_id
         RETURNING channel_id, nonce::text, claimed::text, signature, forwarded::text,
                   in_flight::text, peer_withdrawn::text, closing`,
        [
          id,
          seed.nonce.toString(),
          seed.claimed.toString(),
          seed.signature ?? null,
          seed.forwarded.toString(),
          (seed.peerWithdrawn ?? 0n).toString(),
          (seed.inFlight ?? 0n).toString(),
        ],
      );
      const current = { ...fromRow(row), channelId };
      const next = await decide(current);
      await tx.unsafe(
        `UPDATE turnpike_channel_books
            SET nonce = $2, claimed = $3, signature = $4, forwarded = $5,
                peer_withdrawn = GREATEST(peer_withdrawn, $6), closing = closing OR $7,
                in_flight = $8, updated_at = now()
          WHERE channel_id = $1`,
        [
          id,
          next.nonce.toString(),
          next.claimed.toString(),
          next.signature ?? null,
          next.forwarded.toString(),
          (next.peerWithdrawn ?? 0n).toString(),
          next.closing === true,
          (next.inFlight ?? 0n).toString(),
        ],
      );
      return current.closing ? { ...next, closing: true } : next;
    });
  }

  async release(channelId: `0x${string}`, amount: bigint): Promise<void> {
    await this.#sql.unsafe(
      `UPDATE turnpike_channel_books SET in_flight = GREATEST(in_flight - $2, 0), updated_at = now()
        WHERE channel_id = $1`,
      [channelId.toLowerCase(), amount.toString()],
    );
  }

  async deliver(channelId: `0x${string}`, amount: bigint): Promise<void> {
    await this.#sql.unsafe(
      `UPDATE turnpike_channel_books
          SET forwarded = forwarded + $2, in_flight = GREATEST(in_flight - $2, 0),
              updated_at = now()
        WHERE channel_id = $1`,
      [channelId.toLowerCase(), amount.toString()],
    );
  }

  async read(channelId: `0x${string}`): Promise<ClaimBook | undefined> {
    const [row] = await this.#sql.unsafe<BookRow[]>(
      `SELECT channel_id, nonce::text, claimed::text, signature, forwarded::text,
              in_flight::text, peer_withdrawn::text, closing
         FROM turnpike_channel_books WHERE channel_id = $1`,
      [channelId.toLowerCase()],
    );
    return row === undefined ? undefined : { ...fromRow(row), channelId };
  }

  async list(): Promise<ClaimBook[]> {
    const rows = await this.#sql.unsafe<BookRow[]>(
      `SELECT channel_id, nonce::text, claimed::text, signature, forwarded::text,
              in_flight::text, peer_withdrawn::text, closing
         FROM turnpike_channel_books ORDER BY channel_id`,
    );
    return rows.map(fromRow);
  }

  async close(): Promise<void> {
    await this.#sql.end({ timeout: 5 });
  }
}

/**
 * Connects to the town's shared store and creates the books' table if it is not there.
 *
 * It needs PostgreSQL: no example that runs here: tests/unit/chain/postgres_claim_books_test.ts.
 */
export async function openPostgresClaimBooks(
  options: PostgresClaimBooksOptions,
): Promise<PostgresClaimBooks> {
  const sql = await openPostgresSchema({
    url: options.url,
    maxConnections: options.maxConnections ?? 2,
    connectTimeoutSeconds: options.connectTimeoutSeconds,
    what: "the channel books",
    schema: SCHEMA,
    error: (message, cause) => new ClaimBooksError(message, { cause }),
  });
  return new PostgresClaimBooks(sql);
}
