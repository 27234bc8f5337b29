/**
 * What the provider's job store keeps in memory (state/jobs/provider_job_store.ts): the records of
 * the jobs not ended and a few hundred of the ended ones read or written last. Any other ended
 * record is read from its row when asked for: a provider's memory grows with its unfinished work,
 * not with every job it ever took (docs/SCALE.md "A provider's memory and start").
 *
 * @module
 */
import { isTerminalProviderJob, type ProviderJobRecord } from "./provider_job_record.ts";

/** Options for {@linkcode ProviderJobMemory}. */
export interface ProviderJobMemoryOptions {
  /** Ended records kept after they were read or written. Default 512. */
  recent?: number;
}

/**
 * The store's memory; see the module doc.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { ProviderJobMemory } from "./provider_job_memory.ts";
 *
 * const memory = new ProviderJobMemory({ recent: 1 });
 * const at = "2026-11-28T10:00:00.000Z";
 * const job = (id: string, status: "running" | "published") => ({ id, kind: 5100,
 *   customer: "c".repeat(64), skill: "echo", status, price: "0", requestToon: "",
 *   encrypted: false, admittedAt: at, updatedAt: at, attempts: 1 });
 * memory.keep(job("a", "running"));
 * memory.keep(job("b", "published"));
 * memory.keep(job("c", "published")); // b leaves memory (its row stays)
 * assert.deepEqual([memory.get("a")?.id, memory.get("b"), memory.get("c")?.id], ["a", undefined, "c"]);
 * assert.deepEqual([...memory.unfinished()].map((r) => r.id), ["a"]);
 * ```
 */
export class ProviderJobMemory {
  #recentMax: number;
  #unfinished = new Map<string, ProviderJobRecord>();
  /** Ended records, least recently used first. */
  #recent = new Map<string, ProviderJobRecord>();

  constructor(options: ProviderJobMemoryOptions = {}) {
    this.#recentMax = options.recent ?? 512;
  }

  /** Keeps a record just written or read (the one in memory, not a copy). */
  keep(record: ProviderJobRecord): void {
    if (isTerminalProviderJob(record)) {
      this.#unfinished.delete(record.id);
      this.#recent.delete(record.id);
      this.#recent.set(record.id, record);
      if (this.#recent.size > this.#recentMax) {
        this.#recent.delete(this.#recent.keys().next().value!);
      }
    } else {
      this.#recent.delete(record.id);
      this.#unfinished.set(record.id, record);
    }
  }

  /** Forgets a job (its record deleted). */
  forget(id: string): void {
    this.#unfinished.delete(id);
    this.#recent.delete(id);
  }

  /** The record held in memory (not a copy), if it is. */
  get(id: string): ProviderJobRecord | undefined {
    const unfinished = this.#unfinished.get(id);
    if (unfinished !== undefined) return unfinished;
    const recent = this.#recent.get(id);
    if (recent !== undefined) {
      this.#recent.delete(id);
      this.#recent.set(id, recent);
    }
    return recent;
  }

  /** The records not ended (the ones in memory, not copies). */
  unfinished(): IterableIterator<ProviderJobRecord> {
    return this.#unfinished.values();
  }
}
