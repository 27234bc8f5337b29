/**
 * The bead's context a remote agent gets (roles/agent_work/bead_context.ts): its parent, its
 * dependencies and the rig's latest closed beads, newest first, within the bound whatever the
 * rig holds; and the task carrying it to the TASK.md the agent reads.
 */
import {
  beadContext,
  DEFAULT_MAX_CONTEXT_CHARS,
  MAX_SUMMARY_CHARS,
} from "../../../../roles/agent_work/bead_context.ts";
import { parseAgentTask, renderTaskPrompt } from "../../../../roles/agent_work/agent_task.ts";
import { AgentTaskError } from "../../../../roles/agent_work/agent_work_errors.ts";
import { assert, assertEquals, assertThrows } from "../../../../harness/assert.ts";

/** A bead as `bd show --json` prints it: a parent (parent-child) and a blocker. */
const BEAD = [{
  id: "gt-9",
  title: "Fix add",
  status: "hooked",
  dependencies: [
    { id: "gt-1", title: "The calculator epic", status: "open", dependency_type: "parent-child" },
    { id: "gt-2", title: "Add a test runner", status: "closed", dependency_type: "blocks" },
  ],
  dependents: [],
}];

/** `n` closed beads as `bd list --status=closed --json` prints them, gt-100 the oldest. */
function closedBeads(n: number, descriptionChars = 40) {
  return Array.from({ length: n }, (_, i) => ({
    id: `gt-${100 + i}`,
    title: `Closed bead ${i}`,
    description: `${"d".repeat(descriptionChars)}\nsecond line`,
    status: "closed",
    closed_at: new Date(Date.UTC(2026, 0, 1) + i * 60_000).toISOString(),
  }));
}

Deno.test("bead context: the parent, the dependencies, then the rig's closed beads newest first, each one line", () => {
  const text = beadContext({
    bead: BEAD,
    closed: [
      ...closedBeads(2),
      {
        id: "gt-7",
        title: "Sub",
        close_reason: "Merged to main",
        closed_at: "2026-02-01T00:00:00Z",
      },
      { ...BEAD[0], status: "closed" },
    ],
  })!;
  assertEquals(
    text,
    [
      "### Parent",
      "",
      "- gt-1 [open] The calculator epic",
      "",
      "### Depends on",
      "",
      "- blocks: gt-2 [closed] Add a test runner",
      "",
      "### Recently closed in the rig",
      "",
      "- gt-7 Sub: Merged to main",
      `- gt-101 Closed bead 1: ${"d".repeat(40)}`,
      `- gt-100 Closed bead 0: ${"d".repeat(40)}`,
    ].join("\n"),
  );
});

Deno.test("bead context: at most the bound, default 10,000 characters, the oldest closed beads left out first", () => {
  const closed = closedBeads(2_000, 1_000);
  const full = beadContext({ bead: BEAD, closed })!;
  assert(full.length <= DEFAULT_MAX_CONTEXT_CHARS, `${full.length}`);
  assert(full.length > DEFAULT_MAX_CONTEXT_CHARS - MAX_SUMMARY_CHARS - 3, `${full.length}`);
  assert(full.includes("- gt-2099 "), "the newest is in");
  assert(!full.includes("- gt-100 "), "the oldest is out");
  for (const line of full.split("\n")) assert(line.length <= MAX_SUMMARY_CHARS + 2, line);
  for (const max of [0, 10, 40, 500, 2_345]) {
    const text = beadContext({ bead: BEAD, closed, maxChars: max });
    assert((text?.length ?? 0) <= max, `${max}: ${text?.length}`);
  }
  // Too small for even the parent's line: no context rather than half a line.
  assertEquals(beadContext({ bead: BEAD, closed, maxChars: 40 }), undefined);
  assertEquals(beadContext({ bead: [{ id: "gt-3", title: "alone" }] }), undefined);
});

Deno.test("bead context: anything but what bd prints is refused by name", () => {
  assertThrows(() => beadContext({ bead: [] }), AgentTaskError, "not one issue");
  assertThrows(() => beadContext({ bead: BEAD, closed: { id: 1 } }), AgentTaskError, "closed");
  assertThrows(() => beadContext({ bead: BEAD, maxChars: -1 }), AgentTaskError, "bound");
});

Deno.test("bead context: it travels in the task's `context` and is the last section of TASK.md", () => {
  const context = beadContext({ bead: BEAD })!;
  const task = parseAgentTask(JSON.stringify({ ...BEAD[0], context }));
  assertEquals(task.context, context);
  assert(renderTaskPrompt(task).endsWith(`## Context\n\n${context}\n`), renderTaskPrompt(task));
});
