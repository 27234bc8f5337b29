/**
 * PostgreSQL connection errors that reach no caller. When PostgreSQL stops or restarts under a
 * town, the driver (`postgres`) fails the promises of whatever it had sent on the broken sockets;
 * the store's own calls await theirs and answer the outage (a write gets T00, a poll logs and
 * polls again), but a socket reset can also fail a promise no call holds (seen once in a loaded
 * CI run: `read ECONNRESET` as the test's PostgreSQL stopped; that one, a new connection's
 * array-types query, is fixed in the driver: vendor/postgres/PATCHED.md). Deno ends a process on any
 * rejection nobody handles: for these, that would turn an outage the town rides out into a
 * crash of every process. So, once a store opens, such a rejection is said on stderr (once a
 * minute per kind) and dropped; any other stays fatal (docs/OPERATIONS.md "Faults").
 *
 * @module
 */

/** The driver's own codes for a connection gone, and PostgreSQL's for a server shutting down or starting. */
const DRIVER_CODES = new Set([
  "CONNECTION_CLOSED",
  "CONNECTION_ENDED",
  "CONNECTION_DESTROYED",
  "CONNECT_TIMEOUT",
  "57P01", // admin_shutdown
  "57P02", // crash_shutdown
  "57P03", // cannot_connect_now: "the database system is starting up"
]);
/** A socket's errors, as node:net gives them (the driver's sockets are node:net's). */
const SOCKET_CODES = new Set(["ECONNRESET", "ECONNREFUSED", "EPIPE", "ETIMEDOUT"]);
const SAY_EVERY_MS = 60_000;

/**
 * Whether `reason` is a PostgreSQL connection's failure: the driver's connection codes, the
 * server's shutdown and start-up codes, or a node:net socket's reset, refusal or broken pipe.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { isPostgresConnectionError } from "./postgres_stray_errors.ts";
 *
 * const reset = Object.assign(new Error("read ECONNRESET"), { code: "ECONNRESET", syscall: "read" });
 * assert.ok(isPostgresConnectionError(reset));
 * assert.ok(!isPostgresConnectionError(new TypeError("x is undefined")));
 * ```
 */
export function isPostgresConnectionError(reason: unknown): boolean {
  if (!(reason instanceof Error)) return false;
  const { code, syscall } = reason as Error & { code?: unknown; syscall?: unknown };
  if (typeof code !== "string") return false;
  if (DRIVER_CODES.has(code)) return true;
  return SOCKET_CODES.has(code) && typeof syscall === "string";
}

let installed = false;

/**
 * Drops, with a line on stderr, the PostgreSQL connection errors no promise handler took (see
 * the module doc); idempotent. Called when a store's pool opens (state/postgres/postgres_schema.ts).
 *
 * @example
 * ```ts
 * import { dropStrayPostgresConnectionErrors } from "./postgres_stray_errors.ts";
 *
 * dropStrayPostgresConnectionErrors();
 * ```
 */
export function dropStrayPostgresConnectionErrors(): void {
  if (installed) return;
  installed = true;
  const said = new Map<string, number>();
  globalThis.addEventListener("unhandledrejection", (e) => {
    if (!isPostgresConnectionError(e.reason)) return;
    e.preventDefault();
    const error = e.reason as Error & { code: string };
    const now = Date.now();
    if (now - (said.get(error.code) ?? -Infinity) < SAY_EVERY_MS) return;
    said.set(error.code, now);
    console.error(
      `postgres: a connection error no query was waiting for (${error.code}): ` +
        `${error.message.split("\n")[0]}; the store's calls see the outage themselves`,
    );
  });
}
