/**
 * The key of a town process's books in the town's shared store (PostgreSQL): the rows of what
 * its own `peer_ledger.jsonl` says the town owes each peer (`turnpike_payout_owed`) and of the
 * conditions it was paid (`turnpike_paid_conditions`) are filed under it. It is kept in the
 * state dir (`books_id`), so it stays the same across restarts wherever the process runs: a
 * container made again gets a new host name, and books filed under a second key would be
 * counted twice (the town owes a peer the sum over its books: docs/OPERATIONS.md "A town on
 * several machines", "The books' key").
 *
 * A state dir without the file (a first start, or one from before the file) gets the key its
 * books had until then, `<host name>:<state dir's real path>`, written there at once.
 *
 * @module
 */
import { RoleError } from "../role_error.ts";
import { writeFileAtomic } from "../../state/atomic_file.ts";
import { readCappedTextFile } from "../../state/capped_file.ts";

/** The file in the state dir that holds the key. */
export const BOOKS_ID_FILE = "books_id";

/** The longest key taken, in characters (a host name and a path). */
export const MAX_BOOKS_ID_LENGTH = 1_024;

/** The state dir's `books_id` is not a key (empty, too long, or more than one line). */
export class BooksIdError extends RoleError {
  override name = "BooksIdError";
}

/** Options for {@linkcode sharedBooksId}. */
export interface SharedBooksIdOptions {
  /** This machine's host name, for a state dir without a key yet; default `Deno.hostname()`. */
  hostname?: string;
}

/**
 * The key of the books of the process on `stateDir`: the one in its `books_id`, or, when there
 * is none, `<host name>:<real path>` (what every older start used), written there first.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { BOOKS_ID_FILE, sharedBooksId } from "./shared_books_id.ts";
 *
 * const stateDir = await Deno.makeTempDir();
 * const id = await sharedBooksId(stateDir); // e.g. "host-a:/tmp/tmpab12cd"
 * assert.equal(id, `${Deno.hostname()}:${await Deno.realPath(stateDir)}`);
 * // Kept: the same key on another host (a container made again) with the same state dir.
 * await Deno.writeTextFile(`${stateDir}/${BOOKS_ID_FILE}`, "host-before:/data\n");
 * assert.equal(await sharedBooksId(stateDir), "host-before:/data");
 * await Deno.remove(stateDir, { recursive: true });
 * ```
 * @throws {BooksIdError} when the file is there but holds no key.
 */
export async function sharedBooksId(
  stateDir: string,
  options: SharedBooksIdOptions = {},
): Promise<string> {
  const path = `${stateDir.replace(/\/+$/, "")}/${BOOKS_ID_FILE}`;
  const kept = await readKept(path);
  if (kept !== undefined) return kept;
  const id = `${options.hostname ?? Deno.hostname()}:${await Deno.realPath(stateDir)}`;
  await writeFileAtomic(path, `${id}\n`);
  return id;
}

async function readKept(path: string): Promise<string | undefined> {
  let text: string;
  try {
    text = await readCappedTextFile(path, {
      maxBytes: MAX_BOOKS_ID_LENGTH * 4 + 2,
      tooLarge: (p, max) => new BooksIdError(`${p} is over ${max} bytes: not a books key`),
    });
  } catch (err) {
    if (err instanceof Deno.errors.NotFound) return undefined;
    if (err instanceof BooksIdError) throw err;
    throw new BooksIdError(`${path}: ${(err as Error).message}`, { cause: err });
  }
  // A key written by hand: a byte-order mark and the spaces around it are not part of it.
  const id = text.replace(/^\uFEFF/, "").trim();
  // deno-lint-ignore no-control-regex
  if (id.length === 0 || id.length > MAX_BOOKS_ID_LENGTH || /[\u0000-\u001f\u007f]/.test(id)) {
    throw new BooksIdError(
      `${path} does not hold a books key (one line of 1 to ${MAX_BOOKS_ID_LENGTH} characters): ` +
        `write the key this state dir's books have in the town's store, or remove the file to ` +
        `take <host name>:<state dir> again (docs/OPERATIONS.md "The books' key")`,
    );
  }
  return id;
}
