import { assert, assertEquals, assertStringIncludes } from "../../../../harness/assert.ts";
import {
  parseSkillManifest,
  type SkillManifest,
} from "../../../../roles/provider/skills/skill_manifest.ts";
import type {
  SkillOutcome,
  SkillSandboxOptions,
} from "../../../../roles/provider/sandbox/skill_sandbox.ts";
import type { SandboxMode } from "../../../../roles/provider/sandbox/sandbox_probe.ts";
import {
  SANDBOX_DENO_BIN_DIR,
  SANDBOX_DENO_DIR,
} from "../../../../roles/provider/sandbox/sandbox_mounts.ts";
import { encodeEventToon } from "../../../../protocol/toon_codec.ts";
import { SANDBOX_SETUP_ENV } from "../../../../roles/provider/sandbox/sandbox_init.ts";
import { denoTestAsNobody } from "../../../support/unprivileged_run.ts";
import { closeTestSandboxes, POOLED, testSandbox } from "../../../support/pooled_sandbox.ts";

// This file runs in the mode its user gets: root in-process when the suite runs as root, and
// then once more as nobody (rootless) through the last test; rootless when not root.
const MODE: SandboxMode = Deno.uid() === 0 ? "root" : "rootless";

const JOB_TOON = await Deno.readTextFile("fixtures/events/valid/job-5000-0.toon");
const text = (o: SkillOutcome) => new TextDecoder().decode(o.stdout);

interface World {
  root: string;
  state: string;
  key: string;
  options: SkillSandboxOptions;
  skill(name: string, script: string, meta?: string): Promise<[string, SkillManifest]>;
}

/** A temp provider: a state dir with a key inside, a key file outside it, and shell skills. */
async function withWorld(fn: (w: World) => Promise<void>): Promise<void> {
  const root = await Deno.makeTempDir();
  const state = `${root}/state`;
  await Deno.mkdir(state);
  await Deno.writeTextFile(`${state}/identity.key`, "SECRET-IN-STATE", { mode: 0o600 });
  const key = `${root}/outside.key`;
  await Deno.writeTextFile(key, "SECRET-OUTSIDE", { mode: 0o644 });
  const world: World = {
    root,
    state,
    key,
    options: { jobsRoot: `${state}/jobs`, hiddenPaths: [state, key], mode: MODE },
    async skill(name, script, meta = "") {
      const dir = `${root}/skills/${name}`;
      await Deno.mkdir(dir, { recursive: true, mode: 0o755 });
      await Deno.chmod(dir, 0o755);
      const md = `---\nname: ${name}\ndescription: t\nmetadata:\n  kinds: [5000]\n${meta}---\n`;
      await Deno.writeTextFile(`${dir}/SKILL.md`, md);
      await Deno.writeTextFile(`${dir}/run`, script, { mode: 0o755 });
      return [dir, parseSkillManifest(md)];
    },
  };
  try {
    await fn(world);
  } finally {
    await closeTestSandboxes();
    await Deno.remove(root, { recursive: true });
  }
}

function ciJob(project: string, cmd: string): Promise<string> {
  return new Deno.Command("sh", {
    args: ["-c", 'tar -czf - -C "$1" . | base64 -w0', "sh", project],
    stdout: "piped",
  }).output().then(({ stdout }) =>
    encodeEventToon({
      id: "0".repeat(64),
      pubkey: "1".repeat(64),
      created_at: 1700000000,
      kind: 5600,
      tags: [["i", new TextDecoder().decode(stdout), "text"], ["param", "cmd", cmd]],
      content: "",
      sig: "2".repeat(128),
    })
  );
}

/** Whether a file stops growing: the job's background ticker is dead. */
async function tickerStopped(file: string): Promise<boolean> {
  const size = async () => (await Deno.stat(file).catch(() => ({ size: -1 }))).size;
  const before = await size();
  await new Promise((r) => setTimeout(r, 300));
  return (await size()) === before;
}

const TICKER = "#!/bin/sh\n(while :; do echo t >> $HOME/tick; sleep 0.02; done) &\nsleep 1000\n";

Deno.test(`skill sandbox (${MODE}): echo round trip, fresh work dir, cleared environment`, async () => {
  await withWorld(async (w) => {
    const sandbox = await testSandbox(w.options);
    assertEquals(sandbox.mode, MODE);
    const manifest = parseSkillManifest(await Deno.readTextFile("skills/echo/SKILL.md"));
    const o = await sandbox.run({
      jobId: "echo-1",
      skillDir: "skills/echo",
      manifest,
      input: JOB_TOON,
    });
    assertEquals([o.status, o.exitCode, text(o)], ["ok", 0, "input text 0"]);
    assertEquals(o.workDir, `${w.state}/jobs/echo-1`);
    const [dir, m] = await w.skill("env", "#!/bin/sh\nenv | sort\npwd\nid -u\n");
    const e = await sandbox.run({ jobId: "env-1", skillDir: dir, manifest: m, input: "" });
    const lines = text(e).trim().split("\n");
    assertEquals(lines, [
      "HOME=/tmp/job",
      "LANG=C.UTF-8",
      `PATH=${SANDBOX_DENO_BIN_DIR}:/usr/local/bin:/usr/bin:/bin`,
      "PWD=/tmp/job",
      "TMPDIR=/tmp/job",
      "TURNPIKE_INPUTS=/tmp/job/inputs",
      "TURNPIKE_OUTPUTS=/tmp/job/out",
      "TURNPIKE_TOON_MODULE=/opt/turnpike/deno/toon.mjs",
      "/tmp/job",
      "65534",
    ]);
    const bad = await sandbox.run({
      jobId: "echo-2",
      skillDir: "skills/echo",
      manifest,
      input: "x",
    });
    assertEquals(bad.status, "bad-input");
    assertStringIncludes(bad.stderrTail, "no tags");
  });
});

Deno.test(`skill sandbox (${MODE}): ci-run tells the passing project from the failing one`, async () => {
  await withWorld(async (w) => {
    const sandbox = await testSandbox(w.options);
    const manifest = parseSkillManifest(await Deno.readTextFile("skills/ci-run/SKILL.md"));
    const results = [];
    for (const project of ["passing", "failing"]) {
      const input = await ciJob(`fixtures/projects/${project}`, "sh test.sh");
      const o = await sandbox.run({
        jobId: `ci-${project}`,
        skillDir: "skills/ci-run",
        manifest,
        input,
      });
      assertEquals(o.status, "ok", o.stderrTail);
      results.push(JSON.parse(text(o)));
    }
    const [pass, fail] = results;
    assertEquals([pass.status, pass.exitCode, pass.summary.passed, pass.summary.failed], [
      "passed",
      0,
      3,
      0,
    ]);
    assertEquals([fail.status, fail.exitCode, fail.summary.passed, fail.summary.failed], [
      "failed",
      1,
      1,
      2,
    ]);
    assertEquals(fail.logTailEncoding, "utf8");
    assertStringIncludes(fail.logTail, "not ok - add 2 3 (expected 5, got 6)");
    const noCmd = await sandbox.run({
      jobId: "ci-bad",
      skillDir: "skills/ci-run",
      manifest,
      input: await ciJob("fixtures/projects/passing", " "),
    });
    assertEquals(noCmd.status, "bad-input");
  });
});

Deno.test(`skill sandbox (${MODE}): a timeout kills the job's whole process tree`, async () => {
  await withWorld(async (w) => {
    const sandbox = await testSandbox(w.options);
    const [dir, manifest] = await w.skill("ticker", TICKER, "  timeout: 0.5\n");
    const o = await sandbox.run({ jobId: "t1", skillDir: dir, manifest, input: "" });
    assertEquals([o.status, o.reason], ["timeout", "timeout after 500 ms"]);
    assert((await Deno.stat(`${o.workDir}/tick`)).size > 0, "the ticker ran");
    assert(await tickerStopped(`${o.workDir}/tick`), "background child still running");
  });
});

Deno.test(`skill sandbox (${MODE}): cancel (AbortSignal) kills the job's whole process tree`, async () => {
  await withWorld(async (w) => {
    const sandbox = await testSandbox(w.options);
    const [dir, manifest] = await w.skill("ticker", TICKER);
    const abort = new AbortController();
    const tick = `${w.state}/jobs/c1/tick`;
    const running = sandbox.run({
      jobId: "c1",
      skillDir: dir,
      manifest,
      input: "",
      signal: abort.signal,
    });
    while ((await Deno.stat(tick).catch(() => null)) === null) {
      await new Promise((r) => setTimeout(r, 20));
    }
    abort.abort();
    const o = await running;
    assertEquals(o.status, "cancelled");
    assert(await tickerStopped(tick), "background child still running");
  });
});

Deno.test(`skill sandbox (${MODE}): reading the state dir or the key is denied, and said so`, async () => {
  await withWorld(async (w) => {
    const sandbox = await testSandbox(w.options);
    const targets = [`${w.state}/identity.key`, w.key, `${w.state}/jobs`];
    for (const [i, target] of targets.entries()) {
      const [dir, manifest] = await w.skill(
        `reader${i}`,
        `#!/bin/sh\ncat "${target}" || ls "${target}"\n`,
      );
      const o = await sandbox.run({ jobId: `r${i}`, skillDir: dir, manifest, input: "" });
      assertEquals(o.status, "denied", `${target}: ${o.stderrTail}`);
      assertStringIncludes(o.reason, "read denied");
      assertStringIncludes(o.reason, target);
      assert(!text(o).includes("SECRET"));
    }
    // The skill cannot undo the hiding: it is nobody, without capabilities.
    const [dir, manifest] = await w.skill(
      "unmounter",
      `#!/bin/sh\numount "${w.state}" && cat "${w.state}/identity.key"\n`,
    );
    const o = await sandbox.run({ jobId: "u1", skillDir: dir, manifest, input: "" });
    assert(o.status !== "ok" && !text(o).includes("SECRET"), o.stderrTail);
  });
});

Deno.test(`skill sandbox (${MODE}): network is denied unless the manifest asks and the operator allows`, async () => {
  await withWorld(async (w) => {
    const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
    const port = listener.addr.port;
    let accepted = 0;
    const accepting = (async () => {
      for await (const conn of listener) {
        accepted++;
        conn.close();
      }
    })();
    try {
      const sandbox = await testSandbox(w.options);
      const script =
        `#!/bin/sh\nexec deno eval --quiet "(await Deno.connect({hostname:'127.0.0.1',port:${port}})).close(); console.log('connected')"\n`;
      const [dir, manifest] = await w.skill("netter", script);
      const o = await sandbox.run({ jobId: "n1", skillDir: dir, manifest, input: "" });
      assertEquals(o.status, "denied", o.stderrTail);
      assertStringIncludes(o.reason, "network denied");
      const [dir2, asking] = await w.skill("asker", script, "  permissions:\n    network: true\n");
      const refused = await sandbox.run({
        jobId: "n2",
        skillDir: dir2,
        manifest: asking,
        input: "",
      });
      assertEquals(refused.status, "denied");
      assertStringIncludes(refused.reason, "the operator does not allow it");
      assertEquals(accepted, 0);
      const allowing = await testSandbox({ ...w.options, allowNetwork: ["asker"] });
      const ok = await allowing.run({ jobId: "n3", skillDir: dir2, manifest: asking, input: "" });
      assertEquals([ok.status, text(ok)], ["ok", "connected\n"], ok.stderrTail);
    } finally {
      listener.close();
      await accepting.catch(() => {});
    }
  });
});

Deno.test(`skill sandbox (${MODE}): stdout and stderr caps hold`, async () => {
  await withWorld(async (w) => {
    const sandbox = await testSandbox({
      ...w.options,
      maxStdoutBytes: 1000,
      maxStderrBytes: 500,
    });
    const [dir, manifest] = await w.skill(
      "flood",
      "#!/bin/sh\nhead -c 5000000 /dev/zero\nsleep 1000\n",
    );
    const o = await sandbox.run({ jobId: "f1", skillDir: dir, manifest, input: "" });
    assertEquals([o.status, o.stdout.length], ["output-too-large", 1000]);
    const [dir2, m2] = await w.skill(
      "noisy",
      "#!/bin/sh\nyes x | head -c 100000 >&2\necho END >&2\necho done\n",
    );
    const n = await sandbox.run({ jobId: "f2", skillDir: dir2, manifest: m2, input: "" });
    assertEquals([n.status, text(n), n.stderrTail.length, n.stderrTruncated], [
      "ok",
      "done\n",
      500,
      true,
    ]);
    assert(n.stderrTail.endsWith("x\nx\nEND\n"), n.stderrTail.slice(-20));
  });
});

Deno.test(`skill sandbox (${MODE}): the memory limit kills a job that exceeds it`, async () => {
  await withWorld(async (w) => {
    const sandbox = await testSandbox(w.options);
    // Root: a cgroup v1 memory group (this machine kind has one); rootless: sampled.
    assertEquals(sandbox.limits.memory, MODE === "root" ? "cgroup" : "sampled");
    const script =
      '#!/bin/sh\nexec deno eval --quiet "const a = []; for (let i = 0; i < 40; i++) ' +
      "a.push(new Uint8Array(10_000_000).fill(1)); console.log('survived')\"\n";
    const [dir, manifest] = await w.skill("hog", script, "  memory: 96\n");
    const o = await sandbox.run({ jobId: "m1", skillDir: dir, manifest, input: "" });
    assertEquals(o.status, "memory-limit", o.stderrTail);
    assertEquals(text(o), "");
  });
});

Deno.test(`skill sandbox (${MODE}): files in /tmp, /var/tmp and /dev/shm count in the memory limit`, async () => {
  await withWorld(async (w) => {
    const sandbox = await testSandbox(w.options);
    // 3 x 48 MB in the private tmpfs mounts, in 1 MB writes (the process itself stays small),
    // then held: rootless, those pages are in no process's RSS and no cgroup.
    const script = '#!/bin/sh\nexec deno eval --quiet "' +
      "const chunk = new Uint8Array(1 << 20).fill(1); " +
      "for (const d of ['/tmp', '/var/tmp', '/dev/shm']) { " +
      "const f = Deno.openSync(d + '/fill', { write: true, create: true }); " +
      "for (let i = 0; i < 48; i++) f.writeSync(chunk); f.close(); } " +
      "await new Promise((r) => setTimeout(r, 30000)); console.log('survived')\"\n";
    // Held for 30 s: the sampler kills it within a sample or two (50 ms each) on a quiet
    // machine; the margin is for a provider whose event loop is stalled by a loaded machine.
    const [dir, manifest] = await w.skill("tmpfs-hog", script, "  memory: 96\n  timeout: 60\n");
    const o = await sandbox.run({ jobId: "t1", skillDir: dir, manifest, input: "" });
    assertEquals(o.status, "memory-limit", `${o.status} ${o.reason} ${o.stderrTail}`);
    assertEquals(text(o), "");
  });
});

Deno.test(`skill sandbox (${MODE}): a tmpfs file unlinked but held open counts in the memory limit`, async () => {
  await withWorld(async (w) => {
    const sandbox = await testSandbox(w.options);
    // 120 MiB into /tmp under a 64 MiB limit, through a descriptor whose file is already gone:
    // no file is left to find in /tmp, but the tmpfs still holds every page.
    const [dir, manifest] = await w.skill(
      "unlinked-hog",
      "#!/bin/bash\nexec 3>/tmp/held; rm /tmp/held\nhead -c 125829120 /dev/zero >&3\n" +
        'echo "wrote $?"; sleep 30; echo survived\n',
      // 30 s held, not 3: a CI run on a loaded machine once stalled the sampler past 3 s (the
      // job was killed for memory, after it had printed survived).
      "  memory: 64\n  timeout: 60\n",
    );
    const o = await sandbox.run({ jobId: "u1", skillDir: dir, manifest, input: "" });
    assertEquals(o.status, "memory-limit", `${o.status} ${o.reason} ${text(o)} ${o.stderrTail}`);
    // Rootless the whole job is killed; as root the kernel OOM-kills one of its processes.
    if (MODE === "rootless") assertEquals(text(o).includes("survived"), false, text(o));
  });
});

Deno.test(`skill sandbox (${MODE}): a tmpfs of the job's own, in a nested user and mount namespace, does not escape the memory limit`, async () => {
  await withWorld(async (w) => {
    const sandbox = await testSandbox(w.options);
    // Rootless, the job may not make a user namespace of its own (it could mount anything in
    // it): unshare fails. As root it may, and the memory cgroup charges that tmpfs's pages.
    const [dir, manifest] = await w.skill(
      "nested-hog",
      "#!/bin/bash\nmkdir -p m\nunshare -Urm bash -c 'mount -t tmpfs -o size=1g none m && " +
        "head -c 125829120 /dev/zero > m/fill && echo filled && sleep 3 && echo survived'\n",
      "  memory: 64\n  timeout: 30\n",
    );
    const o = await sandbox.run({ jobId: "n1", skillDir: dir, manifest, input: "" });
    const why = `${o.status} ${o.reason} ${text(o)} ${o.stderrTail}`;
    assertEquals(text(o).includes("filled"), false, why);
    if (MODE === "root") assertEquals(o.status, "memory-limit", why);
    else {
      assertEquals(o.status, "failed", why);
      assertStringIncludes(o.stderrTail, "unshare failed", why);
    }
  });
});

Deno.test(`skill sandbox (${MODE}): private tmp dirs, read-only skill dir, no capabilities, in the memory cgroup`, async () => {
  await withWorld(async (w) => {
    // A hidden dir whose name needs fstab escaping (space, backslash) stays hidden.
    const odd = `${w.root}/odd dir\\x`;
    await Deno.mkdir(odd);
    await Deno.writeTextFile(`${odd}/secret`, "SECRET-ODD", { mode: 0o644 });
    const sandbox = await testSandbox({
      ...w.options,
      hiddenPaths: [...w.options.hiddenPaths, odd],
    });
    const hostTmp = await Deno.makeTempFile({ dir: "/tmp", prefix: "tp-host-" });
    await Deno.chmod(hostTmp, 0o644);
    try {
      const [dir, manifest] = await w.skill(
        "prober",
        `#!/bin/sh
ls -A /var/tmp /dev/shm | tr '\\n' ' '; echo
test -e "${hostTmp}" && echo "host tmp visible"
cat "${odd}/secret" 2>/dev/null && echo "odd visible"
touch "$(dirname "$0")/written" 2>/dev/null && echo "skill dir writable"
touch /tmp/job/mine && echo "work dir writable"
grep -E '^(CapInh|CapPrm|CapEff|CapBnd|CapAmb|NoNewPrivs)' /proc/self/status | tr -s '\\t' ' '
grep -o 'memory:/turnpike-pool-' /proc/self/cgroup
ls -A /run | wc -l
ls /proc | grep -c '^[0-9]'
`,
      );
      const o = await sandbox.run({ jobId: "p1", skillDir: dir, manifest, input: "" });
      assertEquals(o.status, "ok", o.stderrTail);
      assertEquals(
        text(o).split("\n"),
        [
          "/dev/shm:  /var/tmp: ",
          "work dir writable",
          "CapInh: 0000000000000000",
          "CapPrm: 0000000000000000",
          "CapEff: 0000000000000000",
          "CapBnd: 0000000000000000",
          "CapAmb: 0000000000000000",
          "NoNewPrivs: 1",
          ...(sandbox.limits.memory === "cgroup" ? ["memory:/turnpike-pool-"] : []),
          "0", // an empty private /run
          // The job's own PID namespace: its shell and ls, and grep when it has started by the
          // time ls reads /proc (on a busy machine it may not have: 2), the pipe's other end.
          ...[text(o).split("\n").at(-2)!].filter((n) => Number(n) >= 2 && Number(n) <= 5),
          "",
        ],
      );
    } finally {
      await Deno.remove(hostTmp);
    }
  });
});

Deno.test({
  name: `skill sandbox (${MODE}): a small job's cgroups are reused by the next job`,
  ignore: MODE !== "root",
  async fn() {
    await withWorld(async (w) => {
      const sandbox = await testSandbox(w.options);
      try {
        if (sandbox.limits.memory !== "cgroup") return; // no cgroup v1 memory controller here
        const [dir, manifest] = await w.skill(
          "where",
          "#!/bin/sh\ngrep -o 'memory:/turnpike-pool-.*' /proc/self/cgroup\n",
        );
        const run = (jobId: string) => sandbox.run({ jobId, skillDir: dir, manifest, input: "" });
        // A pair goes back to the pool only once its processes are gone and its charge is
        // small; on a busy machine the kernel can be slow to empty one, which is then removed
        // and the next job gets a new pair. So: of five jobs in a row, some ran in a group an
        // earlier one ran in.
        const groups: string[] = [];
        for (let i = 1; i <= 5; i++) {
          const o = await run(`w${i}`);
          assertEquals(o.status, "ok", o.stderrTail);
          assertStringIncludes(text(o), "memory:/turnpike-pool-");
          groups.push(text(o));
        }
        assert(new Set(groups).size < groups.length, `no group ran two jobs: ${groups.join("")}`);
      } finally {
        await sandbox.close?.();
      }
    });
  },
});

Deno.test(`skill sandbox (${MODE}): a project dir bound back under the private /tmp keeps the state dir and key hidden`, async () => {
  await withWorld(async (w) => {
    // The skill's project (nearest deno.json) is the world's root, under /tmp: it is bound back
    // for the skill, and it holds the state dir and the key file.
    await Deno.writeTextFile(`${w.root}/deno.json`, "{}\n");
    await Deno.chmod(w.root, 0o755); // a temp dir is 0700: nobody could not reach the skill
    const sandbox = await testSandbox(w.options);
    const [dir, manifest] = await w.skill(
      "insider",
      `#!/bin/sh\ntest -f "${w.root}/deno.json" && echo "project visible"\n` +
        `cat "${w.state}/identity.key" "${w.key}" 2>&1\nls -A "${w.state}"\n`,
    );
    const o = await sandbox.run({ jobId: "k1", skillDir: dir, manifest, input: "" });
    assertEquals([o.status, text(o)], [
      "denied",
      "project visible\n" +
      `cat: ${w.state}/identity.key: Permission denied\n` +
      `cat: ${w.key}: Permission denied\n`,
    ], o.stderrTail);
    assertStringIncludes(o.stderrTail, `ls: cannot open directory '${w.state}': Permission denied`);
  });
});

Deno.test(`skill sandbox (${MODE}): the Deno cache is filled by a warm-up on empty input, read-only for jobs`, async () => {
  await withWorld(async (w) => {
    const cacheDir = `${w.state}/skill-deno-cache`;
    const sandbox = await testSandbox({ ...w.options, denoCacheDir: cacheDir });
    const manifest = parseSkillManifest(await Deno.readTextFile("skills/echo/SKILL.md"));
    const warm = await sandbox.warmDenoCache!({ skillDir: "skills/echo", manifest });
    // The echo skill refuses empty input; its modules were loaded (and cached) all the same.
    assertEquals(warm?.status, "bad-input", warm?.stderrTail);
    const cached = [...Deno.readDirSync(cacheDir)].map((e) => e.name);
    assert(cached.length > 0, "the warm-up filled the cache");
    const o = await sandbox.run({
      jobId: "e1",
      skillDir: "skills/echo",
      manifest,
      input: JOB_TOON,
    });
    assertEquals([o.status, text(o)], ["ok", "input text 0"], o.stderrTail);
    // A job sees the cache as DENO_DIR and cannot change it.
    const [dir, m] = await w.skill(
      "poisoner",
      `#!/bin/sh\necho "$DENO_DIR"\ntouch "$DENO_DIR/poison" 2>&1 || echo refused\n`,
    );
    const p = await sandbox.run({ jobId: "p1", skillDir: dir, manifest: m, input: "" });
    assertEquals(
      text(p),
      `${SANDBOX_DENO_DIR}\ntouch: cannot touch '${SANDBOX_DENO_DIR}/poison': Read-only file system\nrefused\n`,
    );
    assertEquals([...Deno.readDirSync(cacheDir)].map((e) => e.name).sort(), cached.sort());
    // Only Deno scripts are warmed (a shell skill never runs on the provider's behalf).
    assertEquals(await sandbox.warmDenoCache!({ skillDir: dir, manifest: m }), undefined);
  });
});

Deno.test(`skill sandbox (${MODE}): nothing of the host but what it binds; no inherited descriptors; /run private`, async () => {
  await withWorld(async (w) => {
    const sandbox = await testSandbox(w.options);
    const [dir, manifest] = await w.skill(
      "looker",
      `#!/bin/sh
ls /
test -e /root && echo "root home visible"
test -e /home && echo "homes visible"
test -e "${w.state}" && echo "state dir visible"
ls /proc/self/fd | sort -n | tr '\\n' ' '; echo
touch /run/lock/x 2>/dev/null && echo "run/lock writable"
echo $$
`,
    );
    const o = await sandbox.run({ jobId: "l1", skillDir: dir, manifest, input: "" });
    assertEquals(o.status, "ok", o.stderrTail);
    const lines = text(o).trim().split("\n");
    // Only the skeleton's mount points (the skill's own dir sits under /tmp here).
    const top = lines.slice(0, lines.indexOf("0 1 2 3 ")).filter((l) =>
      !/^(lib32|libx32)$/.test(l)
    );
    assertEquals(top, [
      "bin",
      "dev",
      "etc",
      "lib",
      "lib64",
      "opt",
      "proc",
      "run",
      "sbin",
      "tmp",
      "usr",
      "var",
    ]);
    // ls itself holds fd 3 (the directory it reads); nothing above it was inherited. The skill
    // is PID 1 of its namespace, or 2 under the compiled setup's init (sandbox_init.c).
    const pid = sandbox.setup === "compiled" ? "2" : "1";
    assertEquals(lines.slice(lines.indexOf("0 1 2 3 ")), ["0 1 2 3 ", pid]);
  });
});

Deno.test(`skill sandbox (${MODE}): a fork bomb stops at the process limit`, async () => {
  await withWorld(async (w) => {
    const sandbox = await testSandbox({ ...w.options, maxProcesses: 24 });
    assertEquals(sandbox.limits.processes, MODE === "root" ? "cgroup" : "rlimit");
    const [dir, manifest] = await w.skill(
      "forker",
      // The shell dies at the limit (dash exits when fork fails); counting needs no fork.
      "#!/bin/sh\n(for i in $(seq 200); do sleep 5 & done) 2>/dev/null\n" +
        "set -- /proc/[0-9]*; echo $#\n",
      "  timeout: 20\n",
    );
    const o = await sandbox.run({ jobId: "b1", skillDir: dir, manifest, input: "" });
    const count = Number(text(o).trim());
    assert(
      count > 2 && count <= 24,
      `${count} processes: ${o.status} ${o.reason} ${o.stderrTail.slice(0, 300)}`,
    );
  });
});

Deno.test(`skill sandbox (${MODE}): a descriptor the provider inherited (--passphrase-fd) never reaches the job`, async () => {
  await withWorld(async (w) => {
    const secret = `${w.root}/passphrase`;
    await Deno.writeTextFile(secret, "SECRET-PASSPHRASE", { mode: 0o600 });
    // A provider started as `turnpike node up --passphrase-fd 10` by a shell: fd 10 is open in
    // its process without close-on-exec, so every child inherits it unless closed.
    const script = `
      import { createSkillSandbox } from "${new URL(
      "../../../../roles/provider/sandbox/skill_sandbox.ts",
      import.meta.url,
    )}";
      import { parseSkillManifest } from "${new URL(
      "../../../../roles/provider/skills/skill_manifest.ts",
      import.meta.url,
    )}";
      const [dir, jobs, mode] = Deno.args;
      const pooled = Deno.env.get("TURNPIKE_TEST_SANDBOX_POOL") === "1";
      const sandbox = await createSkillSandbox({
        jobsRoot: jobs, hiddenPaths: [], mode, ...(pooled ? { prepared: {} } : {}),
      });
      const manifest = parseSkillManifest(await Deno.readTextFile(dir + "/SKILL.md"));
      if (pooled && !await sandbox.prepare!({ skillDir: dir, manifest })) throw new Error("none prepared");
      const o = await sandbox.run({ jobId: "fd1", skillDir: dir, manifest, input: "" });
      const fd10 = Deno.readLinkSync("/proc/self/fd/10"); // throws if the test set-up failed
      console.log("provider fd 10: " + fd10.split("/").at(-1));
      console.log(new TextDecoder().decode(o.stdout) + o.stderrTail);
      if (pooled && !o.prepared) throw new Error("not run in the prepared sandbox");
      await sandbox.close!();
    `;
    await Deno.writeTextFile(`${w.root}/provider.ts`, script);
    const [dir] = await w.skill(
      "fdreader",
      "#!/bin/sh\nls /proc/self/fd | tr '\\n' ' '; echo\ncat /dev/fd/10 2>&1 || true\n",
    );
    const { stdout, stderr, code } = await new Deno.Command("bash", {
      args: [
        "-c",
        'exec 10<"$1"; exec "$2" run -A --config deno.json "$3" "$4" "$5" "$6"',
        "provider",
        secret,
        Deno.execPath(),
        `${w.root}/provider.ts`,
        dir,
        `${w.state}/jobs`,
        MODE,
      ],
      stdout: "piped",
      stderr: "piped",
    }).output();
    const out = new TextDecoder().decode(stdout);
    assertEquals(code, 0, out + new TextDecoder().decode(stderr));
    assert(!out.includes("SECRET"), out);
    assertStringIncludes(out, "0 1 2 3 \n");
    assertStringIncludes(out, "provider fd 10: passphrase\n");
    assertStringIncludes(out, "cat: /dev/fd/10: No such file or directory");
  });
});

Deno.test(`skill sandbox (${MODE}): input files arrive read-only in inputs/, out/ is the skill's`, async () => {
  await withWorld(async (w) => {
    const sandbox = await testSandbox(w.options);
    const cached = `${w.state}/blob-cache-file`;
    await Deno.writeTextFile(cached, "CONTEXT", { mode: 0o600 });
    const [dir, manifest] = await w.skill(
      "filer",
      `#!/bin/sh
cat "$TURNPIKE_INPUTS/ctx"; echo
echo x >> "$TURNPIKE_INPUTS/ctx" 2>/dev/null && echo "input writable"
echo report > "$TURNPIKE_OUTPUTS/report.txt" && echo "out writable"
`,
    );
    const o = await sandbox.run({
      jobId: "in1",
      skillDir: dir,
      manifest,
      input: "",
      files: [{ path: cached, name: "ctx" }],
    });
    assertEquals([o.status, text(o)], ["ok", "CONTEXT\nout writable\n"], o.stderrTail);
    assertEquals(await Deno.readTextFile(`${o.workDir}/out/report.txt`), "report\n");
    assertEquals(await Deno.readTextFile(cached), "CONTEXT");
  });
});

Deno.test(`skill sandbox (${MODE}): the work dir holds at most the manifest's disk`, async () => {
  await withWorld(async (w) => {
    const sandbox = await testSandbox(w.options);
    // One file past the limit: the kernel stops it (RLIMIT_FSIZE).
    const [dir, manifest] = await w.skill(
      "bigfile",
      "#!/bin/sh\nhead -c 5000000 /dev/zero > big\necho wrote\n",
      "  disk: 1\n",
    );
    const o = await sandbox.run({ jobId: "d1", skillDir: dir, manifest, input: "" });
    assertEquals(o.status, "disk-limit", `${o.status} ${o.reason} ${o.stderrTail}`);
    // Many files each under the limit, together over it: the sum is measured and the job killed.
    const [dir2, m2] = await w.skill(
      "manyfiles",
      "#!/bin/sh\nfor i in 1 2 3 4; do head -c 600000 /dev/zero > f$i; done\nsleep 30\n",
      "  disk: 1\n  timeout: 20\n",
    );
    const o2 = await sandbox.run({ jobId: "d2", skillDir: dir2, manifest: m2, input: "" });
    assertEquals(o2.status, "disk-limit", `${o2.status} ${o2.reason}`);
  });
});

if (Deno.uid() === 0) {
  Deno.test("skill sandbox: the whole suite again as an unprivileged user (rootless mode)", async () => {
    // The pool and the setup (sandbox_init_test.ts runs this file through the shell setup) kept.
    const setup = Deno.env.get(SANDBOX_SETUP_ENV);
    const run = await denoTestAsNobody("tests/unit/roles/provider/skill_sandbox_test.ts", {
      ...(POOLED ? { TURNPIKE_TEST_SANDBOX_POOL: "1" } : {}),
      ...(setup === undefined ? {} : { [SANDBOX_SETUP_ENV]: setup }),
    });
    assertEquals([run.code, run.failed], [0, 0], run.output.slice(-4000));
    // Every test above, in rootless mode, as uid 65534 (this one is not registered there).
    assertStringIncludes(run.output, "skill sandbox (rootless): echo round trip");
    assert(run.passed >= 13, run.output.slice(-2000));
  });
}
