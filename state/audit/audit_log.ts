/**
 * The state dir's git audit trail. The state dir is a git repository (`git init` on first use);
 * every change is committed with a structured message:
 *
 * ```text
 * turnpike: <action> <resource> <id>
 * Key: Value
 * ```
 *
 * except payment channels, whose subject reads `turnpike: payment channel <id> opened` (also
 * updated, closed, settled, recovered, withdrawn, learned).
 *
 * Group commit: changes recorded within `windowMs` (default 200 ms) of the first pending one go
 * into one commit, so throughput does not hinge on one `git commit` (~10-15 ms) per change, yet a
 * change is in history within about windowMs + one commit. A group commit's subject is
 * `turnpike: commit group <n>` and its body holds one block per change (header line then its
 * `Key: Value` lines, blocks separated by a blank line); {@linkcode parseAuditMessage} reads both
 * forms back.
 *
 * Crash safety: the files are the truth and are written (atomically) before they are recorded
 * here, so a crash loses at most the commit, not the change. On open, stale lock files a killed
 * `git` left behind are removed, the index is made HEAD's (a killed process's in-process commits
 * left it behind) and any uncommitted change is committed as `turnpike: recover state startup`.
 * Only one node may use a state dir at a time (the lock of `state/state_dir_lock.ts`).
 *
 * Paths held as rows of a database (`state/audit/row_held_paths.ts`: the requester's
 * `jobs/<id>.toml`) are never on disk: every `git add` here leaves them out, a change stages
 * them from the bytes it hands over (removed when it lists one without bytes), and their
 * writer recovers a commit a kill lost itself (the change's `onCommitted`, and
 * {@linkcode AuditLog.isCommitted} on open).
 *
 * git runs via `Deno.Command` with `-c user.name=turnpike -c user.email=turnpike@localhost`
 * (never the global config), hooks and signing off, to open the repository; a group's commit
 * is then written in process (`state/audit/git_commit_writer.ts`: the objects and the ref under git's
 * lock, no process per commit), and with `git add` + `git commit` only when the branch moved
 * under it (another process committed) or that writer cannot be used.
 *
 * @module
 */

import { StateError } from "../state_error.ts";
import { type GitCommitWriter, openGitCommitWriter } from "./git_commit_writer.ts";
import { pathExists } from "../path_exists.ts";
import { removeStaleLocks } from "./stale_git_locks.ts";
import { STATE_DIR_IGNORE } from "./state_dir_ignore.ts";
import { hideRowHeld, isRowHeld, ROW_HELD_EXCLUDES, stageRowHeld } from "./row_held_paths.ts";
import { type HeadFiles, readHeadFiles } from "./audit_head_files.ts";
import { AUDIT_MAX_PACKS, PackRollup } from "./pack_rollup.ts";

export { AUDIT_MAX_PACKS };

/** One change to record. */
export interface AuditChange {
  /** Verb, one word: create, update, pay, delete... */
  action: string;
  /** Resource type, one word: job, payment, channel... */
  resource: string;
  /** Resource id (no spaces). */
  id: string;
  /** Paths relative to the state dir that changed (added, modified or removed). */
  paths: string[];
  /** `Key: Value` lines (keys one token; values one line). */
  fields?: Record<string, string>;
  /**
   * The bytes just written to some of `paths` (regular files), by path: the in-process commit
   * takes them instead of reading the files back. A path a later change of the same group lists
   * without bytes is read from disk.
   */
  contents?: Record<string, Uint8Array>;
  /** Called once the commit holding this change is in history (never when it fails). */
  onCommitted?: () => void;
}

/** A change read back from a commit message. */
export interface AuditEntry {
  /** Verb, one word: create, update, pay, delete... */
  action: string;
  /** Resource type, one word: job, payment, channel... */
  resource: string;
  /** Resource id (no spaces). */
  id: string;
  /** The change's `Key: Value` lines (empty when it had none). */
  fields: Record<string, string>;
}

/** Options for {@linkcode openAuditLog}. */
export interface AuditLogOptions {
  /** The state dir (created if missing). */
  dir: string;
  /** Group commit window in ms. Default 200. */
  windowMs?: number;
  /** git executable. Default "git". */
  git?: string;
  /** `.gitignore` lines beyond `STATE_DIR_IGNORE` (state/audit/state_dir_ignore.ts) (kept there on every open). */
  ignore?: string[];
  /**
   * Write each group's commit in process (`state/audit/git_commit_writer.ts`) rather than with
   * `git add` + `git commit`. Default true; the history is the same either way.
   */
  inProcess?: boolean;
  /**
   * The packs the objects directory may hold before they are rolled up
   * (state/audit/pack_rollup.ts). Default {@linkcode AUDIT_MAX_PACKS}.
   */
  maxPacks?: number;
}

/** git failed; the files are intact, the changes stay pending and are retried. */
export class AuditCommitError extends StateError {
  override name = "AuditCommitError";
}

/** A change that cannot be written into a commit message (bad token, newline in a value). */
export class AuditChangeError extends StateError {
  override name = "AuditChangeError";
}

const NOTHING_TO_COMMIT = /nothing( added)? to commit|no changes added to commit/;
const TOKEN = /^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$/;
const GIT_CONFIG = [
  "-c",
  "user.name=turnpike",
  "-c",
  "user.email=turnpike@localhost",
  "-c",
  "commit.gpgsign=false",
  "-c",
  "core.hooksPath=/dev/null",
  "-c",
  "gc.auto=0",
  // Else every `git commit` spawns a `git maintenance run --auto` that has nothing to do.
  "-c",
  "maintenance.auto=false",
];

/**
 * Opens (and on first use initialises) the state dir's git audit log, recovering from a crash.
 *
 * @example
 * ```ts
 * const audit = await openAuditLog({ dir: await Deno.makeTempDir() }); // a state dir
 * audit.record({ action: "create", resource: "job", id: "ab".repeat(32),
 *   paths: [`jobs/${"ab".repeat(32)}.toml`], fields: { Status: "pending-send" } });
 * await audit.close(); // committed
 * await Deno.remove(audit.dir, { recursive: true });
 * ```
 */
export async function openAuditLog(options: AuditLogOptions): Promise<AuditLog> {
  const log = new AuditLog(options);
  await log.init();
  return log;
}

/** The git audit log of a state dir; see the module doc. */
export class AuditLog {
  /** The state dir, without a trailing slash. */
  readonly dir: string;
  #windowMs: number;
  #git: string;
  #ignore: string[];
  #pending: AuditChange[] = [];
  #timer: ReturnType<typeof setTimeout> | undefined;
  #running: Promise<void> = Promise.resolve();
  #lastError: unknown;
  #commits = 0;
  #rollup: PackRollup;
  #inProcess: boolean;
  #writer: GitCommitWriter | undefined;
  #ignoredRe: RegExp[] = [];
  /** git in the state dir, its stdout (the writer's and the row-held paths' runner). */
  #runner = async (args: string[], stdin?: string | Uint8Array) =>
    (await this.#run(args, { stdin })).stdout;

  /** Takes the options only; {@linkcode openAuditLog} also runs `init()` (repository, ignores). */
  constructor(options: AuditLogOptions) {
    this.dir = options.dir.replace(/\/+$/, "");
    this.#windowMs = options.windowMs ?? 200;
    this.#git = options.git ?? "git";
    this.#ignore = [...new Set([...STATE_DIR_IGNORE, ...(options.ignore ?? [])])];
    this.#inProcess = options.inProcess ?? true;
    this.#rollup = new PackRollup({
      gitDir: `${this.dir}/.git`,
      run: (args) => this.#run(args),
      maxPacks: options.maxPacks,
    });
  }

  /** Number of commits this instance made. */
  get commits(): number {
    return this.#commits;
  }

  /** The group commit window in ms: how far HEAD may lag the writes it records, plus a commit. */
  get windowMs(): number {
    return this.#windowMs;
  }

  /** HEAD's files under `folder` (`state/audit/audit_head_files.ts`); undefined: no commit. */
  headFiles(folder: string): Promise<HeadFiles | undefined> {
    return readHeadFiles({ dir: this.dir, folder, git: this.#git });
  }

  /** Changes recorded and not yet committed. */
  get pendingCount(): number {
    return this.#pending.length;
  }

  /** Creates the repository if needed, clears stale locks, commits leftovers of a crash. */
  async init(): Promise<void> {
    await Deno.mkdir(this.dir, { recursive: true, mode: 0o700 });
    const fresh = !(await pathExists(`${this.dir}/.git`, { followSymlinks: true }));
    if (fresh) await this.#run(["init", "-q", "-b", "main"]);
    const added = await this.#ensureIgnored();
    await removeStaleLocks(`${this.dir}/.git`);
    // HEAD's index first: a process killed after in-process commits (git_commit_writer.ts) left
    // it without the row-held files they added, and committing it would delete them from HEAD.
    if (!fresh) await this.#run(["read-tree", "HEAD"], { allowCodes: [128] }); // 128: no commit yet
    // Files an older .gitignore let in stay tracked until untracked (they stay on disk).
    if (!fresh && added.length > 0) {
      await this.#run([
        "rm",
        "-r",
        "-q",
        "--cached",
        "--ignore-unmatch",
        "--",
        ...added.map((p) => p.replace(/\/$/, "")),
      ]);
    }
    // The row-held paths are not on disk: without the excludes they would be staged deleted.
    await this.#run(["add", "-A", "--", ".", ...ROW_HELD_EXCLUDES]);
    if (await this.#hasStaged()) {
      // allowNothing: a running node of the profile may have committed them since the add.
      await this.#commit("turnpike: recover state startup\n", { allowNothing: true });
    }
    this.#ignoredRe = (await Deno.readTextFile(`${this.dir}/.gitignore`)).split("\n")
      .map((l) => l.trim()).filter((l) => l !== "" && !l.startsWith("#") && !l.startsWith("!"))
      .map(ignoreRegExp);
    await hideRowHeld(this.#runner);
    await this.#openWriter();
  }

  /**
   * Whether HEAD holds exactly `bytes` at `path` (a row-held record's current text): undefined
   * when it cannot tell (no in-process writer), which a caller takes as "not yet".
   */
  isCommitted(path: string, bytes: Uint8Array): boolean | undefined {
    return this.#writer?.tipHas(path, bytes);
  }

  /** The in-process writer on the branch as it is now (none when it cannot be used). */
  async #openWriter(): Promise<void> {
    this.#writer = undefined;
    if (!this.#inProcess) return;
    this.#writer = await openGitCommitWriter({
      dir: this.dir,
      run: this.#runner,
      ignored: (path) => this.#ignoredRe.some((re) => re.test(path)),
      identity: "turnpike <turnpike@localhost>",
      notOnDisk: isRowHeld,
    });
  }

  /**
   * Queues a change; it is committed with the others of its window.
   * @throws {AuditChangeError} when a token or value cannot go into the message.
   */
  record(change: AuditChange): void {
    for (const token of [change.action, change.resource, change.id]) {
      if (!TOKEN.test(token)) {
        throw new AuditChangeError(`bad audit token ${JSON.stringify(token)}`);
      }
    }
    for (const [key, value] of Object.entries(change.fields ?? {})) {
      if (!TOKEN.test(key) || /[\r\n]/.test(value)) {
        throw new AuditChangeError(`bad audit field ${JSON.stringify(key)}`);
      }
    }
    this.#pending.push(change);
    if (this.#timer === undefined) {
      this.#timer = setTimeout(() => {
        this.#timer = undefined;
        this.#schedule().catch((err) => this.#lastError = err);
      }, this.#windowMs);
    }
  }

  /**
   * Commits everything recorded so far; resolves once it is in history (and the index is
   * HEAD's, so `git status` shows only what changed since).
   * @throws {AuditCommitError} when git fails (the changes stay pending).
   */
  async flush(): Promise<void> {
    if (this.#timer !== undefined) {
      clearTimeout(this.#timer);
      this.#timer = undefined;
    }
    await this.#schedule();
    if (this.#lastError !== undefined) {
      const err = this.#lastError;
      this.#lastError = undefined;
      if (this.#pending.length > 0) await this.#schedule(); // one retry of the failed group
      if (this.#pending.length > 0) throw err;
    }
    await this.#writer?.resyncIndex();
  }

  /** Flushes and stops the timer; call on shutdown. */
  async close(): Promise<void> {
    await this.flush();
  }

  /** Runs one commit of all pending changes after the running one (commits never overlap). */
  #schedule(): Promise<void> {
    const next = this.#running.then(() => this.#commitPending()).then(() =>
      this.#rollup.rollUpIfDue()
    );
    this.#running = next.catch(() => {});
    return next.catch((err) => {
      this.#lastError = err;
    });
  }

  async #commitPending(): Promise<void> {
    const group = this.#pending;
    if (group.length === 0) return;
    this.#pending = [];
    try {
      const paths = [...new Set(group.flatMap((c) => c.paths))];
      const message = formatAuditMessage(group);
      if (this.#writer !== undefined) {
        const writer = this.#writer;
        const done = await writer.commit(paths, message, contentsOf(group)).catch(() => false);
        if (done) {
          this.#commits++;
          this.#rollup.committed();
          landed(group);
          return;
        }
        // The branch moved under the writer (another process committed), or it failed: git
        // commits this group (its error is the one reported), and a new writer is opened.
        this.#writer = undefined;
        await writer.resyncIndex();
      }
      // -A with explicit paths stages additions, changes and removals of just those files (an
      // empty list would be the whole tree: the row-held paths left out of it).
      const held = paths.filter(isRowHeld);
      const onDisk = paths.filter((p) => !isRowHeld(p));
      if (onDisk.length > 0) {
        await this.#run(["add", "-A", "--pathspec-from-file=-", "--pathspec-file-nul"], {
          stdin: onDisk.join("\0"),
        });
      } else if (held.length === 0) await this.#run(["add", "-A", "--", ".", ...ROW_HELD_EXCLUDES]);
      await stageRowHeld(this.#runner, held, contentsOf(group));
      // Empty commits allowed: when a file is rewritten again before this group's `git add`,
      // the newer bytes ride with this group and the next group stages nothing; its message
      // (the amounts, the nonce of that change) must still reach the history.
      await this.#commit(message, { allowEmpty: true });
      landed(group);
      if (held.length > 0) await hideRowHeld(this.#runner);
      await this.#openWriter();
    } catch (err) {
      this.#pending = group.concat(this.#pending);
      throw err;
    }
  }

  async #commit(
    message: string,
    opts: { allowNothing?: boolean; allowEmpty?: boolean } = {},
  ): Promise<void> {
    const empty = opts.allowEmpty ? ["--allow-empty"] : [];
    const out = await this.#run(["commit", "-q", "--no-verify", ...empty, "-F", "-"], {
      stdin: message,
      allowCodes: opts.allowNothing ? [1] : [],
    });
    if (out.code === 1) {
      if (NOTHING_TO_COMMIT.test(out.stdout)) return;
      throw new AuditCommitError(`git commit failed (exit 1): ${out.stdout.trim().slice(-200)}`);
    }
    this.#commits++;
    this.#rollup.committed();
  }

  /** Appends the ignore lines `.gitignore` lacks; returns them. */
  async #ensureIgnored(): Promise<string[]> {
    const path = `${this.dir}/.gitignore`;
    let text = "";
    try {
      text = await Deno.readTextFile(path);
    } catch (err) {
      if (!(err instanceof Deno.errors.NotFound)) throw err;
    }
    const have = new Set(text.split("\n").map((l) => l.trim()));
    const missing = this.#ignore.filter((p) => !have.has(p));
    if (missing.length > 0) {
      const sep = text === "" || text.endsWith("\n") ? "" : "\n";
      await Deno.writeTextFile(path, `${text}${sep}${missing.join("\n")}\n`);
    }
    return missing;
  }

  async #hasStaged(): Promise<boolean> {
    const out = await this.#run(["diff", "--cached", "--quiet"], { allowCodes: [1] });
    return out.code === 1;
  }

  async #run(
    args: string[],
    opts: { stdin?: string | Uint8Array; allowCodes?: number[] } = {},
  ): Promise<{ code: number; stdout: string }> {
    const child = new Deno.Command(this.#git, {
      args: [...GIT_CONFIG, "-C", this.dir, ...args],
      stdin: opts.stdin === undefined ? "null" : "piped",
      stdout: "piped",
      stderr: "piped",
      env: { GIT_TERMINAL_PROMPT: "0", LC_ALL: "C" },
    }).spawn();
    if (opts.stdin !== undefined) {
      const writer = child.stdin.getWriter();
      const stdin = opts.stdin;
      await writer.write(typeof stdin === "string" ? new TextEncoder().encode(stdin) : stdin);
      await writer.close();
    }
    const out = await child.output();
    const code = out.code;
    if (code !== 0 && !(opts.allowCodes ?? []).includes(code)) {
      const stderr = new TextDecoder().decode(out.stderr).trim().split("\n").slice(-2).join(" ");
      throw new AuditCommitError(`git ${args[0]} failed (exit ${code}): ${stderr}`);
    }
    return { code, stdout: new TextDecoder().decode(out.stdout) };
  }
}

/** Tells each change of a committed group that it is in history. */
function landed(group: AuditChange[]): void {
  for (const change of group) {
    try {
      change.onCommitted?.();
    } catch {
      // The caller's bookkeeping: the commit stands either way.
    }
  }
}

/** The newest bytes the group's changes hand over for each path (a later change's win). */
function contentsOf(group: AuditChange[]): Map<string, Uint8Array> {
  const contents = new Map<string, Uint8Array>();
  for (const change of group) {
    for (const path of change.paths) {
      const bytes = change.contents?.[path];
      if (bytes === undefined) contents.delete(path);
      else contents.set(path, bytes);
    }
  }
  return contents;
}

/**
 * The commit message for a group of changes (see the module doc).
 *
 * @example
 * ```ts
 * formatAuditMessage([{ action: "pay", resource: "job", id: "j1", paths: [],
 *   fields: { Amount: "10" } }]); // "turnpike: pay job j1\n\nAmount: 10\n"
 * ```
 */
export function formatAuditMessage(changes: AuditChange[]): string {
  const block = (c: AuditChange) =>
    [`turnpike: ${auditSubject(c)}`]
      .concat(Object.entries(c.fields ?? {}).map(([k, v]) => `${k}: ${v}`)).join("\n");
  if (changes.length === 1) {
    const [head, ...lines] = block(changes[0]).split("\n");
    return `${head}\n\n${lines.join("\n")}\n`;
  }
  return `turnpike: commit group ${changes.length}\n\n${changes.map(block).join("\n\n")}\n`;
}

/**
 * Resources whose changes read as a sentence, `<phrase> <id> <past tense>`: payment channel
 * changes are what an operator greps the history for (`turnpike: payment channel 0x.. opened`).
 * Other changes keep the terse `<action> <resource> <id>`.
 */
const SENTENCE_RESOURCES: Record<string, string> = { channel: "payment channel" };
const PAST_TENSE: Record<string, string> = {
  open: "opened",
  update: "updated",
  close: "closed",
  settle: "settled",
  recover: "recovered",
  withdraw: "withdrawn",
  learn: "learned",
  topup: "topped-up",
};

function auditSubject(c: AuditChange): string {
  const phrase = SENTENCE_RESOURCES[c.resource];
  const past = PAST_TENSE[c.action];
  return phrase && past ? `${phrase} ${c.id} ${past}` : `${c.action} ${c.resource} ${c.id}`;
}

function parseSubject(line: string): Omit<AuditEntry, "fields"> | undefined {
  for (const [resource, phrase] of Object.entries(SENTENCE_RESOURCES)) {
    const m = new RegExp(`^turnpike: ${phrase} (\\S+) (\\S+)$`).exec(line);
    const action = m && Object.entries(PAST_TENSE).find(([, past]) => past === m[2])?.[0];
    if (m && action) return { action, resource, id: m[1] };
  }
  const head = /^turnpike: (\S+) (\S+) (\S+)$/.exec(line);
  return head ? { action: head[1], resource: head[2], id: head[3] } : undefined;
}

/**
 * Reads the changes back from a commit message of either form.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * assert.deepEqual(parseAuditMessage("turnpike: pay job j1\n\nAmount: 10\n"), [{ action: "pay", resource: "job", id: "j1", fields: { Amount: "10" } }]);
 * ```
 */
export function parseAuditMessage(message: string): AuditEntry[] {
  const lines = message.split("\n");
  const group = /^turnpike: commit group \d+$/.test(lines[0]);
  const entries: AuditEntry[] = [];
  for (const line of group ? lines.slice(1) : lines) {
    const head = parseSubject(line);
    if (head) {
      entries.push({ ...head, fields: {} });
      continue;
    }
    const field = /^([A-Za-z0-9][A-Za-z0-9._:-]*): (.*)$/.exec(line);
    if (field && entries.length > 0) entries[entries.length - 1].fields[field[1]] = field[2];
  }
  return entries;
}

/** A `.gitignore` line as a test of a relative path (the forms STATE_DIR_IGNORE uses). */
function ignoreRegExp(pattern: string): RegExp {
  const dirOnly = pattern.endsWith("/");
  const p = pattern.replace(/\/$/, "");
  const glob = p.replace(/^\//, "").split("").map((c) =>
    c === "*" ? "[^/]*" : c === "?" ? "[^/]" : c.replace(/[.+^${}()|[\]\\]/g, "\\$&")
  ).join("");
  // No slash inside: matches a name at any depth; a directory pattern also what is under it.
  const anchored = p.includes("/") ? `^${glob}` : `(^|/)${glob}`;
  return new RegExp(`${anchored}${dirOnly ? "/" : "(/|$)"}`);
}
