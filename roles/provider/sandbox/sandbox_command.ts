/**
 * Whether a shell command can start in the skill sandbox: the program its first word names must
 * be a file the sandbox shows (roles/provider/sandbox/sandbox_mounts.ts: the host's system
 * dirs, the skill's folder and its project, the running Deno) and may run, found on the PATH a
 * job has (the agent-task driver puts the skill's `agents/node_modules/.bin` first, then the
 * sandbox's own: skills/agent-task/run). A script's `#!` interpreter is checked the same way.
 * `node up` refuses a preset whose command fails this (config/agent_presets.ts), rather than
 * each of its jobs ending with `sh: claude: not found` (docs/OPERATIONS.md "Agent presets").
 *
 * Only what can be known before the job is checked: a first word the shell computes (`$X`,
 * `$(...)`), a shell builtin or keyword, or a path relative to the job's worktree passes.
 *
 * @module
 */
import { SKILL_PATH } from "../../../protocol/skill_contract.ts";
import { isUnder, SANDBOX_DENO_BIN_DIR, SYSTEM_DIRS } from "./sandbox_mounts.ts";
import { loadSkillCatalog } from "../skills/skill_catalog.ts";

/** What a job's sandbox shows, for {@linkcode sandboxCommandProblem}. */
export interface SandboxView {
  /** The skill's folder (the agent-task skill's): bound read-only at its own path. */
  skillDir: string;
  /** Host paths the sandbox covers even where a bound dir would show them (the state dir). */
  hidden?: readonly string[];
  /** The job runs as nobody (root mode): the program needs "others" read and execute bits. */
  asNobody?: boolean;
}

/** Builtins and keywords of sh: nothing on disk to look for. */
const SHELL_WORDS = new Set([
  "!",
  "{",
  "(",
  ".",
  ":",
  "[",
  "case",
  "cd",
  "command",
  "eval",
  "exec",
  "exit",
  "export",
  "false",
  "for",
  "if",
  "printf",
  "echo",
  "read",
  "set",
  "test",
  "true",
  "until",
  "while",
]);

/**
 * Why `command` (run with `sh -c` in the job's worktree) cannot start in the sandbox `view`
 * describes, or undefined when its program is there.
 *
 * @example
 * ```ts
 * import { sandboxCommandProblem } from "./sandbox_command.ts";
 *
 * const view = { skillDir: "/srv/turnpike/skills/agent-task" };
 * if (sandboxCommandProblem("ANTHROPIC_API_KEY=x sh -c true", view) !== undefined) {
 *   throw new Error("sh is in /bin");
 * }
 * const why = sandboxCommandProblem("no-such-agent -p task", view);
 * if (!why?.includes("not found")) throw new Error(why);
 * ```
 */
export function sandboxCommandProblem(command: string, view: SandboxView): string | undefined {
  const word = firstWord(command);
  // The sandbox's Deno is the running one (sandbox_mounts.ts), first on its PATH.
  if (word === undefined || SHELL_WORDS.has(word) || word === "deno") return undefined;
  // A path relative to the job's worktree is known only in the job.
  if (word.includes("/") && !word.startsWith("/")) return undefined;
  const skillDir = realPath(view.skillDir) ?? view.skillDir;
  const shown = [...SYSTEM_DIRS, skillDir, ...(projectOf(skillDir) ?? [])];
  const hidden = (view.hidden ?? []).map((p) => realPath(p) ?? p);
  const sandbox: Sandbox = {
    skillDir,
    visible: (path) =>
      shown.some((dir) => isUnder(path, dir)) && !hidden.some((dir) => isUnder(path, dir)),
    path: [`${skillDir}/agents/node_modules/.bin`, ...SKILL_PATH.split(":")],
    asNobody: view.asNobody === true,
  };
  const found = word.includes("/") ? word : lookUp(sandbox, word);
  if (found === undefined) {
    return `${JSON.stringify(word)} is not found in the sandbox (on its PATH ` +
      `${[SANDBOX_DENO_BIN_DIR, ...sandbox.path].join(":")}): install it where the sandbox ` +
      'sees it (docs/OPERATIONS.md "Agent presets")';
  }
  const why = runnable(sandbox, found, true);
  return why === undefined
    ? undefined
    : `${JSON.stringify(word)} cannot run in the sandbox: ${why}`;
}

/** Options for {@linkcode agentCommandChecker}. */
export interface AgentCommandCheckerOptions {
  /** The provider's skills dir: its `runner: agent` skills run the presets. */
  skillsDir: string;
  /** What the sandbox hides (the state dir, a passphrase file). */
  hidden: readonly string[];
  /** The provider's `--sandbox` (auto: root when run as root). */
  sandboxMode: "root" | "rootless" | "auto";
}

/**
 * The check `node up` gives config/agent_presets.ts: why a command cannot start in the sandbox
 * of any agent skill of the skills dir, or undefined (always, without such a skill: no preset
 * runs then).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { agentCommandChecker } from "./sandbox_command.ts";
 *
 * const skillsDir = new URL("../../../skills", import.meta.url).pathname; // agent-task is there
 * const check = await agentCommandChecker({ skillsDir, hidden: ["/var/lib/turnpike"], sandboxMode: "auto" });
 * assert.equal(check("sh -c true"), undefined); // sh is in /bin
 * assert.match(check("no-such-agent -p task")!, /not found/);
 * ```
 */
export async function agentCommandChecker(
  options: AgentCommandCheckerOptions,
): Promise<(command: string) => string | undefined> {
  const catalog = await loadSkillCatalog({ dir: options.skillsDir, watch: false })
    .catch(() => undefined);
  const dirs = catalog?.skills().filter((s) => s.manifest.runner === "agent").map((s) => s.dir) ??
    [];
  catalog?.close();
  const asNobody = options.sandboxMode === "root" ||
    (options.sandboxMode === "auto" && Deno.uid() === 0);
  return (command) => {
    for (const skillDir of dirs) {
      const why = sandboxCommandProblem(command, { skillDir, hidden: options.hidden, asNobody });
      if (why !== undefined) return why;
    }
    return undefined;
  };
}

/** What the job's sandbox shows and lets its user run. */
interface Sandbox {
  skillDir: string;
  visible: (path: string) => boolean;
  /** The PATH after the sandbox's Deno. */
  path: string[];
  asNobody: boolean;
}

/** The first `dir/name` on the sandbox's PATH that exists. */
function lookUp(sandbox: Sandbox, name: string): string | undefined {
  return sandbox.path.map((dir) => `${dir}/${name}`).find((p) => realPath(p) !== undefined);
}

/** Why the sandbox's user cannot run `path` (and its `#!` interpreter), or undefined. */
function runnable(sandbox: Sandbox, path: string, script: boolean): string | undefined {
  const real = realPath(path);
  if (real === undefined) return `${path} does not exist`;
  if (!sandbox.visible(real)) {
    return `${real} is outside what the sandbox shows (the system dirs, ${sandbox.skillDir})`;
  }
  const info = Deno.statSync(real);
  // As nobody (root mode) the "others" bits; rootless, the job is the provider's own user.
  const bits = sandbox.asNobody
    ? 0o005
    : info.uid === Deno.uid()
    ? 0o500
    : info.gid === Deno.gid()
    ? 0o050
    : 0o005;
  if (!info.isFile || ((info.mode ?? 0) & bits) !== bits) {
    return `${real} is not a file the sandbox's user may run`;
  }
  if (!script) return undefined;
  const [interpreter, arg] = shebangOf(real);
  if (interpreter === undefined) return undefined;
  const why = runnable(sandbox, interpreter, false);
  if (why !== undefined) return `its interpreter: ${why}`;
  // `#!/usr/bin/env node`: node on the PATH.
  if (!interpreter.endsWith("/env") || arg === undefined || arg === "deno") return undefined;
  if (arg.startsWith("-")) return undefined;
  const found = lookUp(sandbox, arg);
  if (found === undefined) return `its interpreter ${arg} is not found in the sandbox`;
  const whyArg = runnable(sandbox, found, false);
  return whyArg === undefined ? undefined : `its interpreter ${arg}: ${whyArg}`;
}

/** A script's `#!` line as words (none for a binary). */
function shebangOf(file: string): string[] {
  try {
    using f = Deno.openSync(file);
    const buf = new Uint8Array(256);
    const head = new TextDecoder().decode(buf.subarray(0, f.readSync(buf) ?? 0));
    if (!head.startsWith("#!")) return [];
    return head.slice(2).split("\n")[0].trim().split(/\s+/).filter((w) => w !== "");
  } catch {
    return [];
  }
}

/**
 * The program word of a simple command: leading `NAME=value` assignments skipped, quotes
 * removed; undefined when the shell computes it (`$`, backquotes) or the command is empty.
 */
function firstWord(command: string): string | undefined {
  let rest = command.trimStart();
  while (rest !== "") {
    const { word, raw, after } = shellWord(rest);
    if (raw === "") return undefined;
    if (/^[A-Za-z_][A-Za-z0-9_]*=/.test(raw)) {
      rest = after.trimStart();
      continue;
    }
    return word;
  }
  return undefined;
}

/** One word at the start of `text`: its value (undefined if computed), its raw text, the rest. */
function shellWord(text: string): { word?: string; raw: string; after: string } {
  let word = "";
  let computed = false;
  let i = 0;
  for (; i < text.length; i++) {
    const c = text[i];
    if (/\s|[;&|<>]/.test(c)) break;
    if (c === "'") {
      const end = text.indexOf("'", i + 1);
      if (end < 0) return { raw: text, after: "" };
      word += text.slice(i + 1, end);
      i = end;
    } else if (c === '"') {
      let j = i + 1;
      while (j < text.length && text[j] !== '"') j += text[j] === "\\" ? 2 : 1;
      const inner = text.slice(i + 1, j);
      if (/[$`]/.test(inner)) computed = true;
      word += inner.replace(/\\(.)/g, "$1");
      i = j;
    } else if (c === "\\") {
      word += text[++i] ?? "";
    } else {
      if (c === "$" || c === "`") computed = true;
      word += c;
    }
  }
  return { word: computed ? undefined : word, raw: text.slice(0, i), after: text.slice(i) };
}

/** The nearest ancestor holding a deno.json: the sandbox binds it with the skill. */
function projectOf(skillDir: string): string[] | undefined {
  for (let dir = skillDir; dir !== "/" && dir !== ""; dir = dir.replace(/\/[^/]*$/, "") || "/") {
    if (realPath(`${dir}/deno.json`) !== undefined) return [dir];
  }
  return undefined;
}

function realPath(path: string): string | undefined {
  try {
    return Deno.realPathSync(path);
  } catch {
    return undefined;
  }
}
