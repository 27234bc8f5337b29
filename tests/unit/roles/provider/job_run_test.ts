/**
 * One paid job's run (`roles/provider/jobs/job_run.ts`) through the real skill sandbox, in the mode
 * this user gets (root, or rootless in a user namespace), with no town and no network: outputs
 * kept, failures with their stderr, cancellation, an unreadable request, an unreachable blob
 * input, and a skill with no runner.
 */
import { assert, assertEquals, assertStringIncludes } from "../../../../harness/assert.ts";
import { type JobRunOptions, runJob } from "../../../../roles/provider/jobs/job_run.ts";
import type { SkillSandbox } from "../../../../roles/provider/sandbox/skill_sandbox.ts";
import { closeTestSandboxes, testSandbox } from "../../../support/pooled_sandbox.ts";
import { parseSkillManifest } from "../../../../roles/provider/skills/skill_manifest.ts";
import type { SkillEntry } from "../../../../roles/provider/skills/skill_catalog.ts";
import { encodeEventToon } from "../../../../protocol/toon_codec.ts";
import { blobInputTags } from "../../../../protocol/job_blobs.ts";
import { createHash } from "node:crypto";

const request = (tags: string[][] = []) =>
  encodeEventToon({
    id: "0".repeat(64),
    pubkey: "1".repeat(64),
    created_at: 1700000000,
    kind: 5000,
    tags: [["i", "hello", "text"], ...tags],
    content: "",
    sig: "2".repeat(128),
  });

interface World {
  root: string;
  sandbox: SkillSandbox;
  removed: Promise<void>[];
  skill(name: string, script: string): Promise<SkillEntry>;
  options(skill: SkillEntry, extra?: Partial<JobRunOptions>): JobRunOptions;
}

async function withWorld(fn: (w: World) => Promise<void>): Promise<void> {
  const root = await Deno.makeTempDir();
  await Deno.chmod(root, 0o755);
  const sandbox = await testSandbox({
    jobsRoot: `${root}/state/work`,
    hiddenPaths: [`${root}/state`],
  });
  const removed: Promise<void>[] = [];
  const world: World = {
    root,
    sandbox,
    removed,
    async skill(name, script) {
      const dir = `${root}/skills/${name}`;
      await Deno.mkdir(dir, { recursive: true, mode: 0o755 });
      await Deno.chmod(`${root}/skills`, 0o755);
      await Deno.chmod(dir, 0o755);
      const md = `---\nname: ${name}\ndescription: t\nmetadata:\n  kinds: [5000]\n---\n`;
      await Deno.writeTextFile(`${dir}/SKILL.md`, md);
      await Deno.writeTextFile(`${dir}/run`, script, { mode: 0o755 });
      return { dir, manifest: parseSkillManifest(md) };
    },
    options: (skill, extra = {}) => ({
      jobId: `job-${crypto.randomUUID().slice(0, 8)}`,
      skill,
      runner: sandbox,
      input: () => Promise.resolve(request()),
      encrypted: false,
      signal: new AbortController().signal,
      maxInputBytes: 1024 * 1024,
      blobCacheDir: `${root}/state/blob-cache`,
      resultsDir: `${root}/state/results/job`,
      removeLater: (dir) => void removed.push(Deno.remove(dir, { recursive: true })),
      ...extra,
    }),
  };
  try {
    await fn(world);
  } finally {
    await closeTestSandboxes();
    await Promise.allSettled(removed);
    await Deno.remove(root, { recursive: true });
  }
}

Deno.test("job run: stdout is the result, out/ files are kept, the work dir goes", async () => {
  await withWorld(async (w) => {
    const skill = await w.skill(
      "report",
      "#!/bin/sh\ncat > /dev/null\necho built > out/report.txt\nprintf done\n",
    );
    let started = 0;
    let ended = 0;
    const options = w.options(skill, { onStarted: () => (started++, () => void ended++) });
    const outcome = await runJob(options);
    assertEquals(outcome, {
      status: "computed",
      result: "done",
      files: ["report.txt"],
      skipped: [],
    });
    assertEquals(await Deno.readTextFile(`${w.root}/state/results/job/report.txt`), "built\n");
    assertEquals([started, ended], [1, 1]);
    await Promise.all(w.removed);
    const workDir = `${w.root}/state/work/${options.jobId}`;
    assert(await Deno.stat(workDir).then(() => false, () => true), `${workDir} is gone`);
  });
});

Deno.test("job run: a failing skill's exit and stderr are the reason", async () => {
  await withWorld(async (w) => {
    const skill = await w.skill("broken", "#!/bin/sh\necho 'boom: no such target' >&2\nexit 3\n");
    const outcome = await runJob(w.options(skill));
    assertEquals(outcome.status, "failed");
    if (outcome.status !== "failed") return;
    assertStringIncludes(outcome.reason, "exit 3");
    assertStringIncludes(outcome.reason, "stderr: boom: no such target");
  });
});

Deno.test("job run: aborting the signal mid-run (kind 5) ends it cancelled", async () => {
  await withWorld(async (w) => {
    const skill = await w.skill("slow", "#!/bin/sh\nsleep 30\n");
    const abort = new AbortController();
    const outcome = runJob(w.options(skill, {
      signal: abort.signal,
      onStarted: () => {
        setTimeout(() => abort.abort(new Error("cancelled by the requester")), 200);
        return () => {};
      },
    }));
    assertEquals(await outcome, { status: "cancelled" });
  });
});

Deno.test("job run: a request that cannot be read fails before anything runs", async () => {
  await withWorld(async (w) => {
    const skill = await w.skill("never", "#!/bin/sh\ntouch $HOME/ran\n");
    const outcome = await runJob(w.options(skill, {
      input: () => Promise.reject(new Error("invalid NIP-44 payload")),
    }));
    assertEquals(outcome, {
      status: "failed",
      reason: "cannot read the request: invalid NIP-44 payload",
      code: "bad-input",
    });
    assertEquals(w.removed.length, 0, "no work dir was made");
  });
});

Deno.test("job run: a blob input that cannot be reached fails the job, unrun", async () => {
  await withWorld(async (w) => {
    const skill = await w.skill("never", "#!/bin/sh\nexit 0\n");
    const sha256 = "ab".repeat(32);
    const tags = blobInputTags({ url: `http://127.0.0.1:9/${sha256}`, sha256 });
    const outcome = await runJob(w.options(skill, { input: () => Promise.resolve(request(tags)) }));
    assertEquals(outcome.status, "failed");
    if (outcome.status === "failed") assertStringIncludes(outcome.reason, "cannot be reached");
    assertEquals(w.removed.length, 0);
  });
});

Deno.test("job run: a blob input the provider's own cache cannot store is the provider's failure (sandbox-error), not the requester's", async () => {
  await withWorld(async (w) => {
    const skill = await w.skill("never", "#!/bin/sh\nexit 0\n");
    const body = new TextEncoder().encode("a project");
    const sha256 = createHash("sha256").update(body).digest("hex");
    await using server = Deno.serve(
      { port: 0, hostname: "127.0.0.1", onListen() {} },
      () => new Response(body),
    );
    const tags = blobInputTags({ url: `http://127.0.0.1:${server.addr.port}/${sha256}`, sha256 });
    // The cache's place is taken by a file: the provider's disk, not the blob, is at fault.
    await Deno.mkdir(`${w.root}/state`, { recursive: true });
    await Deno.writeTextFile(`${w.root}/state/blob-cache`, "not a folder");
    const outcome = await runJob(w.options(skill, { input: () => Promise.resolve(request(tags)) }));
    assertEquals(outcome.status, "failed");
    if (outcome.status === "failed") {
      assertEquals(outcome.code, "sandbox-error", outcome.reason);
      assertStringIncludes(outcome.reason, "input blobs not stored");
    }
    assertEquals(w.removed.length, 0);
  });
});

Deno.test("job run: a skill without a runner fails with why", async () => {
  await withWorld(async (w) => {
    const skill = await w.skill("docker-ish", "#!/bin/sh\nexit 0\n");
    const outcome = await runJob(w.options(skill, {
      runner: { unavailable: "no Docker engine: not probed" },
    }));
    assertEquals(outcome, {
      status: "failed",
      reason: "no Docker engine: not probed",
      code: "unavailable",
    });
    assert(w.removed.length === 0);
  });
});
