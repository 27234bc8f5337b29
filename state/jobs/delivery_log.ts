/**
 * Events delivered to skills that are not paid jobs (a private message, any kind a skill names):
 * one file per event, `<state dir>/deliveries/<event id>.json`, mode 0600. The file is created
 * exclusively and fsynced before the skill runs, so an event is delivered at most once, across
 * restarts and crashes: a delivery found `running` at start was cut off and is reported, never
 * run again (a private message may ask for something that must not happen twice).
 *
 * @module
 */
import { syncDir, writeFileAtomic } from "../atomic_file.ts";

/** Where a delivery stands. */
export type DeliveryStatus = "running" | "done" | "failed" | "refused" | "interrupted";

/** One delivery's record. */
export interface DeliveryRecord {
  /** The delivered event's id (a gift wrap's own id). */
  eventId: string;
  kind: number;
  /** The skill it went to. */
  skill: string;
  /** Who sent it (a gift wrap: the verified sender inside, not the wrap's throwaway key). */
  sender?: string;
  status: DeliveryStatus;
  /** Why it failed or was refused. */
  reason?: string;
  startedAt: string;
  finishedAt?: string;
}

/** Options for {@linkcode openDeliveryLog}. */
export interface DeliveryLogOptions {
  stateDir: string;
}

/**
 * Opens (creating) the delivery log of a state dir.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 *
 * const stateDir = await Deno.makeTempDir();
 * const eventId = "ab".repeat(32);
 * const log = await openDeliveryLog({ stateDir });
 * assert.equal(await log.claim({ eventId, kind: 1059, skill: "encrypted-dm" }), true); // run it
 * assert.equal(await log.claim({ eventId, kind: 1059, skill: "encrypted-dm" }), false); // again: no
 * await Deno.remove(stateDir, { recursive: true });
 * ```
 */
export async function openDeliveryLog(o: DeliveryLogOptions): Promise<DeliveryLog> {
  const dir = `${o.stateDir.replace(/\/+$/, "")}/deliveries`;
  await Deno.mkdir(dir, { recursive: true, mode: 0o700 });
  return new DeliveryLog(dir);
}

/** The delivery files of one state dir. */
export class DeliveryLog {
  constructor(readonly dir: string) {}

  #path(eventId: string): string {
    if (!/^[0-9a-f]{64}$/.test(eventId)) throw new TypeError(`not an event id: ${eventId}`);
    return `${this.dir}/${eventId}.json`;
  }

  /**
   * Records that `eventId` is being delivered; false when it was delivered (or tried) before.
   * Durable when it returns true.
   */
  async claim(r: Omit<DeliveryRecord, "status" | "startedAt">): Promise<boolean> {
    const record: DeliveryRecord = { ...r, status: "running", startedAt: new Date().toISOString() };
    let file: Deno.FsFile;
    try {
      file = await Deno.open(this.#path(r.eventId), { createNew: true, write: true, mode: 0o600 });
    } catch (err) {
      if (err instanceof Deno.errors.AlreadyExists) return false;
      throw err;
    }
    try {
      await file.write(new TextEncoder().encode(JSON.stringify(record) + "\n"));
      await file.sync();
    } finally {
      file.close();
    }
    await syncDir(this.dir);
    return true;
  }

  /** Records how a claimed delivery ended. */
  async finish(
    eventId: string,
    outcome: { status: Exclude<DeliveryStatus, "running">; reason?: string; sender?: string },
  ): Promise<DeliveryRecord> {
    const current = await this.read(eventId);
    if (current === undefined) throw new Deno.errors.NotFound(`no delivery of ${eventId}`);
    const next: DeliveryRecord = {
      ...current,
      ...outcome,
      finishedAt: new Date().toISOString(),
    };
    await writeFileAtomic(this.#path(eventId), JSON.stringify(next) + "\n", { mode: 0o600 });
    return next;
  }

  /** A delivery's record, if any. */
  async read(eventId: string): Promise<DeliveryRecord | undefined> {
    try {
      return JSON.parse(await Deno.readTextFile(this.#path(eventId))) as DeliveryRecord;
    } catch (err) {
      if (err instanceof Deno.errors.NotFound) return undefined;
      throw err;
    }
  }

  /** Every delivery recorded, in no particular order. */
  async list(): Promise<DeliveryRecord[]> {
    const records: DeliveryRecord[] = [];
    for await (const entry of Deno.readDir(this.dir)) {
      const id = entry.name.match(/^([0-9a-f]{64})\.json$/)?.[1];
      if (!entry.isFile || id === undefined) continue;
      const record = await this.read(id).catch(() => undefined);
      if (record !== undefined) records.push(record);
    }
    return records;
  }

  /**
   * Marks the deliveries a crash cut off (`running`) as `interrupted` and returns them; called
   * once at start, before anything is delivered.
   */
  async recover(): Promise<DeliveryRecord[]> {
    const cut: DeliveryRecord[] = [];
    for (const record of await this.list()) {
      if (record.status !== "running") continue;
      cut.push(
        await this.finish(record.eventId, {
          status: "interrupted",
          reason: "the node stopped during delivery",
        }),
      );
    }
    return cut;
  }
}
