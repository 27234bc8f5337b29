/**
 * The paths of a repository an agent may not change (docs/PROTOCOL.md "agent-task (kind 5603)",
 * "Protected paths"): the requester's tests, named by globs (`--protect`, `[agents] protect`).
 * The provider puts the base's copy of every protected path back before the gate runs, so the
 * gate runs the requester's tests on the agent's code, and a result whose commits change one
 * names it (`protectedChanged`): its delivery is not paid unless the requester allowed it.
 *
 * A glob is matched against a path relative to the repository's root, as bash matches with
 * `globstar` and `dotglob` (the sandbox's driver, skills/agent-task/run, deletes with that):
 * `*` and `?` within one segment, `[...]` one character of a set, `**` as a whole segment any
 * number of segments. A glob with no `/` matches a file's name at any depth (`test_*.py`), one
 * with a `/` the whole path (`tests/**`, a leading `/` anchors nothing more). A glob that matches
 * a directory covers everything under it (`tests`).
 *
 * @module
 */
import { ProtectGlobError } from "./agent_work_errors.ts";
import { runGit } from "./git_command.ts";

/** Globs a job may name. */
export const MAX_PROTECT_GLOBS = 64;
/** Characters of a glob. */
export const MAX_PROTECT_GLOB = 256;

/**
 * The globs checked and normalized (a leading `/` dropped, duplicates removed); throws
 * {@linkcode ProtectGlobError} for one this code does not take.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { checkProtectGlobs } from "./protected_paths.ts";
 *
 * assert.deepEqual(checkProtectGlobs(["/tests/**", "test_*.py", "test_*.py"]), ["tests/**", "test_*.py"]);
 * ```
 */
export function checkProtectGlobs(globs: readonly string[]): string[] {
  if (globs.length > MAX_PROTECT_GLOBS) {
    throw new ProtectGlobError(`at most ${MAX_PROTECT_GLOBS} protected globs; ${globs.length}`);
  }
  const checked: string[] = [];
  for (const raw of globs) {
    const glob = raw.replace(/^\/+/, "").replace(/\/+$/, "");
    if (glob === "" || glob.length > MAX_PROTECT_GLOB || /[\0\n\r]/.test(glob)) {
      throw new ProtectGlobError(
        `a protected glob is 1-${MAX_PROTECT_GLOB} characters, one line: ${JSON.stringify(raw)}`,
      );
    }
    const segments = glob.split("/");
    if (segments.some((s) => s === ".." || s === "." || s === "")) {
      throw new ProtectGlobError(`a protected glob has no empty, . or .. segment: ${raw}`);
    }
    if (segments[0] === ".git" || segments[0] === "**" && segments[1] === ".git") {
      throw new ProtectGlobError(`.git is not a path of the work: ${raw}`);
    }
    if (!checked.includes(glob)) checked.push(glob);
  }
  return checked;
}

/**
 * A test of whether a path (relative to the root, `/`-separated) is protected by `globs`: it, or
 * a directory it is under, matches one of them.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { protectedMatcher } from "./protected_paths.ts";
 *
 * const isProtected = protectedMatcher(["test_*.py", "tests/**"]);
 * assert.equal(isProtected("src/test_calc.py"), true);
 * assert.equal(isProtected("tests/unit/a.py"), true);
 * assert.equal(isProtected("calc.py"), false);
 * ```
 */
export function protectedMatcher(globs: readonly string[]): (path: string) => boolean {
  const patterns = checkProtectGlobs(globs).map((g) => globRegExp(g.includes("/") ? g : `**/${g}`));
  return (path) => {
    const segments = path.split("/");
    for (let i = 1; i <= segments.length; i++) {
      const prefix = segments.slice(0, i).join("/");
      if (patterns.some((p) => p.test(prefix))) return true;
    }
    return false;
  };
}

/** Options of {@linkcode protectedPathInputs}. */
export interface ProtectedPathInputsOptions {
  /** The pristine repository (the provider's own checkout, which the agent never touches). */
  pristine: string;
  /** The base commit. */
  base: string;
  /** The request's globs, checked. */
  globs: readonly string[];
  /** Where the two files are written (the job's host dir). */
  dir: string;
}

/**
 * The sandbox driver's inputs to put the protected paths back before the gate
 * (skills/agent-task/run): `protect`, the globs one a line (it deletes what matches in the
 * agent's tree), and `protected.tar`, the base's files that match (it unpacks them over), taken
 * from the pristine repository; git never runs in a directory the agent wrote.
 *
 * It runs git: no example that runs here: tests/e2e/agent_task_protect_test.ts.
 */
export async function protectedPathInputs(
  o: ProtectedPathInputsOptions,
): Promise<{ path: string; name: string }[]> {
  const isProtected = protectedMatcher(o.globs);
  const listed = (await runGit(["ls-tree", "-r", "-z", "--name-only", o.base], { dir: o.pristine }))
    .stdout.split("\0").filter((p) => p !== "" && isProtected(p));
  await Deno.writeTextFile(`${o.dir}/protected.list`, listed.map((p) => p + "\0").join(""), {
    mode: 0o600,
  });
  const tar = await new Deno.Command("tar", {
    args: [
      ...["-C", o.pristine, "--null", "--no-recursion", "-T", `${o.dir}/protected.list`],
      ...["-cf", `${o.dir}/protected.tar`],
    ],
    stdout: "null",
    stderr: "piped",
  }).output();
  if (!tar.success) throw new Error(`tar: ${new TextDecoder().decode(tar.stderr).trim()}`);
  await Deno.writeTextFile(`${o.dir}/protect`, o.globs.join("\n") + "\n", { mode: 0o600 });
  return [
    { path: `${o.dir}/protect`, name: "protect" },
    { path: `${o.dir}/protected.tar`, name: "protected.tar" },
  ];
}

/** The glob as an anchored RegExp over a whole path. */
function globRegExp(glob: string): RegExp {
  const parts = glob.split("/").map((segment, i, all) => {
    if (segment === "**") return i === all.length - 1 ? ".*" : "(?:[^/]*/)*";
    return segmentSource(segment) + (i === all.length - 1 ? "" : "/");
  });
  return new RegExp(`^${parts.join("")}$`, "s");
}

function segmentSource(segment: string): string {
  let out = "";
  for (let i = 0; i < segment.length; i++) {
    const c = segment[i];
    if (c === "*") out += "[^/]*";
    else if (c === "?") out += "[^/]";
    else if (c === "[") {
      const end = segment.indexOf("]", i + 2);
      if (end === -1) out += "\\[";
      else {
        const body = segment.slice(i + 1, end).replace(/^!/, "^").replace(/\\/g, "\\\\");
        out += `(?!/)[${body}]`;
        i = end;
      }
    } else out += c.replace(/[.+^${}()|\\\]]/g, "\\$&");
  }
  return out;
}
