/**
 * The task an agent is given: a bead of Gas Town's `bd` (beads), as `bd show --json` prints it,
 * or a title and a text; bounded in size, and rendered as the TASK.md the agent reads
 * (docs/PROTOCOL.md "Agent work").
 *
 * What `bd show --json` prints is an array of its issues (one per id asked), each the issue's
 * own fields (`id`, `title`, `description`, `design`, `acceptance_criteria`, `notes`, `status`,
 * `priority` 0-4, `issue_type`, ...) with its `labels`, `dependencies`, `dependents` and
 * `comments`. Read here: the array of exactly one, the issue alone, and either inside the
 * envelope `{"schema_version": 1, "data": ...}`. The fields the agent needs are kept; the rest
 * (timestamps, relations, comments) are not part of the task, but a `context` field (turnpike's
 * own, not bd's: the bounded context of roles/agent_work/bead_context.ts, which the requester
 * draws from those relations) is, rendered last in TASK.md.
 *
 * @module
 */
import { AgentTaskError } from "./agent_work_errors.ts";
import { isRecord } from "../../protocol/plain_record.ts";

/** Bytes of JSON a task may have. */
export const MAX_TASK_JSON_BYTES = 256 * 1024;
/** Characters of a title (beads' own limit). */
export const MAX_TASK_TITLE = 500;
/** Characters of each text field. */
export const MAX_TASK_TEXT = 64 * 1024;
/** Labels a task may have, and characters of each. */
export const MAX_TASK_LABELS = 64;
const MAX_LABEL = 128;

/** A task, as the agent gets it. */
export interface AgentTask {
  /** The bead's id (`gt-abc12`); absent for a task given as a title and a text. */
  id?: string;
  /** What to do, in one line. */
  title: string;
  /** The bead's description, or the task's text. */
  description?: string;
  /** The bead's design notes. */
  design?: string;
  /** How the work will be judged. */
  acceptanceCriteria?: string;
  /** The bead's notes. */
  notes?: string;
  /** Its priority, 0 (critical) to 4. */
  priority?: number;
  /** Its type (`task`, `bug`, `feature`, ...). */
  issueType?: string;
  /** Its labels. */
  labels: string[];
  /**
   * What the requester's rig knows around it (its parent, its dependencies, the latest closed
   * beads: roles/agent_work/bead_context.ts), bounded by the requester.
   */
  context?: string;
}

/** Options of {@linkcode agentTaskFromText}. */
export interface TaskTextOptions {
  /** What to do, in one line. */
  title: string;
  /** The rest of what the agent is told. */
  text: string;
}

/**
 * Reads what `bd show --json` printed; throws {@linkcode AgentTaskError} for anything else.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { parseAgentTask } from "./agent_task.ts";
 *
 * const task = parseAgentTask('[{"id":"gt-1","title":"Fix the parser","priority":1}]');
 * assert.equal(task.id, "gt-1");
 * ```
 */
export function parseAgentTask(json: string): AgentTask {
  const bytes = new TextEncoder().encode(json).length;
  if (bytes > MAX_TASK_JSON_BYTES) {
    throw new AgentTaskError(`the task is ${bytes} bytes of JSON, over ${MAX_TASK_JSON_BYTES}`);
  }
  let value: unknown;
  try {
    value = JSON.parse(json);
  } catch (err) {
    throw new AgentTaskError("the task is not JSON", { cause: err });
  }
  if (isRecord(value) && "schema_version" in value) {
    if (value.schema_version !== 1) {
      throw new AgentTaskError(`schema_version ${String(value.schema_version)} is not 1`);
    }
    value = value.data;
  }
  if (Array.isArray(value)) {
    if (value.length !== 1) {
      throw new AgentTaskError(`a task is one bead; the JSON holds ${value.length}`);
    }
    value = value[0];
  }
  if (!isRecord(value)) throw new AgentTaskError("a bead is a JSON object");
  const task: AgentTask = { title: title(value.title), labels: labels(value.labels) };
  if (value.id !== undefined) {
    if (typeof value.id !== "string" || !/^[A-Za-z0-9][\w.:-]{0,127}$/.test(value.id)) {
      throw new AgentTaskError("a bead's id is a short name of letters, digits, . _ : -");
    }
    task.id = value.id;
  }
  const texts = [
    ["description", "description"],
    ["design", "design"],
    ["acceptance_criteria", "acceptanceCriteria"],
    ["notes", "notes"],
    ["context", "context"],
  ] as const;
  for (const [from, to] of texts) {
    const text = optionalText(value[from], from);
    if (text !== undefined) task[to] = text;
  }
  if (value.priority !== undefined) {
    const p = value.priority;
    if (typeof p !== "number" || !Number.isInteger(p) || p < 0 || p > 4) {
      throw new AgentTaskError("a bead's priority is an integer from 0 to 4");
    }
    task.priority = p;
  }
  const type = optionalText(value.issue_type, "issue_type");
  if (type !== undefined) task.issueType = type.slice(0, MAX_LABEL);
  return task;
}

/**
 * A task given as a title and a text rather than a bead.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { agentTaskFromText } from "./agent_task.ts";
 *
 * assert.equal(agentTaskFromText({ title: "Add a README", text: "Say how to run it." }).description, "Say how to run it.");
 * ```
 */
export function agentTaskFromText(options: TaskTextOptions): AgentTask {
  const text = optionalText(options.text, "text");
  const task: AgentTask = { title: title(options.title), labels: [] };
  if (text !== undefined && text !== "") task.description = text;
  return task;
}

/**
 * The TASK.md an agent reads: the title, a line of the bead's id, priority, type and labels,
 * then each text under its heading.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { renderTaskPrompt } from "./agent_task.ts";
 *
 * assert.equal(renderTaskPrompt({ title: "Fix it", labels: [], acceptanceCriteria: "tests pass" }), "# Fix it\n\n## Acceptance criteria\n\ntests pass\n");
 * ```
 */
export function renderTaskPrompt(task: AgentTask): string {
  const facts = [
    task.id === undefined ? undefined : `Bead: ${task.id}`,
    task.priority === undefined ? undefined : `Priority: P${task.priority}`,
    task.issueType === undefined ? undefined : `Type: ${task.issueType}`,
    task.labels.length === 0 ? undefined : `Labels: ${task.labels.join(", ")}`,
  ].filter((f) => f !== undefined);
  const parts = [`# ${task.title.replace(/\s+/g, " ").trim()}`];
  if (facts.length > 0) parts.push(facts.join(" · "));
  const sections = [
    ["Description", task.description],
    ["Design", task.design],
    ["Acceptance criteria", task.acceptanceCriteria],
    ["Notes", task.notes],
    ["Context", task.context],
  ] as const;
  for (const [heading, text] of sections) {
    if (text !== undefined && text.trim() !== "") parts.push(`## ${heading}\n\n${text.trim()}`);
  }
  return parts.join("\n\n") + "\n";
}

function title(value: unknown): string {
  if (typeof value !== "string" || value.trim() === "") {
    throw new AgentTaskError("a task has a title (a non-empty string)");
  }
  if (value.length > MAX_TASK_TITLE) {
    throw new AgentTaskError(`a title is at most ${MAX_TASK_TITLE} characters`);
  }
  return value;
}

function optionalText(value: unknown, field: string): string | undefined {
  if (value === undefined || value === null) return undefined;
  if (typeof value !== "string") throw new AgentTaskError(`${field} is not a string`);
  if (value.length > MAX_TASK_TEXT) {
    throw new AgentTaskError(`${field} is over ${MAX_TASK_TEXT} characters`);
  }
  return value;
}

function labels(value: unknown): string[] {
  if (value === undefined || value === null) return [];
  if (
    !Array.isArray(value) || value.length > MAX_TASK_LABELS ||
    !value.every((l) => typeof l === "string" && l !== "" && l.length <= MAX_LABEL)
  ) {
    throw new AgentTaskError(
      `labels are at most ${MAX_TASK_LABELS} strings of 1 to ${MAX_LABEL} characters`,
    );
  }
  return value;
}
