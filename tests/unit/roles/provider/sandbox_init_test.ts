/**
 * The compiled sandbox setup (roles/provider/sandbox/sandbox_init.c) gives a job the same world
 * as the shell setup it replaces: the same user, capabilities, environment, descriptors, limits,
 * mounts, network and kernel settings, in both modes; it is built once and kept; a host without
 * a compiler gets the shell setup; and the hostile tests pass through the shell setup too.
 */
import { assert, assertEquals, assertMatch } from "../../../../harness/assert.ts";
import { parseSkillManifest } from "../../../../roles/provider/skills/skill_manifest.ts";
import {
  createSkillSandbox,
  type SkillSandbox,
} from "../../../../roles/provider/sandbox/skill_sandbox.ts";
import { sandboxInitBinary } from "../../../../roles/provider/sandbox/sandbox_init.ts";
import type { SandboxMode } from "../../../../roles/provider/sandbox/sandbox_probe.ts";
import { SANDBOX_SETUP_EXIT } from "../../../../roles/provider/sandbox/sandbox_setup_script.ts";

const MODES: SandboxMode[] = Deno.uid() === 0 ? ["root", "rootless"] : ["rootless"];

/** Prints what a job can tell of its world (the lines that differ between runs left out). */
const PROBE = `#!/bin/sh
id
grep -E "^(Cap|NoNewPrivs)" /proc/self/status
echo "pid $$"
env | sort
ls /proc/self/fd
ulimit -a
awk '{print $5, $6, $9}' /proc/self/mountinfo
ls -a /
hostname
cat /proc/sys/user/max_user_namespaces /proc/sys/kernel/shm_rmid_forced
ip -o link 2>/dev/null | cut -d' ' -f2,3,9
touch /x 2>&1
echo hi > /tmp/job/out/f && echo wrote
read -r line; echo "stdin: $line"
`;

async function probe(mode: SandboxMode, setup: "compiled" | "shell", prepared: boolean) {
  const root = await Deno.makeTempDir();
  let sandbox: SkillSandbox | undefined;
  try {
    const skillDir = `${root}/skills/probe`;
    await Deno.mkdir(skillDir, { recursive: true, mode: 0o755 });
    await Deno.chmod(root, 0o755);
    await Deno.chmod(`${root}/skills`, 0o755);
    const md = "---\nname: probe\ndescription: t\nmetadata:\n  kinds: [5000]\n---\n";
    await Deno.writeTextFile(`${skillDir}/SKILL.md`, md);
    await Deno.writeTextFile(`${skillDir}/run`, PROBE, { mode: 0o755 });
    await Deno.chmod(`${skillDir}/run`, 0o755);
    const state = `${root}/state`;
    sandbox = await createSkillSandbox({
      jobsRoot: `${state}/jobs`,
      hiddenPaths: [state],
      mode,
      setup,
      ...(prepared ? { prepared: {} } : {}),
    });
    assertEquals(sandbox.setup, setup);
    const job = { jobId: "j1", skillDir, manifest: parseSkillManifest(md), input: "the input\n" };
    if (prepared) assert(sandbox.prepare!(job), "a sandbox prepared ahead");
    const outcome = await sandbox.run(job);
    assertEquals(outcome.status, "ok", `${outcome.reason} ${outcome.stderrTail}`);
    assertEquals(outcome.prepared === true, prepared);
    // The skill's own path names the temp dir: the same in both runs once replaced.
    return new TextDecoder().decode(outcome.stdout).replaceAll(root, "<root>");
  } finally {
    await sandbox?.close?.();
    await Deno.remove(root, { recursive: true });
  }
}

for (const mode of MODES) {
  Deno.test(`sandbox init (${mode}): the compiled setup gives the job the shell setup's world`, async () => {
    const world = await probe(mode, "shell", false);
    assertEquals(await probe(mode, "compiled", false), world);
    // And that world is the confined one (not two setups that agree on something looser).
    assertMatch(world, /^uid=65534\(nobody\)/);
    assertMatch(world, /CapEff:\s+0000000000000000\nCapBnd:\s+0000000000000000/);
    assertMatch(world, /NoNewPrivs:\s+1/);
    assertMatch(world, /^pid 1$/m);
    assertMatch(world, /^\/ ro,\S* turnpike-root$/m);
    assertMatch(world, /Read-only file system/);
    assertMatch(world, /^stdin: the input$/m);
    assert(!world.includes("state"), world);
  });

  Deno.test(`sandbox init (${mode}): a prepared sandbox's compiled setup waits for go, then the same world`, async () => {
    assertEquals(await probe(mode, "compiled", true), await probe(mode, "shell", true));
  });
}

Deno.test("sandbox init: built once and kept; no compiler, no program", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const first = await sandboxInitBinary({ dir });
    if (first === undefined) return; // this host has no C compiler: the shell setup is the one
    const built = (await Deno.stat(first)).mtime?.getTime();
    assertEquals(await sandboxInitBinary({ dir }), first);
    assertEquals((await Deno.stat(first)).mtime?.getTime(), built);
    assertEquals((await Deno.stat(first)).mode! & 0o077, 0);
    const none = await Deno.makeTempDir();
    assertEquals(await sandboxInitBinary({ dir: none, compilers: ["no-such-cc"] }), undefined);
    assertEquals([...Deno.readDirSync(none)], []);
    await Deno.remove(none, { recursive: true });
    // A setup that cannot be made says so the way the shell setup does: exit 125, its prefix.
    const out = await new Deno.Command(first, {
      args: [
        ...(Deno.uid() === 0 ? [] : ["--user"]),
        `${dir}/no-such.fstab`,
        dir,
        dir,
        "-",
        "-",
        "-",
        "-",
        "-",
        "1024",
        "nobody",
        "-",
        "--",
        "true",
      ],
      stderr: "piped",
    }).output();
    assertEquals(out.code, SANDBOX_SETUP_EXIT);
    assertMatch(
      new TextDecoder().decode(out.stderr),
      /^turnpike-sandbox: cannot read .*no-such\.fstab/,
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("sandbox init: the sandbox's hostile tests pass through the shell setup too", async () => {
  const files = ["skill_sandbox", "sandbox_gateway"].map((f) =>
    `tests/unit/roles/provider/${f}_test.ts`
  );
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["test", "-A", ...files],
    env: { TURNPIKE_SANDBOX_SETUP: "shell", NO_COLOR: "1" },
    stdout: "piped",
    stderr: "piped",
  }).output();
  const text = new TextDecoder().decode(out.stdout) + new TextDecoder().decode(out.stderr);
  assertEquals(out.code, 0, text.slice(-4000));
  const summary = /ok \| (\d+) passed/.exec(text);
  assert(summary !== null && Number(summary[1]) >= 20, text.slice(-2000));
});
