/**
 * What `town up` says when the town does not start: the cause's message, where it was to listen,
 * and what to look at for that cause (the database, the books' key, or the ports and parent).
 *
 * @module
 */
import { CliError } from "./cli_error.ts";
import { PostgresStoreError } from "../state/postgres/postgres_store_error.ts";

/**
 * The `Error:` of a town that did not start (`where`: its host and ports).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { townStartError } from "./town_start_error.ts";
 *
 * const err = townStartError(new Error("address in use"), "127.0.0.1, ports 7100/3000");
 * assert.equal(err.message, "the town did not start: address in use");
 * assert.match(err.suggestion ?? "", /ports are free/);
 * ```
 */
export function townStartError(err: unknown, where: string): CliError {
  const error = err as Error;
  return new CliError(`the town did not start: ${error.message}`, {
    context: where,
    suggestion: err instanceof PostgresStoreError
      ? "start the database (`turnpike db up` on one machine) or check --store / [store] url"
      // Named, not imported: the books' key is a shared store's only (cli/cli_error_map.ts).
      : ["BooksKeyInUseError", "BooksIdError"].includes(error.name)
      ? "give each process its own state dir's books (docs/OPERATIONS.md \"The books' key\")"
      : "check that the ports are free (0 picks free ones) and the parent is up",
    cause: err,
  });
}
