/**
 * The bounded memory a remote agent gets with its bead (docs/AGENTS.md "A coding agent's task",
 * docs/OPERATIONS.md "Gas Town presets"): what a local polecat would learn from its rig with
 * `bd show` and `bd prime`, sent with the task (and so encrypted with it) rather than read from a
 * beads store the provider does not have.
 *
 * Three parts, in this order: the bead's parent (its `parent-child` dependency, or its `parent`
 * field), each other bead it depends on (`bd show --json`'s `dependencies`, with their type and
 * status), and the rig's latest closed beads (what `bd list --status=closed --json` printed),
 * newest `closed_at` first, each one line: its id, title and close reason (else the first line of
 * its description). Every summary is cut to {@linkcode MAX_SUMMARY_CHARS}; the whole is at most
 * `maxChars` characters (default {@linkcode DEFAULT_MAX_CONTEXT_CHARS}, the size a Claude Code
 * session-start hook keeps): lines are added in order while they fit, and the first that does
 * not ends it, so the oldest closed beads are the first left out. A context that would be empty
 * is none.
 *
 * @module
 */
import { AgentTaskError } from "./agent_work_errors.ts";
import { isRecord } from "../../protocol/plain_record.ts";

/** The context's default bound, characters. */
export const DEFAULT_MAX_CONTEXT_CHARS = 10_000;
/** Characters of each bead's summary (its title and reason or description). */
export const MAX_SUMMARY_CHARS = 300;

/** Options of {@linkcode beadContext}. */
export interface BeadContextOptions {
  /** What `bd show <id> --json` printed for the task's bead (parsed). */
  bead: unknown;
  /** What `bd list --status=closed --json` printed (parsed); absent: no closed beads. */
  closed?: unknown;
  /** The bound, characters (0: no context). */
  maxChars?: number;
}

/**
 * The context's markdown, at most `maxChars` characters; undefined when there is nothing to say.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { beadContext } from "./bead_context.ts";
 *
 * const text = beadContext({
 *   bead: [{ id: "gt-9", title: "Fix add", dependencies: [
 *     { id: "gt-1", title: "Calculator", status: "open", dependency_type: "parent-child" },
 *   ] }],
 *   closed: [{ id: "gt-5", title: "Add sub", close_reason: "Merged", closed_at: "2026-01-02T00:00:00Z" }],
 * });
 * assert.equal(text, "### Parent\n\n- gt-1 [open] Calculator\n\n### Recently closed in the rig\n\n- gt-5 Add sub: Merged");
 * ```
 * @throws {AgentTaskError} when `bead` or `closed` is not what bd prints.
 */
export function beadContext(o: BeadContextOptions): string | undefined {
  const max = o.maxChars ?? DEFAULT_MAX_CONTEXT_CHARS;
  if (!Number.isSafeInteger(max) || max < 0) {
    throw new AgentTaskError(`the context's bound is a whole number of characters, not ${max}`);
  }
  const bead = oneIssue(o.bead);
  const deps = list(bead.dependencies, "dependencies");
  const parentId = typeof bead.parent === "string" ? bead.parent : undefined;
  const isParent = (d: Record<string, unknown>) =>
    d.dependency_type === "parent-child" || (parentId !== undefined && d.id === parentId);
  const parents = deps.filter(isParent).map((d) => `- ${line(d)}`);
  if (parents.length === 0 && parentId !== undefined) parents.push(`- ${clip(parentId)}`);
  const others = deps.filter((d) => !isParent(d)).map((d) =>
    `- ${clip(String(d.dependency_type ?? "depends on"))}: ${line(d)}`
  );
  const closed = list(unwrap(o.closed ?? []), "closed beads")
    .filter((c) => c.id !== bead.id)
    .map((c, i) => ({ c, i, at: Date.parse(String(c.closed_at ?? "")) }))
    // Newest first; bd's own order among beads with no closing time.
    .sort((a, b) => (b.at || 0) - (a.at || 0) || a.i - b.i)
    .map(({ c }) => `- ${closedLine(c)}`);
  const sections: [string, string[]][] = [
    ["### Parent", parents],
    ["### Depends on", others],
    ["### Recently closed in the rig", closed],
  ];
  let text = "";
  for (const [heading, lines] of sections) {
    if (lines.length === 0) continue;
    const head = `${text === "" ? "" : "\n\n"}${heading}\n`;
    if (text.length + head.length + 1 + lines[0].length > max) break;
    text += head;
    let full = true;
    for (const l of lines) {
      if (text.length + 1 + l.length > max) {
        full = false;
        break;
      }
      text += `\n${l}`;
    }
    if (!full) break;
  }
  return text === "" ? undefined : text;
}

function oneIssue(value: unknown): Record<string, unknown> {
  const v = unwrap(value);
  const issue = Array.isArray(v) ? (v.length === 1 ? v[0] : undefined) : v;
  if (!isRecord(issue)) throw new AgentTaskError("the bead is not one issue of `bd show --json`");
  return issue;
}

/** bd's `{"schema_version": 1, "data": ...}` envelope, opened. */
function unwrap(value: unknown): unknown {
  return isRecord(value) && "schema_version" in value ? value.data : value;
}

function list(value: unknown, what: string): Record<string, unknown>[] {
  if (value === undefined || value === null) return [];
  if (!Array.isArray(value) || !value.every(isRecord)) {
    throw new AgentTaskError(`${what}: not a list of issues as bd prints them`);
  }
  return value;
}

function line(issue: Record<string, unknown>): string {
  const status = typeof issue.status === "string" ? ` [${issue.status}]` : "";
  return clip(`${String(issue.id ?? "?")}${status} ${String(issue.title ?? "")}`);
}

function closedLine(issue: Record<string, unknown>): string {
  const reason = typeof issue.close_reason === "string" && issue.close_reason.trim() !== ""
    ? issue.close_reason
    : typeof issue.description === "string"
    ? issue.description.trim().split("\n")[0]
    : "";
  const head = `${String(issue.id ?? "?")} ${String(issue.title ?? "")}`;
  return clip(reason === "" ? head : `${head}: ${reason}`);
}

/** One line of at most MAX_SUMMARY_CHARS, whitespace folded. */
function clip(text: string): string {
  const one = text.replace(/\s+/g, " ").trim();
  return one.length <= MAX_SUMMARY_CHARS ? one : `${one.slice(0, MAX_SUMMARY_CHARS - 1)}…`;
}
