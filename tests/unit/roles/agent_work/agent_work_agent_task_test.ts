/**
 * The task (roles/agent_work/agent_task.ts): what `bd show --json` prints, in each shape it
 * comes in, or a title and a text; anything else, or anything too large, refused by name; and
 * the TASK.md the agent reads.
 */
import { AgentTaskError } from "../../../../roles/agent_work/agent_work_errors.ts";
import {
  type AgentTask,
  agentTaskFromText,
  MAX_TASK_JSON_BYTES,
  parseAgentTask,
  renderTaskPrompt,
} from "../../../../roles/agent_work/agent_task.ts";
import { assertEquals, assertThrows } from "../../../../harness/assert.ts";

/** A bead as `bd show --json` prints one (types.IssueDetails: the issue and its relations). */
const BEAD = {
  id: "gt-4f2a",
  title: "Parse the config's new [agent] table",
  description: "config.toml gains an [agent] table.",
  design: "One codec per key, as the other tables.",
  acceptance_criteria: "- deno task test passes\n- the table is documented",
  notes: "See docs/OPERATIONS.md.",
  status: "open",
  priority: 1,
  issue_type: "feature",
  created_at: "2026-11-25T10:00:00Z",
  updated_at: "2026-11-25T10:05:00Z",
  labels: ["config", "agent"],
  dependencies: [{ id: "gt-1", title: "x", dependency_type: "blocks" }],
  dependents: [],
  comments: [{ id: 1, author: "mayor", text: "go" }],
};

const EXPECTED: AgentTask = {
  id: "gt-4f2a",
  title: "Parse the config's new [agent] table",
  description: "config.toml gains an [agent] table.",
  design: "One codec per key, as the other tables.",
  acceptanceCriteria: "- deno task test passes\n- the table is documented",
  notes: "See docs/OPERATIONS.md.",
  priority: 1,
  issueType: "feature",
  labels: ["config", "agent"],
};

Deno.test("a bead reads the same as bd's array of one, alone, and in the schema_version envelope", () => {
  for (
    const shape of [
      [BEAD],
      BEAD,
      { schema_version: 1, data: [BEAD] },
      { schema_version: 1, data: BEAD },
    ]
  ) {
    assertEquals(parseAgentTask(JSON.stringify(shape)), EXPECTED);
  }
});

Deno.test("a bead with only an id and a title, and priority 0, is a task", () => {
  assertEquals(parseAgentTask('{"id":"bd-1","title":"t","priority":0,"labels":null}'), {
    id: "bd-1",
    title: "t",
    priority: 0,
    labels: [],
  });
});

Deno.test("anything else is refused by name, with what is wrong", () => {
  const refused: [string, string][] = [
    ["not json", "not JSON"],
    ["[]", "holds 0"],
    [JSON.stringify([BEAD, BEAD]), "holds 2"],
    [JSON.stringify({ schema_version: 2, data: BEAD }), "schema_version 2"],
    ['"a string"', "JSON object"],
    [JSON.stringify({ ...BEAD, title: "" }), "title"],
    [JSON.stringify({ ...BEAD, title: "x".repeat(501) }), "500"],
    [JSON.stringify({ ...BEAD, priority: 7 }), "priority"],
    [JSON.stringify({ ...BEAD, priority: "1" }), "priority"],
    [JSON.stringify({ ...BEAD, description: 5 }), "description is not a string"],
    [JSON.stringify({ ...BEAD, labels: ["a", 3] }), "labels"],
    [JSON.stringify({ ...BEAD, id: "../../etc" }), "id"],
    [JSON.stringify({ ...BEAD, notes: "n".repeat(64 * 1024 + 1) }), "notes is over"],
  ];
  for (const [json, says] of refused) {
    assertThrows(() => parseAgentTask(json), AgentTaskError, says);
  }
  const huge = JSON.stringify({ ...BEAD, description: "d".repeat(MAX_TASK_JSON_BYTES) });
  assertThrows(() => parseAgentTask(huge), AgentTaskError, "bytes of JSON");
});

Deno.test("a title and a text make a task; an empty title does not", () => {
  assertEquals(agentTaskFromText({ title: "Add a README", text: "Say how to run it." }), {
    title: "Add a README",
    description: "Say how to run it.",
    labels: [],
  });
  assertThrows(() => agentTaskFromText({ title: " ", text: "x" }), AgentTaskError, "title");
});

Deno.test("TASK.md has the title, the bead's facts in one line, and each text under its heading", () => {
  assertEquals(
    renderTaskPrompt(EXPECTED),
    [
      "# Parse the config's new [agent] table",
      "",
      "Bead: gt-4f2a · Priority: P1 · Type: feature · Labels: config, agent",
      "",
      "## Description\n\nconfig.toml gains an [agent] table.",
      "",
      "## Design\n\nOne codec per key, as the other tables.",
      "",
      "## Acceptance criteria\n\n- deno task test passes\n- the table is documented",
      "",
      "## Notes\n\nSee docs/OPERATIONS.md.",
      "",
    ].join("\n"),
  );
  assertEquals(
    renderTaskPrompt(agentTaskFromText({ title: "a\ntitle", text: "do it\n" })),
    "# a title\n\n## Description\n\ndo it\n",
  );
});
