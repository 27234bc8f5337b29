/**
 * One way to run the host's git for agent work: explicit arguments (never a shell string), a
 * time limit, output read up to a bound (the child is killed past it), no prompt, the C locale,
 * and no configuration from the user's global or system files (so that a user's hooks path,
 * aliases or `fetch.fsckObjects` do not change what a bundle check means).
 *
 * @module
 */
import { GitCommandError } from "./agent_work_errors.ts";

/** How long a git command may run by default: a bundle of a large repository takes a while. */
export const DEFAULT_GIT_TIMEOUT_MS = 300_000;
/** How much of stdout a git command may print by default. */
export const DEFAULT_GIT_MAX_OUTPUT = 4 * 1024 * 1024;

/** Options of {@linkcode runGit}. */
export interface RunGitOptions {
  /** The directory git runs in (`-C`); the current one when absent. */
  dir?: string;
  /** Exit codes that are answers, not failures (e.g. 1 of `merge-base --is-ancestor`). */
  allowCodes?: number[];
  /** Milliseconds before the child is killed; {@linkcode DEFAULT_GIT_TIMEOUT_MS} by default. */
  timeoutMs?: number;
  /** Bytes of stdout kept before the child is killed; {@linkcode DEFAULT_GIT_MAX_OUTPUT}. */
  maxOutput?: number;
  /** Bytes written to git's stdin. */
  stdin?: Uint8Array;
}

/** What a git command answered. */
export interface GitResult {
  /** Its exit code (0, or one of `allowCodes`). */
  code: number;
  /** Its stdout as text. */
  stdout: string;
}

const STDERR_KEPT = 4096;

/**
 * Runs `git <args>`; throws {@linkcode GitCommandError} on an exit code not allowed, past the time
 * limit, or past the output bound.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { runGit } from "./git_command.ts";
 *
 * const { stdout } = await runGit(["--version"]);
 * assert.equal(stdout.startsWith("git version"), true);
 * ```
 */
export async function runGit(args: string[], options: RunGitOptions = {}): Promise<GitResult> {
  const timeoutMs = options.timeoutMs ?? DEFAULT_GIT_TIMEOUT_MS;
  const maxOutput = options.maxOutput ?? DEFAULT_GIT_MAX_OUTPUT;
  // The command's name: past git's own options (`-c <name>=<value>`, `--no-replace-objects`).
  const what = `git ${args.find((a, i) => !a.startsWith("-") && args[i - 1] !== "-c") ?? ""}`;
  let child: Deno.ChildProcess;
  try {
    child = new Deno.Command("git", {
      args: options.dir === undefined ? args : ["-C", options.dir, ...args],
      stdin: options.stdin === undefined ? "null" : "piped",
      stdout: "piped",
      stderr: "piped",
      env: {
        GIT_TERMINAL_PROMPT: "0",
        GIT_CONFIG_NOSYSTEM: "1",
        GIT_CONFIG_GLOBAL: "/dev/null",
        LC_ALL: "C",
      },
    }).spawn();
  } catch (err) {
    throw new GitCommandError(`${what}: git could not be started`, { cause: err });
  }
  let killedFor: string | undefined;
  // Aborted with the kill: a child of git's (a pager, upload-pack, an alias's shell) may hold
  // the pipes open after git is gone, and its output is not waited for.
  const stop = new AbortController();
  const kill = (why: string) => {
    if (killedFor !== undefined) return;
    killedFor = why;
    stop.abort();
    try {
      child.kill("SIGKILL");
    } catch { /* already gone */ }
  };
  const timer = setTimeout(() => kill(`ran past ${timeoutMs} ms`), timeoutMs);
  try {
    const writing = options.stdin === undefined
      ? Promise.resolve()
      : writeAll(child, options.stdin);
    const [stdout, stderr] = await Promise.all([
      readBounded(
        child.stdout,
        maxOutput,
        () => kill(`printed more than ${maxOutput} bytes`),
        stop.signal,
      ),
      readBounded(child.stderr, STDERR_KEPT, () => {}, stop.signal),
      writing.catch(() => {}),
    ]);
    const { code } = await child.status;
    if (killedFor !== undefined) throw new GitCommandError(`${what} ${killedFor}`);
    if (code !== 0 && !(options.allowCodes ?? []).includes(code)) {
      const said = new TextDecoder().decode(stderr).trim().split("\n").slice(-3).join(" | ");
      throw new GitCommandError(`${what} failed (exit ${code}): ${said}`);
    }
    return { code, stdout: new TextDecoder().decode(stdout) };
  } finally {
    clearTimeout(timer);
  }
}

async function writeAll(child: Deno.ChildProcess, bytes: Uint8Array): Promise<void> {
  const writer = child.stdin.getWriter();
  try {
    await writer.write(bytes);
  } finally {
    await writer.close().catch(() => {});
  }
}

/**
 * Reads a stream to its end or to `stop`, keeping at most `max` bytes; calls `over` once when it
 * passes them.
 */
async function readBounded(
  stream: ReadableStream<Uint8Array>,
  max: number,
  over: () => void,
  stop: AbortSignal,
): Promise<Uint8Array> {
  const chunks: Uint8Array[] = [];
  let kept = 0;
  let passed = false;
  const reader = stream.getReader();
  const cancel = () => reader.cancel().catch(() => {});
  stop.addEventListener("abort", cancel, { once: true });
  while (true) {
    const read = await reader.read().catch(() => ({ done: true, value: undefined }));
    if (read.done || read.value === undefined) break;
    const chunk = read.value;
    if (kept + chunk.length > max) {
      if (!passed) {
        passed = true;
        over();
      }
      chunks.push(chunk.subarray(0, max - kept));
      kept = max;
      continue;
    }
    chunks.push(chunk);
    kept += chunk.length;
  }
  stop.removeEventListener("abort", cancel);
  const out = new Uint8Array(kept);
  let at = 0;
  for (const c of chunks) {
    out.set(c, at);
    at += c.length;
  }
  return out;
}
