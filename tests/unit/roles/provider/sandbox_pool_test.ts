/**
 * Prepared sandboxes (roles/provider/sandbox/sandbox_pool.ts, docs/ARCHITECTURE.md "Prepared
 * sandboxes"): each serves one job, never two; jobs of one skill get fresh work dirs and see
 * nothing of each other; a prepared one killed while waiting, the sandbox's close, the
 * provider's stop and a provider SIGKILLed leave no process and no dir. Real sandboxes (the
 * hostile tests of tests/unit/roles/provider/skill_sandbox_test.ts run through prepared ones too, with
 * TURNPIKE_TEST_SANDBOX_POOL=1).
 */
import { assert, assertEquals } from "../../../../harness/assert.ts";
import {
  parseSkillManifest,
  type SkillManifest,
} from "../../../../roles/provider/skills/skill_manifest.ts";
import {
  createSkillSandbox,
  type SkillOutcome,
  type SkillSandbox,
} from "../../../../roles/provider/sandbox/skill_sandbox.ts";
import type { SandboxMode } from "../../../../roles/provider/sandbox/sandbox_probe.ts";
import { ProviderSkills } from "../../../../roles/provider/skills/provider_skills.ts";
import { hasProcessWith } from "../../../support/process_scan.ts";
import { rerunSandboxTests } from "../../../support/sandbox_test_rerun.ts";
import { waitUntil } from "../../../../harness/provider_test_kit.ts";
import { denoTestAsNobody } from "../../../support/unprivileged_run.ts";

const MODE: SandboxMode = Deno.uid() === 0 ? "root" : "rootless";
const text = (o: SkillOutcome) => new TextDecoder().decode(o.stdout);

interface World {
  root: string;
  jobs: string;
  sandbox: SkillSandbox;
  skill(name: string, script: string): Promise<{ skillDir: string; manifest: SkillManifest }>;
}

async function withWorld(fn: (w: World) => Promise<void>): Promise<void> {
  const root = await Deno.makeTempDir();
  await Deno.chmod(root, 0o755);
  const jobs = `${root}/state/jobs`;
  const sandbox = await createSkillSandbox({
    jobsRoot: jobs,
    hiddenPaths: [`${root}/state`],
    mode: MODE,
    prepared: { perSkill: 1, maxTotal: 4 },
  });
  try {
    await fn({ root, jobs, sandbox, skill: (name, script) => makeSkill(root, name, script) });
  } finally {
    await sandbox.close?.();
    await Deno.remove(root, { recursive: true });
  }
}

async function makeSkill(root: string, name: string, script: string) {
  const skillDir = `${root}/skills/${name}`;
  await Deno.mkdir(skillDir, { recursive: true, mode: 0o755 });
  await Deno.chmod(`${root}/skills`, 0o755);
  await Deno.chmod(skillDir, 0o755);
  const md = `---\nname: ${name}\ndescription: t\nmetadata:\n  kinds: [5000]\n---\n`;
  await Deno.writeTextFile(`${skillDir}/SKILL.md`, md);
  await Deno.writeTextFile(`${skillDir}/run`, script, { mode: 0o755 });
  return { skillDir, manifest: parseSkillManifest(md) };
}

const exists = (path: string) => Deno.lstat(path).then(() => true, () => false);
const alive = (pid: number) => exists(`/proc/${pid}`);

/** Waits (for the event, however long it takes) until `done` holds. */
async function until(done: () => boolean | Promise<boolean>): Promise<void> {
  while (!await done()) await new Promise((r) => setTimeout(r, 10));
}

/** The `.pool-` entries left in a jobs root. */
async function poolEntries(jobs: string): Promise<string[]> {
  const names: string[] = [];
  for await (const e of Deno.readDir(jobs)) if (e.name.startsWith(".pool-")) names.push(e.name);
  return names;
}

// Lists what the job sees of its work dir and counts what it finds of an earlier job's in its
// private tmp dirs, then leaves its input in both.
const NOSY = "#!/bin/sh\n" +
  'echo "work: $(ls -A /tmp/job | tr "\\n" " ")"\n' +
  'echo "mine in tmp: $(ls -A /tmp /var/tmp /dev/shm | grep -c mine)"\n' +
  "cat > mine\ncp mine /tmp/mine\ncp mine /dev/shm/mine\n";

Deno.test(`prepared sandbox (${MODE}): two jobs of one skill back to back get distinct, fresh work dirs and see nothing of each other`, async () => {
  await withWorld(async (w) => {
    const skill = await w.skill("nosy", NOSY);
    assert(await w.sandbox.prepare!(skill), "one prepared");
    const a = await w.sandbox.run({ jobId: "a", ...skill, input: "secret-a" });
    // The job refilled the pool: the next job of the skill finds one waiting.
    await until(() => w.sandbox.preparedNow!().length === 1);
    const b = await w.sandbox.run({ jobId: "b", ...skill, input: "secret-b" });
    for (const [o, id, secret] of [[a, "a", "secret-a"], [b, "b", "secret-b"]] as const) {
      assertEquals([o.status, o.prepared], ["ok", true], o.stderrTail);
      assertEquals(o.workDir, `${w.jobs}/${id}`);
      assertEquals(text(o), "work: inputs out \nmine in tmp: 0\n");
      assertEquals(await Deno.readTextFile(`${o.workDir}/mine`), secret);
    }
    assert(!(await Deno.lstat(a.workDir)).isSymlink, "the work dir itself, named for the job");
  });
});

Deno.test(`prepared sandbox (${MODE}): one serves one job, never two; two jobs at once with one prepared: one waits in it, one gets its own`, async () => {
  await withWorld(async (w) => {
    const skill = await w.skill(
      "once",
      "#!/bin/sh\n[ -e /tmp/used ] && echo reused; touch /tmp/used; cat; echo\n",
    );
    assert(await w.sandbox.prepare!(skill));
    const seen = new Set<number>();
    for (let i = 0; i < 3; i++) {
      await until(() => w.sandbox.preparedNow!().length === 1);
      const [ready] = w.sandbox.preparedNow!();
      assert(!seen.has(ready.pid), `pid ${ready.pid} prepared twice`);
      seen.add(ready.pid);
      const o = await w.sandbox.run({ jobId: `j${i}`, ...skill, input: `job ${i}` });
      assertEquals([o.status, o.prepared, text(o)], ["ok", true, `job ${i}\n`]);
      assert(!await alive(ready.pid), "the used sandbox's process is gone");
    }
    await until(() => w.sandbox.preparedNow!().length === 1);
    const both = await Promise.all(
      [0, 1].map((i) => w.sandbox.run({ jobId: `p${i}`, ...skill, input: `par ${i}` })),
    );
    assertEquals(both.map((o) => [o.status, text(o)]), [["ok", "par 0\n"], ["ok", "par 1\n"]]);
    assertEquals(both.filter((o) => o.prepared === true).length, 1);
    await until(() => w.sandbox.preparedNow!().length > 0);
    assertEquals(w.sandbox.preparedNow!().length, 1, "per skill: one");
  });
});

Deno.test(`prepared sandbox (${MODE}): one killed while waiting leaves no process and no dir; the next job still runs`, async () => {
  await withWorld(async (w) => {
    const skill = await w.skill("victim", "#!/bin/sh\necho ran\n");
    assert(await w.sandbox.prepare!(skill));
    const [ready] = w.sandbox.preparedNow!();
    Deno.kill(ready.pid, "SIGKILL");
    await until(() => w.sandbox.preparedNow!().length === 0);
    await until(async () => !await exists(ready.workDir));
    assert(!await hasProcessWith(ready.workDir), "no process of it left");
    assertEquals(await poolEntries(w.jobs), []);
    const o = await w.sandbox.run({ jobId: "after", ...skill, input: "" });
    assertEquals([o.status, text(o), o.prepared], ["ok", "ran\n", undefined]);
  });
});

Deno.test(`prepared sandbox (${MODE}): one prepared before its skill changed serves no job and is killed`, async () => {
  await withWorld(async (w) => {
    const skill = await w.skill("changing", "#!/bin/sh\necho v1\n");
    assert(await w.sandbox.prepare!(skill));
    const [old] = w.sandbox.preparedNow!();
    const manifest = { ...skill.manifest, timeoutMs: skill.manifest.timeoutMs + 1000 };
    const o = await w.sandbox.run({ jobId: "new", skillDir: skill.skillDir, manifest, input: "" });
    assertEquals([o.status, o.prepared], ["ok", undefined]);
    await until(async () => !await alive(old.pid) && !await exists(old.workDir));
    await until(() => w.sandbox.preparedNow!().length === 1);
    assert(w.sandbox.preparedNow!()[0].pid !== old.pid);
  });
});

Deno.test(`prepared sandbox (${MODE}): close kills the waiting ones and removes their dirs`, async () => {
  await withWorld(async (w) => {
    for (const name of ["one", "two"]) {
      assert(await w.sandbox.prepare!(await w.skill(name, "#!/bin/sh\necho x\n")));
    }
    const ready = w.sandbox.preparedNow!();
    assertEquals(ready.length, 2);
    await w.sandbox.close!();
    for (const r of ready) {
      assert(!await alive(r.pid), `pid ${r.pid} still alive`);
      assert(!await hasProcessWith(r.workDir), `a process of ${r.workDir} left`);
    }
    assertEquals(await poolEntries(w.jobs), []);
    assertEquals(w.sandbox.preparedNow!(), []);
  });
});

Deno.test(`prepared sandbox (${MODE}): the provider's stop (its skills' sandbox closed) kills the waiting ones`, async () => {
  const root = await Deno.makeTempDir();
  await Deno.chmod(root, 0o755);
  const skills = new ProviderSkills({
    stateDir: `${root}/state`,
    skillsDir: `${root}/skills`,
    sandboxMode: MODE,
    preparedSandboxes: {},
    log: () => {},
    stopped: () => false,
    onChange: () => {},
    onProblems: () => {},
  });
  try {
    const skill = await makeSkill(root, "served", "#!/bin/sh\ncat\n");
    await skills.open();
    const o = await skills.sandbox.run({ jobId: "s1", ...skill, input: "in" });
    assertEquals([o.status, text(o)], ["ok", "in"]);
    await until(() => skills.sandbox.preparedNow!().length === 1);
    const [ready] = skills.sandbox.preparedNow!();
    assert(ready !== undefined && await alive(ready.pid), "the job left one prepared");
    skills.closeCatalog();
    await skills.closeSandbox();
    assert(!await alive(ready.pid));
    assert(!await hasProcessWith(ready.workDir));
    assertEquals(await poolEntries(`${root}/state/work`), []);
  } finally {
    skills.closeCatalog();
    await skills.closeSandbox();
    await Deno.remove(root, { recursive: true });
  }
});

Deno.test(`prepared sandbox (${MODE}): a provider SIGKILLed: the waiting one and the job it ran die with it, every .pool- entry removed when the next sandbox opens`, async () => {
  const root = await Deno.makeTempDir();
  await Deno.chmod(root, 0o755);
  const jobs = `${root}/state/jobs`;
  try {
    const skill = await makeSkill(root, "sleeper", "#!/bin/sh\nexec sleep 987654\n");
    const script = `
      import { createSkillSandbox } from "${new URL(
      "../../../../roles/provider/sandbox/skill_sandbox.ts",
      import.meta.url,
    )}";
      import { parseSkillManifest } from "${new URL(
      "../../../../roles/provider/skills/skill_manifest.ts",
      import.meta.url,
    )}";
      const [skillDir, jobs, mode] = Deno.args;
      const sandbox = await createSkillSandbox({ jobsRoot: jobs, hiddenPaths: [], mode, prepared: {} });
      const manifest = parseSkillManifest(await Deno.readTextFile(skillDir + "/SKILL.md"));
      await sandbox.prepare({ skillDir, manifest });
      const [running] = sandbox.preparedNow();
      sandbox.run({ jobId: "cut", skillDir, manifest, input: "" });
      await sandbox.prepare({ skillDir, manifest });
      console.log(JSON.stringify({ running, waiting: sandbox.preparedNow()[0] }));
      await new Promise(() => {});
    `;
    await Deno.writeTextFile(`${root}/provider.ts`, script);
    const child = new Deno.Command(Deno.execPath(), {
      args: [
        "run",
        "-A",
        "--config",
        "deno.json",
        `${root}/provider.ts`,
        skill.skillDir,
        jobs,
        MODE,
      ],
      stdout: "piped",
      stderr: "inherit",
    }).spawn();
    const reader = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
    let line = "";
    while (!line.includes("\n")) line += (await reader.read()).value ?? "";
    const { running, waiting } = JSON.parse(line) as Record<
      string,
      { pid: number; workDir: string }
    >;
    await until(() => hasProcessWith("987654"));
    assert((await Deno.lstat(`${jobs}/cut`)).isSymlink, "the running job's work dir, by its id");
    child.kill("SIGKILL");
    await child.status;
    await reader.cancel();
    // The waiting one and the job it ran die with the provider (parent_death.ts).
    await until(async () => !await alive(waiting.pid));
    await waitUntil(async () => !await hasProcessWith("987654"), 30_000, "the cut job to die");
    assert((await poolEntries(jobs)).length > 0);
    const next = await createSkillSandbox({ jobsRoot: jobs, hiddenPaths: [], mode: MODE });
    await next.close?.();
    assert(!await hasProcessWith("987654"), "the cut job was killed");
    assert(!await hasProcessWith(running.workDir) && !await hasProcessWith(waiting.workDir));
    assertEquals(await poolEntries(jobs), []);
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});

if (Deno.uid() === 0) {
  Deno.test("prepared sandbox: the whole file again as an unprivileged user (rootless mode)", async () => {
    const run = await denoTestAsNobody("tests/unit/roles/provider/sandbox_pool_test.ts");
    assertEquals([run.code, run.failed], [0, 0], run.output.slice(-4000));
    assertEquals(run.passed, 7, run.output.slice(-2000));
  });
}

// As root only: skill_sandbox_test.ts runs itself again as nobody (rootless), pool on too.
if (Deno.uid() === 0) {
  Deno.test("prepared sandbox: the sandbox's hostile tests pass with every job in a prepared sandbox", async () => {
    await rerunSandboxTests(
      ["skill_sandbox", "job_run", "sandbox_gateway"],
      { TURNPIKE_TEST_SANDBOX_POOL: "1" },
      31,
    );
  });
}
