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
import {
  SANDBOX_SETUP_ENV,
  sandboxInitBinary,
} from "../../../../roles/provider/sandbox/sandbox_init.ts";
import { rerunSandboxTests } from "../../../support/sandbox_test_rerun.ts";
import {
  type SandboxGatewayPlan,
  sandboxGatewayPlan,
} from "../../../../roles/provider/sandbox/sandbox_gateway.ts";
import type { SandboxMode } from "../../../../roles/provider/sandbox/sandbox_probe.ts";
import { SANDBOX_SETUP_EXIT } from "../../../../roles/provider/sandbox/sandbox_setup_script.ts";
import { hasProcessWith } from "../../../support/process_scan.ts";
import { waitUntil } from "../../../../harness/provider_test_kit.ts";

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

async function probe(
  mode: SandboxMode,
  setup: "compiled" | "shell",
  prepared: boolean,
  script = PROBE,
) {
  const root = await Deno.makeTempDir();
  let sandbox: SkillSandbox | undefined;
  try {
    const skillDir = `${root}/skills/probe`;
    await Deno.mkdir(skillDir, { recursive: true, mode: 0o755 });
    await Deno.chmod(root, 0o755);
    await Deno.chmod(`${root}/skills`, 0o755);
    const md = "---\nname: probe\ndescription: t\nmetadata:\n  kinds: [5000]\n---\n";
    await Deno.writeTextFile(`${skillDir}/SKILL.md`, md);
    await Deno.writeTextFile(`${skillDir}/run`, script, { mode: 0o755 });
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
    if (prepared) assert(await sandbox.prepare!(job), "a sandbox prepared ahead");
    const outcome = await sandbox.run(job);
    assertEquals(outcome.status, "ok", `${outcome.reason} ${outcome.stderrTail}`);
    assertEquals(outcome.prepared === true, prepared);
    // The skill's own path names the temp dir: the same in both runs once replaced. Its pid is
    // 1 in the shell setup, 2 in the compiled one (the init stays PID 1: "the init outlives
    // what the job does to itself" below).
    const world = new TextDecoder().decode(outcome.stdout).replaceAll(root, "<root>");
    if (script === PROBE) assertMatch(world, setup === "shell" ? /^pid 1$/m : /^pid 2$/m);
    return world.replace(/^pid \d+$/m, "pid");
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
    assertMatch(world, /^\/ ro,\S* turnpike-root$/m);
    assertMatch(world, /Read-only file system/);
    assertMatch(world, /^stdin: the input$/m);
    assert(!world.includes("state"), world);
  });

  Deno.test(`sandbox init (${mode}): a prepared sandbox's compiled setup waits for go, then the same world`, async () => {
    assertEquals(await probe(mode, "compiled", true), await probe(mode, "shell", true));
  });
}

for (const mode of MODES) {
  Deno.test(`sandbox init (${mode}): the job cannot look into its init, nor trace it`, async () => {
    const script = "#!/bin/sh\n" +
      "cat /proc/1/environ > /dev/null 2>&1 && echo environ readable\n" +
      "ls /proc/1/root/ > /dev/null 2>&1 && echo root readable\n" +
      "tr '\\0' ' ' < /proc/1/cmdline; echo\n" +
      "kill -9 1 2> /dev/null; sleep 0.1; echo alive\n";
    const world = await probe(mode, "compiled", false, script);
    // Its arguments wiped (no host path), its memory and root closed (it keeps the capabilities
    // the job drops), and a signal from inside
    // its namespace does not end PID 1 (which would end the job: not "ok").
    assertEquals(world.replace(/ +\n/, "\n"), "turnpike-sandbox-init\nalive\n");
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
    // A setup that cannot be made says so the way the shell setup does: exit 125, its prefix;
    // from an fstab file or its text inline alike.
    const setup = (fstab: string) =>
      new Deno.Command(first, {
        args: [
          ...(Deno.uid() === 0 ? [] : ["--user"]),
          fstab,
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
    const short = await setup(`inline:tmpfs ${dir}\n`);
    assertEquals(short.code, SANDBOX_SETUP_EXIT);
    assertMatch(new TextDecoder().decode(short.stderr), /^turnpike-sandbox: a short fstab line/);
    const out = await setup(`${dir}/no-such.fstab`);
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
  await rerunSandboxTests(
    ["skill_sandbox", "sandbox_gateway"],
    { [SANDBOX_SETUP_ENV]: "shell" },
    20,
  );
});

const MODE: SandboxMode = Deno.uid() === 0 ? "root" : "rootless";

Deno.test(`sandbox init (${MODE}): the init outlives what the job does to itself: a job that clears its parent-death signal still dies with a SIGKILLed provider`, async () => {
  const root = await Deno.makeTempDir();
  await Deno.chmod(root, 0o755);
  try {
    const skillDir = `${root}/skills/clearer`;
    await Deno.mkdir(skillDir, { recursive: true, mode: 0o755 });
    await Deno.chmod(`${root}/skills`, 0o755);
    await Deno.writeTextFile(
      `${skillDir}/SKILL.md`,
      "---\nname: clearer\ndescription: t\nmetadata:\n  kinds: [5000]\n  timeout: 600\n---\n",
    );
    // prctl(PR_SET_PDEATHSIG, 0): the skill asks not to die with its parent, then lives on.
    const prctl = Deno.build.arch === "x86_64" ? 157 : 167;
    await Deno.writeTextFile(
      `${skillDir}/run`,
      `#!/usr/bin/perl\nsyscall(${prctl}, 1, 0) == 0 or die "prctl: $!";\n` +
        `exec "/bin/sh", "-c", "sleep 987653 & exec sleep 987653";\n`,
      { mode: 0o755 },
    );
    await Deno.chmod(`${skillDir}/run`, 0o755);
    const url = (path: string) => new URL(`../../../../${path}`, import.meta.url).href;
    const script = `
      import { createSkillSandbox } from "${url("roles/provider/sandbox/skill_sandbox.ts")}";
      import { parseSkillManifest } from "${url("roles/provider/skills/skill_manifest.ts")}";
      const [skillDir, jobs, mode] = Deno.args;
      const sandbox = await createSkillSandbox({ jobsRoot: jobs, hiddenPaths: [], mode, setup: "compiled" });
      const manifest = parseSkillManifest(await Deno.readTextFile(skillDir + "/SKILL.md"));
      console.log(JSON.stringify(await sandbox.run({ jobId: "j", skillDir, manifest, input: "" })));
    `;
    await Deno.writeTextFile(`${root}/provider.ts`, script);
    const provider = new Deno.Command(Deno.execPath(), {
      args: [
        "run",
        "-A",
        "--config",
        "deno.json",
        `${root}/provider.ts`,
        skillDir,
        `${root}/state/jobs`,
        MODE,
      ],
      stdout: "piped",
      stderr: "piped",
    }).spawn();
    await waitUntil(() => hasProcessWith("987653"), 30_000, "the job to start");
    provider.kill("SIGKILL");
    await provider.output();
    await waitUntil(async () => !await hasProcessWith("987653"), 30_000, "the job to die");
  } finally {
    for (const pid of await pidsWith("987653")) Deno.kill(pid, "SIGKILL");
    await Deno.remove(root, { recursive: true });
  }
});

Deno.test(`sandbox init (${MODE}): killed at any instant of its start, it leaves no init behind`, async () => {
  const dir = await Deno.makeTempDir();
  const init = await sandboxInitBinary({ dir: `${dir}/bin` });
  try {
    if (init === undefined) throw new Error("no C compiler here: the compiled setup is not built");
    // The init blocks opening a FIFO for its fstab: it stays until something kills it.
    const fifo = `${dir}/fstab`;
    assertEquals((await new Deno.Command("mkfifo", { args: [fifo] }).output()).code, 0);
    const marker = `${dir}/job-marker`;
    const args = [
      ...(Deno.uid() === 0 ? [] : ["--user"]),
      "--net",
      `--parent=${Deno.pid}`,
      ...[fifo, dir, marker, "-", "-", "-", "-", "-", "1024", "nobody", "-", "--", "/bin/true"],
    ];
    for (let i = 0; i < 200; i++) {
      const child = new Deno.Command(init, {
        args,
        env: { TURNPIKE_RACE_MARKER: marker },
        stdout: "null",
        stderr: "null",
      }).spawn();
      // Each kill lands somewhere in the first 1.5 ms: before, during or after the fork.
      const until = performance.now() + (i % 16) * 0.1;
      while (performance.now() < until) { /* spin */ }
      child.kill("SIGKILL");
      await child.status;
    }
    // The init wipes its arguments (hide_arguments): found by its environment instead.
    const left = () => pidsWith(`TURNPIKE_RACE_MARKER=${marker}`, "environ");
    await waitUntil(async () => (await left()).length === 0, 10_000, "every init to die");
  } finally {
    const left = await pidsWith(`TURNPIKE_RACE_MARKER=${dir}/job-marker`, "environ");
    for (const pid of left) Deno.kill(pid, "SIGKILL");
    await Deno.remove(dir, { recursive: true });
  }
});

/** The pids of processes with `item` among their arguments (or environment). */
async function pidsWith(item: string, file = "cmdline"): Promise<number[]> {
  const pids: number[] = [];
  for await (const e of Deno.readDir("/proc")) {
    if (!/^\d+$/.test(e.name) || Number(e.name) === Deno.pid) continue;
    const text = await Deno.readTextFile(`/proc/${e.name}/${file}`).catch(() => "");
    if (text.split("\0").includes(item)) pids.push(Number(e.name));
  }
  return pids;
}

/**
 * A root-mode job's gateway plan in `dir` (a real socket listening there while it is made), with
 * the compiled setup `compiled` or without one.
 */
function gatewayPlanOn(dir: string, compiled?: string): SandboxGatewayPlan {
  const listening = Deno.listen({ transport: "unix", path: `${dir}/real.sock` });
  try {
    return sandboxGatewayPlan({ socketPath: `${dir}/real.sock`, port: 8417 }, {
      hostDir: dir,
      dropTo: "nobody",
      network: false,
      ...(compiled === undefined ? {} : { compiled }),
    });
  } finally {
    listening.close();
  }
}

Deno.test("sandbox init: --close-gateway posts the close to the gateway's socket and exits 0 once the socket refuses; a copy in the gateway's skeleton is what the job runs", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const init = await sandboxInitBinary({ dir: `${dir}/init` });
    assert(init, "no C compiler here: the compiled setup is not built");
    const socketPath = `${dir}/gateway.sock`;
    const seen: string[] = [];
    const server = Deno.serve({ path: socketPath, onListen() {} }, (req) => {
      seen.push(`${req.method} ${new URL(req.url).pathname} ${req.headers.get("host")}`);
      // As the gateway: the answer, then it stops listening.
      setTimeout(() => void server.shutdown(), 0);
      return Response.json({ closed: true });
    });
    const closed = await new Deno.Command(init, { args: ["--close-gateway", socketPath] }).output();
    await server.finished;
    assertEquals(closed.code, 0);
    assert(seen.length >= 1, "the gateway was never asked to close");
    for (const asked of seen) assertEquals(asked, "POST /turnpike/agent-over 127.0.0.1");
    // No socket at all: nothing to close.
    const none = await new Deno.Command(init, { args: ["--close-gateway", `${dir}/none.sock`] })
      .output();
    assertEquals(none.code, 0);
    // The plan runs a copy any job user may execute, from the gateway's skeleton dir.
    const plan = gatewayPlanOn(dir, init);
    const [program, flag, socket] = plan.env.TURNPIKE_MODEL_GATEWAY_CLOSE.split(" ").slice(-3);
    assertEquals([flag, socket], ["--close-gateway", "/opt/turnpike/gateway/gateway.sock"]);
    const copy = `${dir}/gateway/${program.slice(program.lastIndexOf("/") + 1)}`;
    assertEquals((await Deno.stat(copy)).mode! & 0o777, 0o755);
    assertEquals(await Deno.readFile(copy), await Deno.readFile(init));
    const fallback = gatewayPlanOn(dir);
    assertMatch(fallback.env.TURNPIKE_MODEL_GATEWAY_CLOSE, /forwarder\.js close /);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("sandbox init: --relay-gateway says ready, then relays each connection to the gateway's socket both ways, a streamed answer and a large body whole; the plan starts it as the job's relay", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const init = await sandboxInitBinary({ dir: `${dir}/init` });
    assert(init, "no C compiler here: the compiled setup is not built");
    const socketPath = `${dir}/gateway.sock`;
    const server = Deno.serve({ path: socketPath, onListen() {} }, async (req) => {
      const body = new Uint8Array(await req.arrayBuffer());
      let sum = 0;
      for (const b of body) sum = (sum + b) % 65521;
      if (new URL(req.url).pathname === "/stream") {
        // An answer in pieces, as a model API streams: each arrives through the relay.
        const pieces = ["event: a\n\n", "event: b\n\n", `event: end ${body.length}\n\n`];
        return new Response(ReadableStream.from(pieces).pipeThrough(new TextEncoderStream()));
      }
      return Response.json({ method: req.method, length: body.length, sum });
    });
    const port = 20_000 + Math.floor(Math.random() * 20_000);
    const relay = new Deno.Command(init, {
      args: ["--relay-gateway", String(port), socketPath],
      stdout: "piped",
      stderr: "piped",
    }).spawn();
    try {
      const lines = relay.stdout.pipeThrough(new TextDecoderStream()).getReader();
      assertEquals((await lines.read()).value, "ready\n");
      const body = crypto.getRandomValues(new Uint8Array(65536));
      const large = new Uint8Array(3 * 1024 * 1024).map((_, i) => body[i % body.length]);
      let sum = 0;
      for (const b of large) sum = (sum + b) % 65521;
      const answers = await Promise.all(
        [1, 2, 3].map(() =>
          fetch(`http://127.0.0.1:${port}/calls`, { method: "POST", body: large })
            .then((r) => r.json())
        ),
      );
      for (const a of answers) assertEquals(a, { method: "POST", length: large.length, sum });
      const streamed = await fetch(`http://127.0.0.1:${port}/stream`, {
        method: "POST",
        body: "x",
      });
      assertEquals(await streamed.text(), "event: a\n\nevent: b\n\nevent: end 1\n\n");
      // A gateway gone: the connection ends, the relay stays for the next one.
      await server.shutdown();
      const refused = await fetch(`http://127.0.0.1:${port}/calls`).then(
        (r) => r.body?.cancel().then(() => `status ${r.status}`),
        (err: Error) => err.name,
      );
      assertEquals(refused, "TypeError");
      lines.releaseLock();
    } finally {
      relay.kill("SIGKILL");
      await relay.status;
      await relay.stdout.cancel().catch(() => {});
      await relay.stderr.cancel();
    }
    const bad = await new Deno.Command(init, { args: ["--relay-gateway", "0", socketPath] })
      .output();
    assertEquals(bad.code, 125);
    assertMatch(new TextDecoder().decode(bad.stderr), /usage: sandbox-init --relay-gateway/);
    // The plan starts the copy in the gateway's skeleton as the relay, the forwarder not bound:
    // the compiled setup's own step, no shell, the relay's copy started by the setup itself.
    const plan = gatewayPlanOn(dir, init);
    assertMatch(
      plan.setup,
      /^relay 8417 \/opt\/turnpike\/gateway\/gateway-[0-9a-f]+ \/opt\/turnpike\/gateway\/gateway\.sock$/,
    );
    assert(!plan.setup.includes("forwarder.js"), plan.setup);
    assertEquals(plan.binds.map((b) => b.target), [
      "/opt/turnpike/gateway",
      "/opt/turnpike/gateway/gateway.sock",
    ]);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
