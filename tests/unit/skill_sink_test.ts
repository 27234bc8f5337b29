import { assert, assertEquals, assertMatch, assertStringIncludes } from "../support/assert.ts";
import { createSkillSink, skillSinkPermissions } from "../../stages/skill_sink.ts";
import { createPipeline } from "../../pipeline/pipeline.ts";
import type { Chunk, CorrelatedChunk } from "../../stages/chunks.ts";

const JOB = "a1".repeat(32);

function correlated(skill: string, toon = "kind: 6050\ncontent: hi"): CorrelatedChunk {
  return {
    type: "correlated",
    jobId: JOB,
    skill,
    role: "result",
    summary: {
      type: "summary",
      kind: 6050,
      id: "c3".repeat(32),
      pubkey: "d4".repeat(32),
      created_at: 1,
      e: [JOB],
      p: [],
      toon,
    },
  };
}

/** A temp skills dir with real executable skills, and a work dir. */
async function withSkills(fn: (skillsDir: string, workDir: string) => Promise<void>) {
  const root = await Deno.makeTempDir();
  const skillsDir = `${root}/skills`;
  const workDir = `${root}/work`;
  const skills: Record<string, string> = {
    // Echoes stdin, shows its env and cwd, leaves a file in its work dir.
    echo:
      '#!/bin/sh\necho "env:$(env | sort | tr "\\n" " ")"\necho "cwd:$(pwd)"\ncat\necho done > out.txt\n',
    fail: "#!/bin/sh\necho oops >&2\nexit 3\n",
    chatty: "#!/bin/sh\nhead -c 200000 /dev/zero | tr '\\0' x\n",
    sleepy: "#!/bin/sh\nexec sleep 5\n",
  };
  for (const [name, script] of Object.entries(skills)) {
    await Deno.mkdir(`${skillsDir}/${name}`, { recursive: true });
    await Deno.writeTextFile(`${skillsDir}/${name}/run`, script, { mode: 0o755 });
  }
  await Deno.mkdir(workDir);
  try {
    await fn(skillsDir, workDir);
  } finally {
    await Deno.remove(root, { recursive: true });
  }
}

async function sink(chunks: Chunk[], options: Parameters<typeof createSkillSink>[0]) {
  return await Array.fromAsync(ReadableStream.from(chunks).pipeThrough(createSkillSink(options)));
}

Deno.test("the skill gets the raw TOON on stdin, a cleared env and its job's work dir", async () => {
  await withSkills(async (skillsDir, workDir) => {
    const [out] = await sink([correlated("echo")], { skillsDir, workDir });
    assert(out.type === "skill-outcome");
    assertEquals([out.exitCode, out.skill, out.jobId], [0, "echo", JOB]);
    assertStringIncludes(out.stdout, `cwd:${workDir}/${JOB}`);
    assertStringIncludes(out.stdout, "kind: 6050\ncontent: hi");
    assertStringIncludes(out.stdout, `TURNPIKE_JOB_ID=${JOB}`);
    assert(!out.stdout.includes("HOME="), "the environment is cleared");
    assertEquals(await Deno.readTextFile(`${workDir}/${JOB}/out.txt`), "done\n");
  });
});

Deno.test("exit codes, output caps, timeouts and missing skills are reported", async () => {
  await withSkills(async (skillsDir, workDir) => {
    const out = await sink(
      [
        correlated("fail"),
        correlated("chatty"),
        correlated("sleepy"),
        correlated("nope"),
        correlated("../x"),
      ],
      { skillsDir, workDir, maxOutputBytes: 1000, timeoutMs: 200 },
    );
    const [fail, chatty, sleepy, nope, bad] = out;
    assert(
      fail.type === "skill-outcome" && chatty.type === "skill-outcome" &&
        sleepy.type === "skill-outcome",
    );
    assertEquals([fail.exitCode, fail.stderr], [3, "oops\n"]);
    assertMatch(chatty.stdout, /^x{1000}\n\[turnpike: truncated, 200000 bytes in all\]$/);
    assert(sleepy.exitCode !== 0);
    assertStringIncludes(sleepy.stderr, "killed after 200 ms");
    assertEquals(nope.type === "failed" && nope.error, "SkillNotFoundError");
    assertEquals(bad.type === "failed" && bad.error, "SkillSinkInputError");
  });
});

Deno.test("in a worker the skill sink runs with only its profile: run skills, write the work dir", async () => {
  await withSkills(async (skillsDir, workDir) => {
    const profile = skillSinkPermissions({ skillsDir, workDir });
    assertEquals([profile.net, profile.env, profile.write], [false, false, [workDir]]);
    const runs = ["chatty", "echo", "fail", "sleepy"].map((s) => `${skillsDir}/${s}/run`);
    assertEquals((profile.run as string[]).sort(), runs);
    const input = new TransformStream<Chunk, Chunk>();
    await using pipeline = await createPipeline({
      input: input.readable,
      stages: [{ name: "skill-sink", options: { skillsDir, workDir, timeoutMs: 5000 } }],
    });
    // Dropped in after the worker's profile was taken: outside it.
    await Deno.mkdir(`${skillsDir}/late`);
    await Deno.writeTextFile(`${skillsDir}/late/run`, "#!/bin/sh\necho late\n", { mode: 0o755 });
    const writer = input.writable.getWriter();
    const done = pipeline.run();
    await writer.write(correlated("echo"));
    await writer.write(correlated("late"));
    await writer.close();
    const outcome = await done;
    assertEquals(outcome.chunksOut, 1);
    assertEquals(outcome.errors, []);
    assertEquals(outcome.failures.length, 1);
    assertEquals([outcome.failures[0].error, outcome.failures[0].stage], [
      "NotCapable",
      "skill-sink",
    ]);
    assertStringIncludes(outcome.failures[0].message, `${skillsDir}/late/run`);
  });
});
