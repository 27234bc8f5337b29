/**
 * Which process of a town on one PostgreSQL store holds the town's link to its parent connector
 * (docs/OPERATIONS.md "A town on several machines", "The parent link"): a connector's BTP
 * account takes one connection at a time (a second one closes the first, as the reference
 * connector's `ilp-plugin-btp` does), so processes that all dialled it would close each other's
 * links over and over, failing the packets in flight on them. One process holds a session-level
 * advisory lock on its own connection and dials; the others send their parent-bound packets to
 * it. The lock goes with the holder's session: a killed holder's connection closes and another
 * process takes the lock at its next try. The town's address and asset, learnt by IL-DCP over
 * the link, are kept in `turnpike_uplink` for processes that do not hold it.
 *
 * @module
 */
import { StateError } from "../state_error.ts";
import type postgres from "postgres";
import type { IldcpResponse } from "../../protocol/ildcp.ts";
import { openPostgresSchema } from "./postgres_schema.ts";

type Sql = ReturnType<typeof postgres>;

/** Advisory lock key of the parent link ("tpuplink" in ASCII, as a number). */
export const UPLINK_LOCK = 0x7470_75706c696e6bn;

/** Options for {@linkcode openPostgresUplink}. */
export interface PostgresUplinkOptions {
  /** `postgres://user@host:port/db`: the town's shared store. */
  url: string;
  /** Seconds to wait for the connection before an operation fails. Default 5. */
  connectTimeoutSeconds?: number;
}

/** The lock or its table could not be reached. */
export class UplinkError extends StateError {
  override name = "UplinkError";
}

const SCHEMA = `
CREATE TABLE IF NOT EXISTS turnpike_uplink (
  id INT PRIMARY KEY CHECK (id = 1),
  client_address TEXT NOT NULL,
  asset_code TEXT NOT NULL,
  asset_scale INT NOT NULL,
  updated_at TIMESTAMPTZ NOT NULL DEFAULT now()
)`;

/**
 * The parent link's lock and the town's learnt address, on one connection of its own (the
 * lock is that connection's session's).
 *
 * It needs PostgreSQL: no example that runs here:
 * tests/unit/state/postgres/shared_parent_link_test.ts.
 */
export class PostgresUplink {
  readonly #sql: Sql;

  constructor(sql: Sql) {
    this.#sql = sql;
  }

  /**
   * True when this process holds the lock (taken now, or still held). False when another
   * process holds it; also after this process's connection was lost and replaced while another
   * took it: the caller must then drop its link.
   */
  async tryHold(): Promise<boolean> {
    // Session locks stack: asking again while held keeps it (and adds one to its count).
    const [row] = await this.#sql.unsafe<{ held: boolean }[]>(
      "SELECT pg_try_advisory_lock($1) AS held",
      [UPLINK_LOCK.toString()],
    );
    return row.held;
  }

  /** Keeps the town's address and asset as the parent told them. */
  async saveAddress(ildcp: IldcpResponse): Promise<void> {
    await this.#sql.unsafe(
      `INSERT INTO turnpike_uplink (id, client_address, asset_code, asset_scale)
       VALUES (1, $1, $2, $3)
       ON CONFLICT (id) DO UPDATE SET client_address = EXCLUDED.client_address,
         asset_code = EXCLUDED.asset_code, asset_scale = EXCLUDED.asset_scale, updated_at = now()`,
      [ildcp.clientAddress, ildcp.assetCode, ildcp.assetScale],
    );
  }

  /** The town's address and asset as the holder last learnt them, if any holder ever did. */
  async address(): Promise<IldcpResponse | undefined> {
    const [row] = await this.#sql.unsafe<
      { client_address: string; asset_code: string; asset_scale: number }[]
    >("SELECT client_address, asset_code, asset_scale FROM turnpike_uplink WHERE id = 1");
    if (row === undefined) return undefined;
    return {
      clientAddress: row.client_address,
      assetCode: row.asset_code,
      assetScale: Number(row.asset_scale),
    };
  }

  /** Ends the session: the lock, if held, is free for another process. */
  async close(): Promise<void> {
    await this.#sql.end({ timeout: 5 });
  }
}

/**
 * Connects (one connection: the lock's session) and creates the table if it is not there.
 *
 * It needs PostgreSQL: no example that runs here:
 * tests/unit/state/postgres/shared_parent_link_test.ts.
 */
export async function openPostgresUplink(options: PostgresUplinkOptions): Promise<PostgresUplink> {
  const sql = await openPostgresSchema({
    url: options.url,
    maxConnections: 1,
    connectTimeoutSeconds: options.connectTimeoutSeconds,
    what: "the parent link's lock",
    schema: SCHEMA,
    error: (message, cause) => new UplinkError(message, { cause }),
  });
  return new PostgresUplink(sql);
}
