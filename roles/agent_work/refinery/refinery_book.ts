/**
 * The refinery's book (docs/AGENTS.md "The refinery"): `<state dir>/refinery.json`, written
 * atomically after every change, holds
 *
 * - each result the refinery decided, by job id: `merged` (at which tip), `rejected` (why),
 *   `reslung` (its conflict sent back as which job); a decided result is never tried again;
 * - each sling it sent back, by the sling's idempotency key (`bead:<bead id>`, else
 *   `job:<first job id>`, as the Witness keys its slings: roles/requester/witness_book.ts): the
 *   job that conflicted, the job it was sent again as, and a re-sling under way (`pendingAtMs`,
 *   written before the post, so that a refinery restarted in between adopts the job it posted
 *   instead of posting another). A sling is sent back once: a second conflict is a rejection.
 *
 * @module
 */
import { writeFileAtomic } from "../../../state/atomic_file.ts";
import { readOptionalTextFile } from "../../../state/optional_text_file.ts";
import { RoleError } from "../../role_error.ts";

/** A decided result. */
export interface BookedResult {
  outcome: "merged" | "rejected" | "reslung";
  /** ISO time of the decision. */
  at: string;
  /** The branch's tip then. */
  tip?: string;
  /** Why it was rejected. */
  reason?: string;
  /** The job its conflict was sent back as. */
  reslungTo?: string;
}

/** A conflict sent back as a new task on the new tip. */
export interface BookedSling {
  /** The job that conflicted. */
  from: string;
  /** The job it was sent again as, once posted. */
  to?: string;
  /** Unix ms before the post, while it is under way. */
  pendingAtMs?: number;
}

/** The whole book. */
export interface RefineryBook {
  jobs: Record<string, BookedResult>;
  slings: Record<string, BookedSling>;
}

/** The book's file is unreadable. */
export class RefineryBookError extends RoleError {
  override name = "RefineryBookError";
}

/**
 * The book's path.
 *
 * @example
 * ```ts
 * import { refineryBookPath } from "./refinery_book.ts";
 *
 * if (refineryBookPath("/p") !== "/p/refinery.json") throw new Error();
 * ```
 */
export function refineryBookPath(stateDir: string): string {
  return `${stateDir}/refinery.json`;
}

/**
 * Reads the book (empty when there is none yet).
 *
 * @example
 * ```ts
 * import { readRefineryBook } from "./refinery_book.ts";
 *
 * const dir = await Deno.makeTempDir();
 * const book = await readRefineryBook(dir);
 * if (Object.keys(book.jobs).length !== 0) throw new Error();
 * await Deno.remove(dir);
 * ```
 * @throws {RefineryBookError} when the file is not a book.
 */
export async function readRefineryBook(stateDir: string): Promise<RefineryBook> {
  const path = refineryBookPath(stateDir);
  const text = await readOptionalTextFile(path);
  if (text === undefined) return { jobs: {}, slings: {} };
  try {
    const book = JSON.parse(text) as RefineryBook;
    if (typeof book.jobs !== "object" || typeof book.slings !== "object") throw new Error("shape");
    return book;
  } catch (err) {
    throw new RefineryBookError(`${path}: not a refinery book (${(err as Error).message})`, {
      cause: err,
    });
  }
}

/**
 * Writes the book atomically (a re-sling's `pendingAtMs` must survive a crash).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { readRefineryBook, writeRefineryBook } from "./refinery_book.ts";
 *
 * const dir = await Deno.makeTempDir();
 * await writeRefineryBook(dir, { jobs: {}, slings: {} });
 * assert.deepEqual(await readRefineryBook(dir), { jobs: {}, slings: {} });
 * await Deno.remove(dir, { recursive: true });
 * ```
 */
export async function writeRefineryBook(stateDir: string, book: RefineryBook): Promise<void> {
  await writeFileAtomic(refineryBookPath(stateDir), JSON.stringify(book, null, 1) + "\n");
}
