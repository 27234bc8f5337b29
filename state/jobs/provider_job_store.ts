/**
 * The provider's job records on disk: `<state dir>/provider-jobs/<id>.toml`, one per admitted
 * job, each write atomic (temp file, fsync, rename, mode 0600) and then recorded in the git audit
 * trail (`turnpike: <status> provider-job <id>`, group-committed). All records are loaded at
 * open: a provider holds at most a few thousand unfinished or recent jobs.
 *
 * Kept apart from the requester's `jobs/` so one state dir can serve both roles.
 *
 * @module
 */
import { removeStaleTempFilesIn, writeFileAtomic } from "../atomic_file.ts";
import type { AuditLog } from "../audit/audit_log.ts";
import {
  formatProviderJobRecord,
  parseProviderJobRecord,
  type ProviderJobRecord,
} from "./provider_job_record.ts";

/** Directory of the records, relative to the state dir. */
export const PROVIDER_JOBS_DIR = "provider-jobs";

/** Options for {@linkcode openProviderJobStore}. */
export interface ProviderJobStoreOptions {
  stateDir: string;
  /** Git audit trail the writes are recorded in. */
  audit?: AuditLog;
}

/** A record file that could not be read (kept on disk, listed for the operator). */
export interface CorruptProviderJobFile {
  path: string;
  reason: string;
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
 * assert.deepEqual(store.all(), []); // each admitted job's record, resumed from its file
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

/**
 * One job's record as it is on disk now, read without opening the store: for a process beside
 * the running provider (a test, a status reader), as opening the store removes the temp files of
 * writes in flight. Undefined when there is no such record.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 *
 * const stateDir = await Deno.makeTempDir();
 * assert.equal(await readProviderJobRecord(stateDir, "ab".repeat(32)), undefined); // no such job
 * await Deno.remove(stateDir, { recursive: true });
 * ```
 */
export async function readProviderJobRecord(
  stateDir: string,
  id: string,
): Promise<ProviderJobRecord | undefined> {
  const text = await Deno.readTextFile(`${stateDir}/${PROVIDER_JOBS_DIR}/${id}.toml`).catch(
    (err) => {
      if (err instanceof Deno.errors.NotFound) return undefined;
      throw err;
    },
  );
  return text === undefined ? undefined : parseProviderJobRecord(text);
}

/** The provider's job records; see the module doc. */
export class ProviderJobStore {
  readonly dir: string;
  /** Record files that did not parse. */
  readonly corrupt: CorruptProviderJobFile[] = [];
  #audit: AuditLog | undefined;
  #records = new Map<string, ProviderJobRecord>();
  // Writes to one record are serialised so the file always holds the newest state.
  #chains = new Map<string, Promise<void>>();

  constructor(options: ProviderJobStoreOptions) {
    this.dir = `${options.stateDir}/${PROVIDER_JOBS_DIR}`;
    this.#audit = options.audit;
  }

  /** Reads every record file (called by {@linkcode openProviderJobStore}). */
  async load(): Promise<void> {
    await Deno.mkdir(this.dir, { recursive: true, mode: 0o700 });
    await removeStaleTempFilesIn(this.dir);
    for await (const entry of Deno.readDir(this.dir)) {
      if (!entry.isFile || !entry.name.endsWith(".toml")) continue;
      const path = `${this.dir}/${entry.name}`;
      try {
        const record = parseProviderJobRecord(await Deno.readTextFile(path));
        this.#records.set(record.id, record);
      } catch (err) {
        this.corrupt.push({ path, reason: (err as Error).message });
      }
    }
  }

  /** The record of a job, if admitted. */
  get(id: string): ProviderJobRecord | undefined {
    const r = this.#records.get(id);
    return r === undefined ? undefined : { ...r };
  }

  /** Whether the job was ever admitted. */
  has(id: string): boolean {
    return this.#records.has(id);
  }

  /** Every record (copies). */
  all(): ProviderJobRecord[] {
    return [...this.#records.values()].map((r) => ({ ...r }));
  }

  /**
   * Deletes a job's record (file and memory), recording the deletion (with `paths`, other files
   * of the job the caller removed) in the audit trail: git history keeps the record.
   *
   * @example
   * ```ts
   * import assert from "node:assert/strict";
   *
   * const stateDir = await Deno.makeTempDir();
   * const store = await openProviderJobStore({ stateDir });
   * const id = "ab".repeat(32);
   * const at = "2026-11-25T12:00:00.000Z";
   * await store.put({ id, kind: 5100, customer: "cd".repeat(32), skill: "echo", status: "admitted",
   *   price: "1000", requestToon: "", encrypted: false, admittedAt: at, updatedAt: at, attempts: 0 });
   * await store.remove(id);
   * assert.equal(await readProviderJobRecord(stateDir, id), undefined);
   * await Deno.remove(stateDir, { recursive: true });
   * ```
   */
  async remove(
    id: string,
    options: { paths?: string[]; fields?: Record<string, string> } = {},
  ): Promise<void> {
    await this.#chains.get(id)?.catch(() => {});
    this.#records.delete(id);
    try {
      await Deno.remove(`${this.dir}/${id}.toml`);
    } catch (err) {
      if (!(err instanceof Deno.errors.NotFound)) throw err;
    }
    this.#audit?.record({
      action: "prune",
      resource: "provider-job",
      id,
      paths: [`${PROVIDER_JOBS_DIR}/${id}.toml`, ...(options.paths ?? [])],
      fields: options.fields,
    });
  }

  /**
   * Writes the record (atomically, durably) and records the change in the audit trail; resolves
   * once the file is on disk.
   */
  put(record: ProviderJobRecord, fields: Record<string, string> = {}): Promise<void> {
    const copy = { ...record, updatedAt: new Date().toISOString() };
    const bytes = new TextEncoder().encode(formatProviderJobRecord(copy));
    this.#records.set(copy.id, copy);
    const prev = this.#chains.get(copy.id) ?? Promise.resolve();
    const next = prev.catch(() => {}).then(async () => {
      await writeFileAtomic(`${this.dir}/${copy.id}.toml`, bytes);
      const path = `${PROVIDER_JOBS_DIR}/${copy.id}.toml`;
      this.#audit?.record({
        action: copy.status,
        resource: "provider-job",
        id: copy.id,
        paths: [path],
        fields: { Kind: String(copy.kind), Skill: copy.skill, Price: copy.price, ...fields },
        // What was just written: the audit commit does not read the file back.
        contents: { [path]: bytes },
      });
    });
    this.#chains.set(copy.id, next);
    void next.finally(() => {
      if (this.#chains.get(copy.id) === next) this.#chains.delete(copy.id);
    }).catch(() => {});
    return next;
  }
}
