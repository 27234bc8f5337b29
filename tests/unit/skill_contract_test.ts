import { assertEquals } from "../support/assert.ts";
import {
  SKILL_ENV,
  SKILL_PATH,
  skillEnvironment,
  skillExitStatus,
} from "../../protocol/skill_contract.ts";

Deno.test("skillEnvironment: each field given sets its TURNPIKE_* variable over the runner's base", () => {
  const env = skillEnvironment({
    jobId: "ab".repeat(32),
    eventId: "cd".repeat(32),
    eventKind: 6100,
    role: "result",
    skill: "echo",
  }, { PATH: SKILL_PATH });
  assertEquals(env, {
    PATH: "/usr/local/bin:/usr/bin:/bin",
    [SKILL_ENV.jobId]: "ab".repeat(32),
    [SKILL_ENV.eventId]: "cd".repeat(32),
    [SKILL_ENV.eventKind]: "6100",
    [SKILL_ENV.role]: "result",
    [SKILL_ENV.skill]: "echo",
  });
});

Deno.test("skillEnvironment: an absent field sets nothing, and every SKILL_ENV name is reachable", () => {
  assertEquals(skillEnvironment({ jobStatus: "done", toonModule: undefined }), {
    TURNPIKE_JOB_STATUS: "done",
  });
  const all = skillEnvironment({
    jobId: "j",
    jobStatus: "s",
    eventId: "e",
    eventKind: 1,
    role: "r",
    skill: "k",
    inputs: "i",
    outputs: "o",
    toonModule: "t",
  });
  assertEquals(Object.keys(all).sort(), Object.values(SKILL_ENV).sort());
});

Deno.test("skillExitStatus: the four codes and a signal", () => {
  assertEquals(skillExitStatus(0)[0], "ok");
  assertEquals(skillExitStatus(3)[0], "refused");
  assertEquals(skillExitStatus(137), ["crashed", "killed by signal 9"]);
});
