/**
 * The system user a PostgreSQL server started by root runs as (state/postgres/postgres_server.ts):
 * PostgreSQL refuses to run as root, and `nobody` is shared with other daemons and with a
 * rootless provider's jobs, any of which could then rewrite the cluster's `pg_hba.conf` and
 * become its superuser. So the server gets a user of its own, `turnpike-pg`, made here when
 * missing (`useradd --system`, no home, no login shell, a group of its own) and owning the data
 * directory and nothing else (docs/OPERATIONS.md "Step by step, on one machine").
 *
 * @module
 */
import { StateError } from "../state_error.ts";

/** The name of the system user a PostgreSQL server started by root runs as. */
export const POSTGRES_SYSTEM_USER = "turnpike-pg";

/** `nobody`'s uid on Debian. */
const NOBODY = 65534;

/** A system user: its name, uid and primary gid. */
export interface SystemUser {
  name: string;
  uid: number;
  gid: number;
}

/** Options for {@linkcode postgresSystemUser}. */
export interface PostgresSystemUserOptions {
  /** The user's name. Default {@linkcode POSTGRES_SYSTEM_USER}. */
  name?: string;
}

/** The server's system user is not there and could not be made. */
export class PostgresSystemUserError extends StateError {
  override name = "PostgresSystemUserError";
}

/**
 * The server's system user, made first when there is none (root only: `useradd` needs it).
 *
 * It needs root and creates a system user: no example that runs here: tests/e2e/db_up_test.ts.
 */
export async function postgresSystemUser(
  options: PostgresSystemUserOptions = {},
): Promise<SystemUser> {
  const name = options.name ?? POSTGRES_SYSTEM_USER;
  const kept = await lookUp(name);
  if (kept !== undefined) return ownUser(kept);
  // One maker at a time, across processes: useradd's own locking does not hold here (three
  // servers started at once made the user twice, with two uids).
  const lock = await Deno.open(MAKER_LOCK, { write: true, create: true, mode: 0o600 });
  try {
    await lock.lock(true);
    return ownUser(await lookUp(name) ?? await make(name));
  } finally {
    lock.close();
  }
}

/** Held by the process making the user. */
const MAKER_LOCK = "/run/turnpike-pg-user.lock";

/** Makes the system user `name` (with `useradd`) and returns it. */
async function make(name: string): Promise<SystemUser> {
  let why: string;
  try {
    const made = await new Deno.Command("useradd", {
      args: [
        "--system",
        "--user-group",
        "--no-create-home",
        "--home-dir",
        "/nonexistent",
        "--shell",
        "/usr/sbin/nologin",
        "--comment",
        "turnpike PostgreSQL server",
        name,
      ],
      stdout: "null",
      stderr: "piped",
    }).output();
    why = new TextDecoder().decode(made.stderr).trim() || `useradd exited ${made.code}`;
  } catch (err) {
    why = `cannot run useradd: ${(err as Error).message}`;
  }
  const user = await lookUp(name);
  if (user !== undefined) return user;
  throw new PostgresSystemUserError(`cannot create the system user ${name}: ${why}`);
}

/** `user`, unless it is root or `nobody` under another name: the server's user is its own. */
function ownUser(user: SystemUser): SystemUser {
  if (user.uid === 0 || user.uid === NOBODY) {
    throw new PostgresSystemUserError(
      `the system user ${user.name} is uid ${user.uid} (root or nobody): it must be a user of its own`,
    );
  }
  return user;
}

/** `name`'s uid and gid from the user database (`getent passwd`), or undefined. */
async function lookUp(name: string): Promise<SystemUser | undefined> {
  const out = await new Deno.Command("getent", {
    args: ["passwd", name],
    stdout: "piped",
    stderr: "null",
  }).output().catch(() => undefined);
  if (!out?.success) return undefined;
  const fields = new TextDecoder().decode(out.stdout).trim().split(":");
  const uid = Number(fields[2]);
  const gid = Number(fields[3]);
  if (!Number.isInteger(uid) || !Number.isInteger(gid)) return undefined;
  return { name, uid, gid };
}
