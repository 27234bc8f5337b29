/**
 * The Witness's book (docs/AGENTS.md "The Witness"): `<state dir>/witness.json`, written
 * atomically after every change, holds
 *
 * - each sling by its idempotency key (`bead:<bead id>` for a job sent with a bead, else
 *   `job:<first job id>`): the jobs it was sent as, to which providers, the one delivered, and a
 *   re-sling under way (`pending`, written before the new job is posted so that a Witness
 *   restarted in between finds the job it posted instead of posting another);
 * - the remote workers as last seen: what `node status`, the dashboard and `witness --output
 *   json` show.
 *
 * @module
 */
import type { AgentSpend } from "../../protocol/agent_spend.ts";
import type { JobStatus } from "../../state/jobs/job_record.ts";
import { writeFileAtomic } from "../../state/atomic_file.ts";
import { readOptionalTextFile } from "../../state/optional_text_file.ts";
import { RoleError } from "../role_error.ts";

/** How a remote worker is, as the Witness saw it last. */
export type WorkerState = "alive" | "stalled" | "reslung" | "delivered" | "ended";

/** One remote worker: a job of an agent task at a provider. */
export interface WitnessWorker {
  /** The job's id. */
  job: string;
  /** The sling's idempotency key. */
  key: string;
  state: WorkerState;
  /** The job's status on record. */
  status: JobStatus;
  provider?: string;
  /** The job it was slung again as (state `reslung`). */
  reslungTo?: string;
  /** The agent's beat period (s): its `heartbeat` tag's, else the Witness's default. */
  periodS: number;
  /** ISO time of its last beat (or of its deposit's payment, before any beat). */
  lastBeatAt?: string;
  /** Seconds since then. */
  silentS?: number;
  /** Its model spend, as its last `processing` feedback said. */
  spend?: AgentSpend;
  /** The last line of its transcript, when asked for and the profile has it. */
  transcript?: string;
}

/** A re-sling under way: the job is being posted to `provider`. */
export interface PendingSling {
  provider: string;
  /** The job slung again. */
  from: string;
  /** Unix ms before the post. */
  atMs: number;
}

/** One bead (or job) however many times slung. */
export interface Sling {
  key: string;
  /** Its jobs, first sling first. */
  jobs: string[];
  /** The providers it was sent to, in order. */
  providers: string[];
  /** The job whose delivery was paid: none other of the sling is ever paid or re-slung. */
  delivered?: string;
  pending?: PendingSling;
}

/** The whole book. */
export interface WitnessBook {
  slings: Record<string, Sling>;
  workers: WitnessWorker[];
  /** ISO time of the last patrol. */
  at?: string;
}

/** The book's file is unreadable. */
export class WitnessBookError extends RoleError {
  override name = "WitnessBookError";
}

/**
 * The book's path.
 *
 * @example
 * ```ts
 * import { witnessBookPath } from "./witness_book.ts";
 *
 * if (witnessBookPath("/p") !== "/p/witness.json") throw new Error();
 * ```
 */
export function witnessBookPath(stateDir: string): string {
  return `${stateDir}/witness.json`;
}

/**
 * Reads the book (empty when there is none yet).
 *
 * @example
 * ```ts
 * import { readWitnessBook } from "./witness_book.ts";
 *
 * const dir = await Deno.makeTempDir();
 * const book = await readWitnessBook(dir);
 * if (book.workers.length !== 0) throw new Error();
 * await Deno.remove(dir, { recursive: true });
 * ```
 * @throws {WitnessBookError} when the file is not a book.
 */
export async function readWitnessBook(stateDir: string): Promise<WitnessBook> {
  const path = witnessBookPath(stateDir);
  const text = await readOptionalTextFile(path);
  if (text === undefined) return { slings: {}, workers: [] };
  try {
    const book = JSON.parse(text) as WitnessBook;
    if (typeof book.slings !== "object" || !Array.isArray(book.workers)) throw new Error("shape");
    return book;
  } catch (err) {
    throw new WitnessBookError(`${path}: not a Witness book (${(err as Error).message})`, {
      cause: err,
    });
  }
}

/**
 * Writes the book atomically (synced: a re-sling's `pending` must survive a crash).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { readWitnessBook, writeWitnessBook } from "./witness_book.ts";
 *
 * const dir = await Deno.makeTempDir();
 * await writeWitnessBook(dir, { slings: {}, workers: [] });
 * assert.deepEqual(await readWitnessBook(dir), { slings: {}, workers: [] });
 * await Deno.remove(dir, { recursive: true });
 * ```
 */
export async function writeWitnessBook(stateDir: string, book: WitnessBook): Promise<void> {
  await writeFileAtomic(witnessBookPath(stateDir), JSON.stringify(book, null, 1) + "\n");
}

/**
 * The worker of a job in the book, if the Witness saw it.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { readWitnessBook, workerOf } from "./witness_book.ts";
 *
 * const dir = await Deno.makeTempDir();
 * const book = await readWitnessBook(dir);
 * assert.equal(workerOf(book, "ab".repeat(32)), undefined);
 * await Deno.remove(dir, { recursive: true });
 * ```
 */
export function workerOf(book: WitnessBook, job: string): WitnessWorker | undefined {
  return book.workers.find((w) => w.job === job);
}
