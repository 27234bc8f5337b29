/**
 * Which process of a town on one PostgreSQL store holds each BTP peer's connection
 * (docs/OPERATIONS.md "A town on several machines", "Payments to a peer on another process"): one
 * row per account and process in `turnpike_peer_routes`, with the private listener's URL where
 * that process takes packets forwarded by the others. A process writes a row when a peer
 * authenticates and deletes it when the peer leaves (each change written in order, the state
 * read when the write runs, so a quick reconnect never leaves the wrong answer); every
 * `syncIntervalMs` it writes its whole set again, which repairs what a write lost while the
 * database was away and removes the rows of processes gone from `turnpike_processes`.
 *
 * Liveness is the heartbeat state/postgres/postgres_connection_counts.ts writes in `turnpike_processes`
 * (the process registry, state/postgres/postgres_processes.ts):
 * a holder whose heartbeat is older than `staleMs` is answered as such ({@linkcode PeerHolder}
 * `fresh: false`), so the caller refuses with a temporary code instead of waiting on a dead
 * process.
 *
 * @module
 */
import type postgres from "postgres";
import { createWithProcessRegistry, DATABASE_NOW as NOW } from "./postgres_processes.ts";

type Sql = ReturnType<typeof postgres>;

/** Options for {@linkcode PostgresPeerRoutes.open}. */
export interface PostgresPeerRoutesOptions {
  /** This process's id in `turnpike_processes` (state/postgres/postgres_connection_counts.ts). */
  process: string;
  /** Where this process takes forwarded packets (its private listener). */
  url: string;
  /** The accounts connected here now. */
  connected: () => string[];
  /** A heartbeat older than this is a process not heard from. Default 5 s. */
  staleMs?: number;
  /** Between two writes of the whole set. Default 5 s. */
  syncIntervalMs?: number;
  /** Told when a write fails (the next sync repairs it). */
  log?: (line: string) => void;
}

/** The process holding an account's connection, as the database says. */
export interface PeerHolder {
  process: string;
  /** Its private listener. */
  url: string;
  /** Its heartbeat is fresher than `staleMs`. */
  fresh: boolean;
  /** How long ago its heartbeat was written (ms); Infinity when it has none. */
  silentMs: number;
}

// The process registry (state/postgres/postgres_processes.ts) is created with these.
const SCHEMA = `
CREATE TABLE IF NOT EXISTS turnpike_peer_routes (
  account TEXT NOT NULL, process TEXT NOT NULL, url TEXT NOT NULL,
  since DOUBLE PRECISION NOT NULL, PRIMARY KEY (account, process));
`;

/**
 * The town-wide table of BTP peers' connections.
 *
 * It needs PostgreSQL: no example that runs here:
 * tests/unit/state/postgres/postgres_processes_test.ts.
 */
export class PostgresPeerRoutes {
  readonly #sql: Sql;
  readonly #options: PostgresPeerRoutesOptions;
  readonly #staleMs: number;
  readonly #log: (line: string) => void;
  /** The writes, one after the other. */
  #chain: Promise<void> = Promise.resolve();
  #timer?: ReturnType<typeof setInterval>;
  #closed = false;

  private constructor(sql: Sql, options: PostgresPeerRoutesOptions) {
    this.#sql = sql;
    this.#options = options;
    this.#staleMs = options.staleMs ?? 5_000;
    this.#log = options.log ?? (() => {});
  }

  /** Creates the tables if needed, writes this process's set and starts the syncs. */
  static async open(sql: Sql, options: PostgresPeerRoutesOptions): Promise<PostgresPeerRoutes> {
    await createWithProcessRegistry(sql, SCHEMA);
    const routes = new PostgresPeerRoutes(sql, options);
    await routes.sync();
    const timer = setInterval(
      () => routes.#enqueue(() => routes.#syncNow()),
      options.syncIntervalMs ?? 5_000,
    );
    Deno.unrefTimer(timer);
    routes.#timer = timer;
    return routes;
  }

  /** An account connected here or left: its row is written as things stand when it runs. */
  changed(account: string): void {
    this.#enqueue(async () => {
      if (this.#options.connected().includes(account)) {
        await this.#sql.unsafe(
          "INSERT INTO turnpike_peer_routes (account, process, url, since) " +
            `VALUES ($1, $2, $3, ${NOW}) ON CONFLICT (account, process) ` +
            "DO UPDATE SET url = EXCLUDED.url, since = EXCLUDED.since",
          [account, this.#options.process, this.#options.url],
        );
      } else {
        await this.#sql.unsafe(
          "DELETE FROM turnpike_peer_routes WHERE account = $1 AND process = $2",
          [account, this.#options.process],
        );
      }
    });
  }

  /** Writes the whole set now (and waits for the writes queued before). */
  sync(): Promise<void> {
    return this.#enqueue(() => this.#syncNow());
  }

  /**
   * The other process holding `account`'s connection: a live one first, the newest connection
   * first; undefined when no other process has it on record.
   */
  async holder(account: string): Promise<PeerHolder | undefined> {
    const [row] = await this.#sql.unsafe<
      { process: string; url: string; silent: number | null }[]
    >(
      `SELECT r.process, r.url, ${NOW} - p.heartbeat AS silent FROM turnpike_peer_routes r ` +
        "LEFT JOIN turnpike_processes p USING (process) WHERE r.account = $1 AND r.process <> $2 " +
        `ORDER BY (p.heartbeat > ${NOW} - $3) IS TRUE DESC, r.since DESC LIMIT 1`,
      [account, this.#options.process, this.#staleMs / 1000],
    );
    if (row === undefined) return undefined;
    const silentMs = row.silent === null ? Infinity : Math.max(0, Number(row.silent) * 1000);
    return { process: row.process, url: row.url, fresh: silentMs < this.#staleMs, silentMs };
  }

  /** Stops the syncs and removes this process's rows. */
  async close(): Promise<void> {
    this.#closed = true;
    if (this.#timer !== undefined) clearInterval(this.#timer);
    await this.#chain;
    await this.#sql.unsafe(
      "DELETE FROM turnpike_peer_routes WHERE process = $1",
      [this.#options.process],
    ).catch(() => {});
  }

  async #syncNow(): Promise<void> {
    const accounts = this.#options.connected();
    await this.#sql.begin(async (tx) => {
      await tx.unsafe(
        "DELETE FROM turnpike_peer_routes WHERE process = $1 AND NOT (account = ANY($2::text[]))",
        [this.#options.process, accounts],
      );
      if (accounts.length > 0) {
        await tx.unsafe(
          "INSERT INTO turnpike_peer_routes (account, process, url, since) " +
            `SELECT a, $2, $3, ${NOW} FROM unnest($1::text[]) AS t(a) ` +
            "ON CONFLICT (account, process) DO UPDATE SET url = EXCLUDED.url " +
            "WHERE turnpike_peer_routes.url <> EXCLUDED.url",
          [accounts, this.#options.process, this.#options.url],
        );
      }
      // Rows of processes whose heartbeat rows were swept (long dead).
      await tx.unsafe(
        "DELETE FROM turnpike_peer_routes r WHERE NOT EXISTS " +
          "(SELECT 1 FROM turnpike_processes p WHERE p.process = r.process) AND r.process <> $1",
        [this.#options.process],
      );
    });
  }

  #enqueue(write: () => Promise<void>): Promise<void> {
    if (this.#closed) return Promise.resolve();
    const next = this.#chain.then(write).catch((err) =>
      this.#log(`peer routes not written: ${(err as Error).message}`)
    );
    this.#chain = next;
    return next;
  }
}
