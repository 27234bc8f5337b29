import { assert, assertEquals } from "../../../../harness/assert.ts";
import { parseSkillManifest } from "../../../../roles/provider/skills/skill_manifest.ts";
import type { SkillOutcome } from "../../../../roles/provider/sandbox/skill_sandbox.ts";
import type { SandboxMode } from "../../../../roles/provider/sandbox/sandbox_probe.ts";
import { denoTestAsNobody } from "../../../support/unprivileged_run.ts";
import { closeTestSandboxes, POOLED, testSandbox } from "../../../support/pooled_sandbox.ts";

// Memory a job can hold outside every process's RSS (docs/OPERATIONS.md, "Sandbox"): as root
// the memory cgroup charges it; rootless the sampler must find it. Run in the mode this user
// gets, then again as nobody (rootless) through the last test when root.
const MODE: SandboxMode = Deno.uid() === 0 ? "root" : "rootless";
const PROBE = new URL("../../../support/hidden_memory_probe.mjs", import.meta.url).pathname;
const text = (o: SkillOutcome) => new TextDecoder().decode(o.stdout);

/** Runs the probe's `trick`, holding 160 MiB, in a job limited to 64 MiB. */
async function holdHidden(trick: string): Promise<SkillOutcome> {
  const root = await Deno.makeTempDir();
  try {
    const dir = `${root}/skills/hidden-${trick}`;
    await Deno.mkdir(dir, { recursive: true, mode: 0o755 });
    await Deno.chmod(root, 0o755);
    await Deno.chmod(`${root}/skills`, 0o755);
    await Deno.copyFile(PROBE, `${dir}/probe.mjs`);
    await Deno.chmod(`${dir}/probe.mjs`, 0o644);
    // 30 s held: the sampler kills within a sample or two; the margin is for a loaded machine.
    const md = `---\nname: hidden-${trick}\ndescription: t\nmetadata:\n  kinds: [5000]\n` +
      `  memory: 64\n  timeout: 60\n---\n`;
    await Deno.writeTextFile(`${dir}/SKILL.md`, md);
    await Deno.writeTextFile(
      `${dir}/run`,
      `#!/bin/sh\nexec deno run -A --quiet "$(dirname "$0")/probe.mjs" ${trick} 160\n`,
      { mode: 0o755 },
    );
    const sandbox = await testSandbox({
      jobsRoot: `${root}/jobs`,
      hiddenPaths: [],
      mode: MODE,
    });
    return await sandbox.run({
      jobId: `hidden-${trick}`,
      skillDir: dir,
      manifest: parseSkillManifest(md),
      input: "",
    });
  } finally {
    await closeTestSandboxes();
    await Deno.remove(root, { recursive: true });
  }
}

Deno.test(`skill sandbox (${MODE}): a memfd written past the memory limit ends the job for memory`, async () => {
  const o = await holdHidden("memfd");
  assertEquals(o.status, "memory-limit", `${o.status} ${o.reason} ${text(o)} ${o.stderrTail}`);
  assertEquals(text(o).includes("survived"), false, text(o));
});

Deno.test(`skill sandbox (${MODE}): SysV shared memory touched then detached is not kept for the job`, async () => {
  const o = await holdHidden("sysv");
  const why = `${o.status} ${o.reason} ${text(o)} ${o.stderrTail}`;
  // Rootless a detached segment dies at once (kernel.shm_rmid_forced in the job's IPC
  // namespace): the probe finds it gone and fails. As root the memory cgroup charges it.
  if (MODE === "root") assertEquals(o.status, "memory-limit", why);
  else {
    assertEquals(o.status, "failed", why);
    assert(o.stderrTail.includes("is gone once detached"), why);
  }
  assertEquals(text(o).includes("held"), false, why);
});

Deno.test(`skill sandbox (${MODE}): SysV segments kept by mappings that show none of their pages end the job for memory`, async () => {
  const o = await holdHidden("sysv-kept");
  assertEquals(o.status, "memory-limit", `${o.status} ${o.reason} ${text(o)} ${o.stderrTail}`);
  assertEquals(text(o).includes("survived"), false, text(o));
});

Deno.test(`skill sandbox (${MODE}): Unix socket buffers written full and never read end the job for memory`, async () => {
  const o = await holdHidden("socket");
  assertEquals(o.status, "memory-limit", `${o.status} ${o.reason} ${text(o)} ${o.stderrTail}`);
  assertEquals(text(o).includes("survived"), false, text(o));
});

if (Deno.uid() === 0) {
  Deno.test("skill sandbox: hidden memory again as an unprivileged user (rootless mode)", async () => {
    const run = await denoTestAsNobody(
      "tests/unit/roles/provider/sandbox_hidden_memory_test.ts",
      POOLED ? { TURNPIKE_TEST_SANDBOX_POOL: "1" } : {},
    );
    assertEquals([run.code, run.failed], [0, 0], run.output.slice(-4000));
    assertEquals(run.passed, 4, run.output.slice(-2000));
  });
}
