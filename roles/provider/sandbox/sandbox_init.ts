/**
 * The sandbox's compiled setup (roles/provider/sandbox/sandbox_init.c): one program that builds a
 * job's namespaces, mounts and limits and execs the skill, where the shell setup
 * (sandbox_setup_script.ts) starts eight. Built once per source with the host's C compiler into
 * a cache dir; a host without one (the image, say) gets the shell setup, which does the same
 * with util-linux's programs. docs/ARCHITECTURE.md "The sandbox's setup", docs/OPERATIONS.md
 * "Running a provider".
 *
 * @module
 */

/** How a job's sandbox is set up: one compiled program, or util-linux's programs from bash. */
export type SandboxSetup = "compiled" | "shell";

/**
 * The environment variable that picks the setup: `shell` (util-linux's programs, even on a host
 * with a compiler), `compiled` (refused without one), else `auto`.
 *
 * @example
 * ```ts
 * import { SANDBOX_SETUP_ENV } from "./sandbox_init.ts";
 *
 * if (SANDBOX_SETUP_ENV !== "TURNPIKE_SANDBOX_SETUP") throw new Error("renamed");
 * ```
 */
export const SANDBOX_SETUP_ENV = "TURNPIKE_SANDBOX_SETUP";

/**
 * The setup {@linkcode SANDBOX_SETUP_ENV} asks for: `compiled`, `shell`, else (unset, another
 * value, no environment access) `auto`.
 *
 * @example
 * ```ts
 * import { setupFromEnvironment } from "./sandbox_init.ts";
 *
 * if (!["compiled", "shell", "auto"].includes(setupFromEnvironment())) throw new Error("no setup");
 * ```
 */
export function setupFromEnvironment(): SandboxSetup | "auto" {
  try {
    const value = Deno.env.get(SANDBOX_SETUP_ENV);
    return value === "compiled" || value === "shell" ? value : "auto";
  } catch {
    return "auto";
  }
}

/** Options for {@linkcode sandboxInitBinary}. */
export interface SandboxInitOptions {
  /** Where the built program is kept (the sandbox's host dir: the provider's own). */
  dir: string;
  /** The compilers tried, in order. Default `cc`, `gcc`, `clang`. */
  compilers?: readonly string[];
}

/** The program's source, beside this module; none in a `deno compile` binary. */
const SOURCE_FILE = (() => {
  const url = new URL("./sandbox_init.c", import.meta.url);
  return url.protocol === "file:" ? decodeURIComponent(url.pathname) : undefined;
})();

/** Builds of this process, by path: sandboxes made side by side compile once. */
const building = new Map<string, Promise<string | undefined>>();

/**
 * The compiled setup program's path, built into `dir` when it is not there yet (a static binary
 * where the C library allows it: no dynamic linker at each job), or undefined when this host
 * cannot build it (no compiler, no source): the caller uses the shell setup then.
 *
 * @example
 * ```ts
 * import { sandboxInitBinary } from "./sandbox_init.ts";
 *
 * const dir = await Deno.makeTempDir();
 * const init = await sandboxInitBinary({ dir });
 * if (init !== undefined) {
 *   const out = await new Deno.Command(init, { args: ["--version"] }).output();
 *   if (!new TextDecoder().decode(out.stdout).startsWith("turnpike-sandbox-init")) {
 *     throw new Error("not the sandbox's init");
 *   }
 * }
 * await Deno.remove(dir, { recursive: true });
 * ```
 */
export async function sandboxInitBinary(options: SandboxInitOptions): Promise<string | undefined> {
  if (SOURCE_FILE === undefined) return undefined;
  const source = await Deno.readFile(SOURCE_FILE);
  const digest = new Uint8Array(await crypto.subtle.digest("SHA-256", source));
  const id = [...digest.subarray(0, 8)].map((b) => b.toString(16).padStart(2, "0")).join("");
  const path = `${options.dir}/sandbox-init-${id}`;
  let build = building.get(path);
  if (build === undefined) {
    build = built(path, options.compilers ?? ["cc", "gcc", "clang"]);
    building.set(path, build);
    // A failed build is tried again by the next sandbox (a compiler installed meanwhile).
    build.then((p) => p === undefined && building.delete(path), () => building.delete(path));
  }
  return await build;
}

async function built(path: string, compilers: readonly string[]): Promise<string | undefined> {
  if (ours(path) && await runs(path)) return path;
  await Deno.mkdir(path.slice(0, path.lastIndexOf("/")), { recursive: true, mode: 0o700 });
  const temp = `${path}.${crypto.randomUUID()}.tmp`;
  try {
    for (const cc of compilers) {
      // Static first (no ld.so at each job), then as the C library allows.
      for (const link of [["-static"], []]) {
        const args = ["-O2", "-Wall", ...link, "-o", temp, SOURCE_FILE!];
        const ok = await compiles(cc, args);
        if (ok && await runs(temp)) {
          await Deno.chmod(temp, 0o700);
          await Deno.rename(temp, path); // atomic: a sandbox never runs a half-written program
          return path;
        }
      }
    }
    return undefined;
  } finally {
    await Deno.remove(temp).catch(() => {});
  }
}

/** Whether `path` is a file of this user's that no one else may change (not a link). */
function ours(path: string): boolean {
  try {
    const info = Deno.lstatSync(path);
    return info.isFile && info.uid === Deno.uid() && ((info.mode ?? 0o777) & 0o022) === 0;
  } catch {
    return false;
  }
}

/**
 * Whether no one but this user and root can change what `dir` holds: it and every directory above
 * it owned by one of the two and not writable by others (a sticky one, /tmp, may be: what lies in
 * it can be renamed by its owner only).
 */
function trusted(dir: string): boolean {
  const uid = Deno.uid();
  let path = dir;
  for (;;) {
    let info: Deno.FileInfo;
    try {
      info = Deno.lstatSync(path);
    } catch {
      return false;
    }
    const mode = info.mode ?? 0o777;
    const writable = (mode & 0o022) !== 0 && !(path !== dir && (mode & 0o1000) !== 0);
    if (!info.isDirectory || (info.uid !== uid && info.uid !== 0) || writable) return false;
    if (path === "/") return true;
    path = path.slice(0, path.lastIndexOf("/")) || "/";
  }
}

/** Whether `cc` (absent: false) compiled with `args`. */
async function compiles(cc: string, args: string[]): Promise<boolean> {
  try {
    return (await new Deno.Command(cc, { args, stdout: "null", stderr: "null" }).output()).success;
  } catch {
    return false;
  }
}

/** Whether `path` is the sandbox's init (it answers `--version`). */
async function runs(path: string): Promise<boolean> {
  try {
    const out = await new Deno.Command(path, { args: ["--version"], stderr: "null" }).output();
    return out.success && new TextDecoder().decode(out.stdout).startsWith("turnpike-sandbox-init");
  } catch {
    return false;
  }
}

/**
 * Where the compiled setup is kept: the user's cache (`$XDG_CACHE_HOME/turnpike`, else
 * `~/.cache/turnpike`: built once for every state dir of this user) when it and every directory
 * above it are this user's or root's and closed to others, else `fallback` (the sandbox's host
 * dir).
 *
 * @example
 * ```ts
 * import { sandboxInitDir } from "./sandbox_init.ts";
 *
 * const dir = sandboxInitDir("/var/lib/turnpike/jobs/.sandbox");
 * if (!dir.startsWith("/")) throw new Error("not a path");
 * ```
 */
export function sandboxInitDir(fallback: string): string {
  let base: string | undefined;
  try {
    const home = Deno.env.get("HOME");
    base = Deno.env.get("XDG_CACHE_HOME") || (home ? `${home}/.cache` : undefined);
  } catch {
    return fallback; // no environment access
  }
  if (base === undefined || !base.startsWith("/")) return fallback;
  try {
    Deno.mkdirSync(`${base}/turnpike`, { recursive: true, mode: 0o700 });
    const dir = Deno.realPathSync(`${base}/turnpike`);
    // Root runs the program before dropping to nobody: no one else may put one there, nor swap
    // a directory on the way to it.
    if (trusted(dir)) return dir;
  } catch {
    // not writable: the host dir
  }
  return fallback;
}
