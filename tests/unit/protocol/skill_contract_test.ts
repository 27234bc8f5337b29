import { assertEquals } from "../../../harness/assert.ts";
import {
  SKILL_ENV,
  SKILL_PATH,
  skillEnvironment,
  skillExitStatus,
} from "../../../protocol/skill_contract.ts";

Deno.test("skillEnvironment: each field given sets its TURNPIKE_* variable over the runner's base", () => {
  const env = skillEnvironment({ jobId: "ab".repeat(32), jobStatus: "done" }, {
    PATH: SKILL_PATH,
  });
  assertEquals(env, {
    PATH: "/usr/local/bin:/usr/bin:/bin",
    [SKILL_ENV.jobId]: "ab".repeat(32),
    [SKILL_ENV.jobStatus]: "done",
  });
});

Deno.test("skillEnvironment: an absent field sets nothing; every field names a SKILL_ENV variable", () => {
  assertEquals(skillEnvironment({ jobStatus: "done", toonModule: undefined }), {
    TURNPIKE_JOB_STATUS: "done",
  });
  const all = skillEnvironment({
    jobId: "j",
    jobStatus: "s",
    inputs: "i",
    outputs: "o",
    toonModule: "t",
  });
  const names = new Set<string>(Object.values(SKILL_ENV));
  assertEquals(Object.keys(all).length, 5);
  for (const key of Object.keys(all)) assertEquals(names.has(key), true, key);
});

Deno.test("skillExitStatus: the four codes and a signal", () => {
  assertEquals(skillExitStatus(0)[0], "ok");
  assertEquals(skillExitStatus(3)[0], "refused");
  assertEquals(skillExitStatus(137), ["crashed", "killed by signal 9"]);
});
