/**
 * The error a PostgreSQL store's opening ends in, in a module of its own: a caller can tell it
 * apart without importing the store's wrappers, which a SQLite town loads only for a shared store
 * (docs/SCALE.md "An idle town's memory").
 *
 * @module
 */
import { StateError } from "../state_error.ts";

/**
 * The database could not be reached or refused the schema.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 *
 * const err = new PostgresStoreError("the database is not up");
 * assert.equal(err.name, "PostgresStoreError");
 * ```
 */
export class PostgresStoreError extends StateError {
  override name = "PostgresStoreError";
}
