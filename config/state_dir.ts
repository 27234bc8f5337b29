/**
 * Where a node keeps its state: `~/.turnpike/<profile>` by default (profile: `--profile`, else
 * `TURNPIKE_PROFILE`, else `default`). `TURNPIKE_HOME` replaces `~/.turnpike`; an explicit state
 * dir (`--state-dir`, else `TURNPIKE_STATE_DIR`) replaces everything.
 *
 * @module
 */
import { ConfigError } from "./config_error.ts";

/** The profile used when none is named. */
export const DEFAULT_PROFILE = "default";

/** Reads an environment variable; tests pass a plain record instead of the process env. */
export type EnvReader = (name: string) => string | undefined;

/** Options for {@linkcode resolveStateDir}. */
export interface StateDirOptions {
  /** An explicit state dir (`--state-dir`); wins over everything, then `TURNPIKE_STATE_DIR`. */
  stateDir?: string;
  /** Profile name (`--profile`); else `TURNPIKE_PROFILE`, else `default`. */
  profile?: string;
  /** Environment; default `Deno.env.get` (needs `env` permission for HOME, TURNPIKE_HOME). */
  env?: EnvReader;
}

// Profiles become one path segment: keep them to characters that cannot climb out of the root.
const PROFILE_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;

/**
 * Resolves the state directory (not created here).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * const dir = resolveStateDir({ profile: "alice", env: (n) => ({ HOME: "/home/me" })[n] });
 * assert.equal(dir, "/home/me/.turnpike/alice");
 * ```
 */
export function resolveStateDir(options: StateDirOptions = {}): string {
  const env = options.env ?? ((name: string) => Deno.env.get(name));
  const explicit = options.stateDir || env("TURNPIKE_STATE_DIR");
  if (explicit) return explicit;
  const profile = options.profile ?? (env("TURNPIKE_PROFILE") || DEFAULT_PROFILE);
  if (!PROFILE_PATTERN.test(profile)) {
    throw new ConfigError(
      `invalid profile name "${profile}": use letters, digits, '.', '_' or '-' (max 64)`,
      { key: "profile" },
    );
  }
  const root = env("TURNPIKE_HOME") || defaultRoot(env);
  return `${root.replace(/\/+$/, "")}/${profile}`;
}

function defaultRoot(env: EnvReader): string {
  const home = env("HOME") || env("USERPROFILE");
  if (!home) {
    throw new ConfigError("cannot find the home directory: set HOME, TURNPIKE_HOME or --state-dir");
  }
  return `${home.replace(/\/+$/, "")}/.turnpike`;
}
