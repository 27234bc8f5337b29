/**
 * The provider's job records: a row each in `<state dir>/provider.sqlite`
 * (`state/jobs/provider_job_index.ts`), one per admitted job. A write is one transaction at
 * `synchronous = FULL` (`state/jobs/row_db.ts`): durable when it returns, a kill leaves the old
 * row or the new one; no file is written. The record that says a job paid carries its income
 * row in the same transaction, so a kill leaves both or neither (docs/PROTOCOL.md "A crash
 * between a payment's two records"). Memory holds the unfinished records and a few hundred ended
 * ones (state/jobs/provider_job_memory.ts); an ended record is read from its row when asked for.
 *
 * Each change is recorded in the git audit trail as `provider-jobs/<id>.toml` from the record's
 * bytes (`turnpike: <status> provider-job <id>`, group-committed; a paid record's commit names
 * its income); a write flags its row `unaudited` until that commit lands, and the rows a kill
 * left flagged are handed to the audit again on open, as the requester's rows are
 * (docs/ARCHITECTURE.md "The provider's job records as rows").
 *
 * An older profile's `provider-jobs/<id>.toml` files are imported on the first open, then left
 * and never read again (`provider-jobs/RECORDS_IN_INDEX.txt` says so); from then a missing index
 * is refused ({@linkcode JobIndexLostError}). Kept apart from the requester's `index.sqlite` so
 * one state dir can serve both roles.
 *
 * @module
 */
import type { DatabaseSync } from "node:sqlite";
import { writeFileAtomic } from "../atomic_file.ts";
import type { AuditLog } from "../audit/audit_log.ts";
import { pathExists } from "../path_exists.ts";
import {
  type PaymentEntry,
  PaymentEntryError,
  validatePaymentEntry,
} from "../payments/payment_log.ts";
import { ProviderIncomeRows } from "./provider_income_rows.ts";
import { JobIndexLostError } from "./job_repository_errors.ts";
import {
  type CorruptProviderJobFile,
  ENDED_STATUSES_SQL,
  ensureCustomerColumn,
  importProviderJobFiles,
  PROVIDER_JOB_INDEX,
  PROVIDER_JOB_INDEX_SCHEMA,
  PROVIDER_JOBS_DIR,
  PROVIDER_RECORDS_IN_INDEX_FILE,
  UPSERT_PROVIDER_JOB_SQL,
} from "./provider_job_index.ts";
import {
  formatProviderJobRecord,
  isTerminalProviderJob,
  parseProviderJobRecord,
  type ProviderJobRecord,
  ProviderJobRecordError,
} from "./provider_job_record.ts";
import { ProviderJobMemory } from "./provider_job_memory.ts";
import {
  ensureMetaTable,
  inTransaction,
  isDamagedDatabase,
  LandedFlags,
  openRowDb,
  Statements,
} from "./row_db.ts";

export { PROVIDER_JOBS_DIR };
export type { CorruptProviderJobFile };
export { readProviderJobRecord } from "./provider_job_index.ts";

/** Options for {@linkcode openProviderJobStore}. */
export interface ProviderJobStoreOptions {
  stateDir: string;
  /** Git audit trail the writes are recorded in. */
  audit?: AuditLog;
  /** Each write's commit fsynced (default true); false only for benchmarks. */
  durable?: boolean;
}

/** Options of {@linkcode ProviderJobStore.put}. */
export interface ProviderJobWrite {
  /** Extra `Key: Value` lines for the audit commit. */
  fields?: Record<string, string>;
  /** The payment this write records as paid: its income row, in the same transaction. */
  income?: PaymentEntry;
}

/**
 * Opens the store, loading every record.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 *
 * const stateDir = await Deno.makeTempDir();
 * const store = await openProviderJobStore({ stateDir });
 * assert.deepEqual(store.all(), []); // each admitted job's record, resumed from its row
 * store.close();
 * await Deno.remove(stateDir, { recursive: true });
 * ```
 */
export async function openProviderJobStore(
  options: ProviderJobStoreOptions,
): Promise<ProviderJobStore> {
  const store = new ProviderJobStore(options);
  await store.load();
  return store;
}

/** The provider's job records; see the module doc. */
export class ProviderJobStore {
  /** `<state dir>/provider-jobs`: an older profile's files, and the marker. */
  readonly dir: string;
  readonly indexPath: string;
  /** Records that did not parse (an older profile's files, or rows). */
  readonly corrupt: CorruptProviderJobFile[] = [];
  #audit: AuditLog | undefined;
  #durable: boolean;
  #db: DatabaseSync | undefined;
  #statements = new Statements(() => this.#db!);
  #landed: LandedFlags;
  /** The records not ended and the ended ones used last. */
  #memory = new ProviderJobMemory();
  /**
   * The income table's rows (payments, reversals, refunds paid): what the provider earned
   * all-time, whether a payment stands however old, a refund's row (an example:
   * state/jobs/provider_income_rows.ts).
   */
  readonly income: ProviderIncomeRows = new ProviderIncomeRows({
    db: () => this.#db!,
    statements: this.#statements,
  });

  constructor(options: ProviderJobStoreOptions) {
    const stateDir = options.stateDir.replace(/\/+$/, "");
    this.dir = `${stateDir}/${PROVIDER_JOBS_DIR}`;
    this.indexPath = `${stateDir}/${PROVIDER_JOB_INDEX}`;
    this.#audit = options.audit;
    this.#durable = options.durable ?? true;
    this.#landed = new LandedFlags({
      db: () => this.#db,
      table: "provider_jobs",
      durable: this.#durable,
    });
  }

  /** Opens the index (importing an older profile's files once) and reads every record. */
  async load(): Promise<void> {
    await Deno.mkdir(this.dir, { recursive: true, mode: 0o700 });
    const marker = `${this.dir}/${PROVIDER_RECORDS_IN_INDEX_FILE}`;
    const inRows = await pathExists(marker);
    if (inRows && !(await pathExists(this.indexPath))) throw this.#lost("is missing");
    const db = this.#db = openRowDb(this.indexPath, this.#durable);
    let schema: unknown;
    try {
      ensureMetaTable(db);
      schema = db.prepare("SELECT value FROM meta WHERE key = 'schema'").get()?.value;
    } catch (err) {
      this.close();
      // A lock held past the busy timeout, or an I/O error, is not a damaged index.
      if (!isDamagedDatabase(err)) throw err;
      throw this.#lost(`is damaged (${(err as Error).message})`, err);
    }
    if (schema !== PROVIDER_JOB_INDEX_SCHEMA) {
      if (inRows) {
        this.close();
        throw this.#lost("holds no job table");
      }
      this.corrupt.push(...(await importProviderJobFiles(db, this.dir)).corrupt);
    }
    if (!inRows) {
      await writeFileAtomic(
        marker,
        `The provider's job records are rows of ../${PROVIDER_JOB_INDEX} since this file was\n` +
          "written; the .toml files here, if any, were imported then and are not read again\n" +
          "(docs/OPERATIONS.md).\n",
        { mode: 0o600 },
      );
    }
    ensureCustomerColumn(db);
    // The records not ended are read whole; the ended ones when asked for.
    const unfinished =
      `SELECT id, text FROM provider_jobs WHERE status NOT IN (${ENDED_STATUSES_SQL})`;
    for (const row of db.prepare(unfinished).all()) {
      const record = this.#parse(String(row.id), String(row.text));
      if (record !== undefined) this.#memory.keep(record);
    }
    await this.income.importRefundLines(this.dir.slice(0, -PROVIDER_JOBS_DIR.length - 1));
    this.income.load();
    this.#auditFlagged();
  }

  /** Closes the index (flush the audit first: a commit landing after is not recorded). */
  close(): void {
    if (this.#db === undefined) return;
    this.#landed.clear();
    this.#statements.clear();
    this.#db.close();
    this.#db = undefined;
  }

  /** The record of a job, if admitted (an ended one not in memory read from its row). */
  get(id: string): ProviderJobRecord | undefined {
    let record = this.#memory.get(id);
    if (record === undefined) {
      const row = this.#statements.get("SELECT text FROM provider_jobs WHERE id = ?").get(id);
      record = row === undefined ? undefined : this.#parse(id, String(row.text));
      if (record !== undefined) this.#memory.keep(record);
    }
    return record === undefined ? undefined : { ...record };
  }

  /** Whether the job was ever admitted (its row looked up, not read). */
  has(id: string): boolean {
    return this.#memory.get(id) !== undefined ||
      this.#statements.get("SELECT 1 FROM provider_jobs WHERE id = ?").get(id) !== undefined;
  }

  /** Every record (copies), read from the rows: a pass over every job the provider took. */
  all(): ProviderJobRecord[] {
    const rows = this.#statements.get("SELECT id, text FROM provider_jobs").all();
    return rows.flatMap((row) => this.#parse(String(row.id), String(row.text)) ?? []);
  }

  /**
   * The records of the jobs not ended (copies): what a request's admission counts at each request,
   * without a pass over every job the provider ever took (docs/SCALE.md "A job on an aged
   * profile").
   */
  unfinished(): ProviderJobRecord[] {
    return [...this.#memory.unfinished()].map((r) => ({ ...r }));
  }

  /** The record of a job not ended (a copy), from memory: no row is read for an ended one. */
  getUnfinished(id: string): ProviderJobRecord | undefined {
    const record = this.#memory.get(id);
    return record === undefined || isTerminalProviderJob(record) ? undefined : { ...record };
  }

  /**
   * The records of one requester's jobs (copies): what its unpaid share is read from, without a
   * pass over every job the provider ever took (docs/SCALE.md "A job on an aged profile").
   */
  ofCustomer(customer: string): ProviderJobRecord[] {
    const rows = this.#statements.get("SELECT id, text FROM provider_jobs WHERE customer = ?")
      .all(customer);
    return rows.flatMap((row) => {
      const id = String(row.id);
      const record = this.#memory.get(id) ?? this.#parse(id, String(row.text));
      return record === undefined ? [] : [{ ...record }];
    });
  }

  /**
   * The ended records whose requester was never told (`notified = false`): what a restart tells,
   * read from the rows that say so, not from every record.
   */
  endedUnnotified(): ProviderJobRecord[] {
    return this.#rowsWith(`status IN (${ENDED_STATUSES_SQL}) AND`, "notified = false")
      .filter((r) => r.notified === false);
  }

  /**
   * The records that say paid (`paid`, or a delivery's `deliveryPaidAt`): what a restart checks
   * against the income (roles/provider/payments/unanswered_payments.ts), read from the rows that
   * say so, not from every record.
   */
  paidOnRecord(): ProviderJobRecord[] {
    return this.#rowsWith("status = 'paid' OR", "deliveryPaidAt = ")
      .filter((r) => r.status === "paid" || r.deliveryPaidAt !== undefined);
  }

  /** The records of the rows `where` holds of or with a line beginning `line` (the caller checks). */
  #rowsWith(where: string, line: string): ProviderJobRecord[] {
    // A line of the record's format (strings escape their newlines: no value begins a line).
    const rows = this.#statements.get(
      `SELECT id, text FROM provider_jobs WHERE ${where} instr(text, char(10) || ?) > 0`,
    ).all(line);
    return rows.flatMap((row) => this.#parse(String(row.id), String(row.text)) ?? []);
  }

  /** A row's record; undefined, listed in `corrupt`, when it does not parse. */
  #parse(id: string, text: string): ProviderJobRecord | undefined {
    try {
      return parseProviderJobRecord(text);
    } catch (err) {
      if (!(err instanceof ProviderJobRecordError)) throw err;
      const path = `${PROVIDER_JOB_INDEX}:${id}`;
      if (!this.corrupt.some((c) => c.path === path)) {
        this.corrupt.push({ path, reason: err.message });
      }
      return undefined;
    }
  }

  /**
   * Deletes a job's record (row and memory; its income rows stay), recording the deletion (with
   * `paths`, other files of the job the caller removed) in the audit trail: git history keeps
   * the record.
   *
   * @example
   * ```ts
   * import assert from "node:assert/strict";
   * import { readProviderJobRecord } from "./provider_job_index.ts";
   *
   * const stateDir = await Deno.makeTempDir();
   * const store = await openProviderJobStore({ stateDir });
   * const id = "ab".repeat(32);
   * const at = "2026-11-25T12:00:00.000Z";
   * await store.put({ id, kind: 5100, customer: "cd".repeat(32), skill: "echo", status: "admitted",
   *   price: "1000", requestToon: "", encrypted: false, admittedAt: at, updatedAt: at, attempts: 0 });
   * await store.remove(id);
   * assert.equal(await readProviderJobRecord(stateDir, id), undefined);
   * store.close();
   * await Deno.remove(stateDir, { recursive: true });
   * ```
   */
  async remove(
    id: string,
    options: { paths?: string[]; fields?: Record<string, string> } = {},
  ): Promise<void> {
    this.#memory.forget(id);
    this.#statements.get("DELETE FROM provider_jobs WHERE id = ?").run(id);
    // An older profile's file of it, left by the import.
    await Deno.remove(`${this.dir}/${id}.toml`).catch(() => {});
    this.#audit?.record({
      action: "prune",
      resource: "provider-job",
      id,
      paths: [`${PROVIDER_JOBS_DIR}/${id}.toml`, ...(options.paths ?? [])],
      fields: options.fields,
    });
  }

  /**
   * Writes the record and, with `income`, the payment's income row, in one durable transaction,
   * and records the change in the audit trail; resolves once it is committed (rejects, nothing
   * written, when it could not be).
   */
  put(record: ProviderJobRecord, options: ProviderJobWrite = {}): Promise<void> {
    try {
      this.#put(record, options);
      return Promise.resolve();
    } catch (err) {
      return Promise.reject(err);
    }
  }

  #put(record: ProviderJobRecord, { fields = {}, income }: ProviderJobWrite): void {
    const copy = { ...record, updatedAt: new Date().toISOString() };
    const text = formatProviderJobRecord(copy);
    if (income !== undefined) validatePaymentEntry(income);
    const version = inTransaction(this.#db!, () => {
      const row = this.#statements.get(UPSERT_PROVIDER_JOB_SQL).get(
        copy.id,
        copy.status,
        text,
        copy.customer,
      );
      if (income !== undefined) this.income.insert(income);
      return Number(row!.version);
    });
    if (income !== undefined) this.income.written(income);
    this.#memory.keep(copy);
    const paid: Record<string, string> = income === undefined ? {} : {
      "Invoice-Id": income.invoiceId,
      Amount: `${income.amount} ${income.asset}`,
      Direction: income.direction,
    };
    this.#toAudit(copy, text, version, copy.status, { ...paid, ...fields });
  }

  /**
   * Takes back a payment's income row its town does not owe: a `reversed` row after it (the
   * income row is never rewritten), with `record` (the job back to awaiting its payment, when
   * given) in the same durable transaction, so a kill leaves both or neither
   * (docs/PROTOCOL.md "A crash between a payment's two records"). False, nothing written, when
   * no income row of that invoice stands (an older turnpike's payment log line: the caller
   * appends the reversal there).
   *
   * @example
   * ```ts
   * import assert from "node:assert/strict";
   * import { readProviderIncome } from "./provider_job_index.ts";
   *
   * const stateDir = await Deno.makeTempDir();
   * const store = await openProviderJobStore({ stateDir });
   * const at = "2026-11-27T10:00:00.000Z";
   * const id = "a".repeat(64);
   * const income = { ts: at, direction: "in", event: "fulfilled", jobId: id, invoiceId: "ab",
   *   amount: "100", asset: "USD", peer: "c".repeat(64) } as const;
   * const record = { id, kind: 5100, customer: "c".repeat(64), skill: "echo",
   *   status: "paid" as const, price: "100", requestToon: "", encrypted: false, admittedAt: at,
   *   updatedAt: at, attempts: 0, invoice: "lnturnpike-example", fulfillment: "ef".repeat(32) };
   * await store.put(record, { income });
   * const reversal = { ...income, ts: "2026-11-27T10:01:00.000Z", event: "reversed" } as const;
   * assert.equal(await store.reverseIncome(reversal, { ...record, status: "invoiced" }), true);
   * assert.equal(store.get(id)?.status, "invoiced");
   * assert.deepEqual(readProviderIncome(stateDir, "2026-01-01").entries.map((e) => e.event), [
   *   "fulfilled",
   *   "reversed",
   * ]);
   * assert.equal(await store.reverseIncome(reversal), false); // none stands now
   * store.close();
   * await Deno.remove(stateDir, { recursive: true });
   * ```
   */
  reverseIncome(reversal: PaymentEntry, record?: ProviderJobRecord): Promise<boolean> {
    try {
      return Promise.resolve(this.#reverse(reversal, record));
    } catch (err) {
      return Promise.reject(err);
    }
  }

  #reverse(reversal: PaymentEntry, record: ProviderJobRecord | undefined): boolean {
    validatePaymentEntry(reversal);
    if (reversal.event !== "reversed") {
      throw new PaymentEntryError("an income row is taken back by a reversed entry");
    }
    const copy = record && { ...record, updatedAt: new Date().toISOString() };
    const text = copy && formatProviderJobRecord(copy);
    const version = inTransaction(this.#db!, () => {
      if (this.income.standing(reversal.invoiceId).standing === 0) return undefined;
      this.income.insert(reversal);
      if (copy === undefined) return 0;
      const row = this.#statements.get(UPSERT_PROVIDER_JOB_SQL).get(
        copy.id,
        copy.status,
        text!,
        copy.customer!,
      );
      return Number(row!.version);
    });
    if (version === undefined) return false;
    this.income.written(reversal);
    if (copy !== undefined) {
      this.#memory.keep(copy);
      this.#toAudit(copy, text!, version, copy.status, {
        "Invoice-Id": reversal.invoiceId,
        Reversed: `${reversal.amount} ${reversal.asset}`,
      });
    }
    return true;
  }

  #toAudit(
    record: ProviderJobRecord,
    text: string,
    version: number,
    action: string,
    fields: Record<string, string> = {},
  ): void {
    const path = `${PROVIDER_JOBS_DIR}/${record.id}.toml`;
    this.#audit?.record({
      action,
      resource: "provider-job",
      id: record.id,
      paths: [path],
      fields: { Kind: String(record.kind), Skill: record.skill, Price: record.price, ...fields },
      // What was just written: the audit commit does not read the file back.
      contents: { [path]: new TextEncoder().encode(text) },
      onCommitted: () => this.#landed.note(record.id, version),
    });
  }

  /**
   * The rows a kill left `unaudited`: those whose text the audit's history holds are cleared,
   * the others handed to it again.
   */
  #auditFlagged(): void {
    const audit = this.#audit;
    if (audit === undefined) return;
    const rows = this.#statements.get(
      "SELECT id, text, version FROM provider_jobs WHERE unaudited = 1",
    ).all();
    for (const row of rows) {
      const text = String(row.text);
      const record = this.#parse(String(row.id), text);
      if (record === undefined) continue;
      const version = Number(row.version);
      const bytes = new TextEncoder().encode(text);
      if (audit.isCommitted(`${PROVIDER_JOBS_DIR}/${record.id}.toml`, bytes)) {
        this.#landed.note(record.id, version);
      } else this.#toAudit(record, text, version, "recover");
    }
    this.#landed.clear();
  }

  #lost(how: string, cause?: unknown): JobIndexLostError {
    return new JobIndexLostError(
      `the provider's job index ${this.indexPath} ${how}; the provider's job records are its ` +
        `rows only (${PROVIDER_JOBS_DIR}/${PROVIDER_RECORDS_IN_INDEX_FILE}): restore it from a ` +
        'backup of the state dir (docs/OPERATIONS.md "State directory")',
      { cause },
    );
  }
}
