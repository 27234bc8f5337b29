import { assertEquals, assertRejects } from "../../../../harness/assert.ts";
import {
  CallbackInDoubtError,
  CallbackRunner,
  CallbackSkillMissingError,
} from "../../../../roles/requester/callback_runner.ts";

async function setup() {
  const dir = await Deno.makeTempDir({ prefix: "tp-cb-" });
  await Deno.mkdir(`${dir}/skills/count`, { recursive: true });
  await Deno.writeTextFile(
    `${dir}/skills/count/run`,
    `#!/bin/sh\necho "$TURNPIKE_JOB_ID $TURNPIKE_JOB_STATUS $(cat)" >> "${dir}/calls"\n`,
    { mode: 0o755 },
  );
  return { dir, runner: new CallbackRunner({ stateDir: dir, skillsDir: `${dir}/skills` }) };
}
const ID = "ab".repeat(32);

Deno.test("callback runner: runs once with stdin and env; a second run does not re-run", async () => {
  const { dir, runner } = await setup();
  try {
    assertEquals(
      await runner.run({ jobId: ID, skill: "count", status: "done", toon: "kind: 6601" }),
      {
        exitCode: 0,
        alreadyRan: false,
      },
    );
    assertEquals(
      (await runner.run({ jobId: ID, skill: "count", status: "done", toon: "x" })).alreadyRan,
      true,
    );
    assertEquals(await Deno.readTextFile(`${dir}/calls`), `${ID} done kind: 6601\n`);
    assertEquals(await runner.ran(ID), true);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("callback runner: a claim by a dead process without an exit is in doubt, never re-run", async () => {
  const { dir, runner } = await setup();
  try {
    await Deno.mkdir(`${dir}/callbacks/${ID}.claim`, { recursive: true });
    await Deno.writeTextFile(`${dir}/callbacks/${ID}.in.payload`, "x");
    await Deno.writeTextFile(`${dir}/callbacks/${ID}.claim/pid`, "999999999\n");
    await assertRejects(
      () => runner.run({ jobId: ID, skill: "count", status: "done", toon: "x" }),
      CallbackInDoubtError,
    );
    assertEquals(await Deno.stat(`${dir}/calls`).then(() => true, () => false), false);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("callback runner: a missing skill is a named error; `none` runs nothing", async () => {
  const { dir, runner } = await setup();
  try {
    await assertRejects(
      () => runner.run({ jobId: ID, skill: "absent", status: "done" }),
      CallbackSkillMissingError,
    );
    assertEquals(await runner.run({ jobId: "cd".repeat(32), skill: "none", status: "done" }), {
      alreadyRan: false,
    });
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
