/**
 * The agent's commits go back as one bundle of base..branch (made in the sandbox by
 * skills/agent-task/run) and are applied as a branch of the requester's repository
 * (roles/agent_work/result_apply.ts): with real git and real commits, through a worktree made
 * from a depth-limited bundle as the provider has it. The checked-out branch and the working
 * files are never touched; applying twice is applying once; every hostile bundle is refused with
 * its error, and nothing of it enters the requester's repository.
 */
import {
  BranchExistsError,
  BundleFormatError,
  BundlePrerequisiteError,
  BundleRefsError,
  BundleTooLargeError,
  HistoryRewrittenError,
} from "../../../../roles/agent_work/agent_work_errors.ts";
import { createRepositoryBundle } from "../../../../roles/agent_work/repository_bundle.ts";
import { worktreeFromBundle } from "../../../../roles/agent_work/bundle_worktree.ts";
import { applyResultBundle, checkResultBundle } from "../../../../roles/agent_work/result_apply.ts";
import { runGit } from "../../../../roles/agent_work/git_command.ts";
import { assert, assertEquals, assertRejects } from "../../../../harness/assert.ts";
import { withTempDir } from "../../../support/temp_dir.ts";
import { type TempGitRepo, tempGitRepo } from "../../../../harness/temp_git_repo.ts";

const JOB_ID = "5c83da8e9f0a1b2c3d4e5f60718293a4b5c6d7e8f90a1b2c3d4e5f60718293a4";

/** A requester's repository of 5 commits, and a provider's worktree of its last 2. */
async function sentTask(tmp: string) {
  const repo = await tempGitRepo(`${tmp}/repo`, 5);
  const base = await repo.git("rev-parse", "HEAD");
  const bundle = await createRepositoryBundle({
    repoDir: repo.dir,
    outPath: `${tmp}/task.bundle`,
    depth: 2,
  });
  const work = await worktreeFromBundle({ bundlePath: bundle.path, base, dir: `${tmp}/work` });
  const agent = async (...args: string[]) => (await runGit(args, { dir: work.dir })).stdout.trim();
  return { repo, base, work, agent };
}

/** Commits in the agent's worktree: a changed file and a new one. */
async function agentCommits(dir: string, agent: (...a: string[]) => Promise<string>) {
  await Deno.writeTextFile(`${dir}/f5.txt`, "line 5\nmore\n");
  await Deno.mkdir(`${dir}/src`);
  await Deno.writeTextFile(`${dir}/src/new.ts`, "export const a = 1;\nexport const b = 2;\n");
  await agent("add", "-A");
  await agent("commit", "-q", "-m", "agent: first");
  await Deno.writeTextFile(`${dir}/src/new.ts`, "export const a = 1;\n");
  await agent("commit", "-q", "-am", "agent: second");
  return await agent("rev-parse", "HEAD");
}

/**
 * The result bundle as the sandbox's driver makes it (skills/agent-task/run): the work branch over
 * the base, by git in the sandbox; the host only checks it (result_apply.ts).
 */
async function runBundle(dir: string, base: string, outPath: string) {
  const ref = "refs/heads/turnpike/work";
  await runGit(["bundle", "create", "-q", outPath, ref, `^${base}`], { dir });
  const tip = (await runGit(["rev-parse", ref], { dir })).stdout.trim();
  return { path: outPath, ref, tip };
}

/** What must not change in the requester's repository: HEAD, its branch, index, files. */
async function requesterState(repo: TempGitRepo) {
  return {
    head: await repo.git("symbolic-ref", "HEAD"),
    tip: await repo.git("rev-parse", "HEAD"),
    status: await repo.git("status", "--porcelain"),
    f1: await Deno.readTextFile(`${repo.dir}/f1.txt`),
  };
}

Deno.test("the agent's commits go back as a bundle of base..branch and are applied as a branch, the checked-out branch and working files untouched, twice as once", async () => {
  await withTempDir(async (tmp) => {
    const { repo, base, work, agent } = await sentTask(tmp);
    const tip = await agentCommits(work.dir, agent);
    const result = await runBundle(work.dir, base, `${tmp}/result.bundle`);

    await Deno.writeTextFile(`${repo.dir}/f1.txt`, "the user's own edit\n");
    const before = await requesterState(repo);
    const applied = await applyResultBundle({
      repoDir: repo.dir,
      bundlePath: result.path,
      base,
      jobId: JOB_ID,
    });
    assertEquals([applied.branch, applied.tip, applied.created], [
      "turnpike/5c83da8e9f0a",
      tip,
      true,
    ]);
    assertEquals(applied.commits, 2);
    assertEquals(applied.diffstat, { files: 2, insertions: 2, deletions: 0 });
    assertEquals(await repo.git("rev-parse", "refs/heads/turnpike/5c83da8e9f0a"), tip);
    assertEquals(
      await repo.git("log", "--format=%s", "-3", "turnpike/5c83da8e9f0a"),
      "agent: second\nagent: first\nc5",
    );
    assertEquals(await repo.git("show", "turnpike/5c83da8e9f0a:src/new.ts"), "export const a = 1;");
    assertEquals(await requesterState(repo), before);
    assertEquals(await repo.git("for-each-ref", "refs/turnpike/"), "");

    const again = await applyResultBundle({
      repoDir: repo.dir,
      bundlePath: result.path,
      base,
      jobId: JOB_ID,
    });
    assertEquals([again.tip, again.created], [tip, false]);
    assertEquals(await requesterState(repo), before);
  });
});

Deno.test("a branch that exists at another commit is not overwritten", async () => {
  await withTempDir(async (tmp) => {
    const { repo, base, work, agent } = await sentTask(tmp);
    await agentCommits(work.dir, agent);
    const result = await runBundle(work.dir, base, `${tmp}/r.bundle`);
    await repo.git("branch", "mine", "HEAD~1");
    await assertRejects(
      () => applyResultBundle({ repoDir: repo.dir, bundlePath: result.path, base, branch: "mine" }),
      BranchExistsError,
    );
    assertEquals(await repo.git("rev-parse", "mine"), await repo.git("rev-parse", "HEAD~1"));
    await assertRejects(
      () => applyResultBundle({ repoDir: repo.dir, bundlePath: result.path, base, branch: "main" }),
      BranchExistsError,
    );
  });
});

Deno.test("fastForward moves a branch at the base to the result: the checked-out one with its files, another by compare-and-swap; never one elsewhere or moved", async () => {
  await withTempDir(async (tmp) => {
    const { repo, base, work, agent } = await sentTask(tmp);
    const tip = await agentCommits(work.dir, agent);
    const result = await runBundle(work.dir, base, `${tmp}/r.bundle`);
    const apply = (branch: string, fastForward = true) =>
      applyResultBundle({ repoDir: repo.dir, bundlePath: result.path, base, branch, fastForward });
    // Checked out (main, at the base): merged --ff-only, files and index follow, HEAD stays main.
    const main = await apply("main");
    assertEquals([main.tip, main.created, main.fastForwarded], [tip, false, true]);
    assertEquals(await repo.git("rev-parse", "HEAD"), tip);
    assertEquals(await repo.git("symbolic-ref", "HEAD"), "refs/heads/main");
    assertEquals(await repo.git("status", "--porcelain"), "");
    assertEquals(await Deno.readTextFile(`${repo.dir}/src/new.ts`), "export const a = 1;\n");
    assertEquals((await apply("main")).fastForwarded, undefined); // twice is once
    // Not checked out: moved with update-ref; checked out in another worktree: refused.
    await repo.git("branch", "side", base);
    assertEquals((await apply("side")).fastForwarded, true);
    assertEquals(await repo.git("rev-parse", "side"), tip);
    await repo.git("worktree", "add", "-q", "-b", "elsewhere", `${tmp}/elsewhere`, base);
    await assertRejects(() => apply("elsewhere"), BranchExistsError, "another worktree");
    assertEquals(await repo.git("rev-parse", "elsewhere"), base);
    // A branch past the base is refused, as is any existing branch without fastForward.
    await repo.git("branch", "ahead", base);
    await assertRejects(() => apply("ahead", false), BranchExistsError);
    await repo.git("branch", "-f", "past", "HEAD~1");
    await assertRejects(() => apply("past"), BranchExistsError);
    assertEquals(await repo.git("rev-parse", "ahead"), base);
    // Local changes the result would overwrite: git refuses, the checked-out branch stays.
    await repo.git("checkout", "-q", "ahead");
    await Deno.writeTextFile(`${repo.dir}/f5.txt`, "the user's edit\n");
    await assertRejects(() => apply("ahead"), BranchExistsError, "refused to fast-forward");
    assertEquals(await repo.git("rev-parse", "ahead"), base);
    assertEquals(await Deno.readTextFile(`${repo.dir}/f5.txt`), "the user's edit\n");
  });
});

Deno.test("hostile result bundles are refused with their errors, and none of their objects enter the requester's repository", async () => {
  await withTempDir(async (tmp) => {
    const { repo, base, work, agent } = await sentTask(tmp);
    await agentCommits(work.dir, agent);
    const good = await runBundle(work.dir, base, `${tmp}/good`);
    // A second repository with the same history, where the hostile bundles are made.
    const evil = `${tmp}/evil`;
    await runGit(["clone", "-q", repo.dir, evil]);
    const e = async (...args: string[]) => (await runGit(args, { dir: evil })).stdout.trim();
    await e("config", "user.name", "e");
    await e("config", "user.email", "e@example.invalid");
    await e("fetch", "-q", good.path, `${good.ref}:refs/heads/work`);
    const rejected = (bundlePath: string) => () =>
      checkResultBundle({ repoDir: repo.dir, bundlePath, base });
    const refsBefore = await repo.git("for-each-ref");
    await e("branch", "side", "refs/heads/work~1");

    await e(
      "bundle",
      "create",
      "-q",
      `${tmp}/two`,
      "refs/heads/work",
      "refs/heads/side",
      `^${base}`,
    );
    await assertRejects(rejected(`${tmp}/two`), BundleRefsError);

    await e("checkout", "-q", "-b", "rewritten", `${base}~1`);
    await Deno.writeTextFile(`${evil}/f1.txt`, "history rewritten\n");
    const rewrittenTip = await (async () => {
      await e("commit", "-q", "-am", "c5, amended");
      return await e("rev-parse", "HEAD");
    })();
    await e("bundle", "create", "-q", `${tmp}/rewritten`, "refs/heads/rewritten", `^${base}`);
    await assertRejects(rejected(`${tmp}/rewritten`), HistoryRewrittenError);

    // Its one ref an annotated tag of the work (or any object but a commit): no branch takes it.
    await e("tag", "-a", "-m", "not a commit", "tagged", "refs/heads/work");
    await e("bundle", "create", "-q", `${tmp}/tagged`, "refs/tags/tagged", `^${base}`);
    await assertRejects(rejected(`${tmp}/tagged`), BundleFormatError, "refused");
    await e("tag", "treed", "refs/heads/work^{tree}");
    await e("bundle", "create", "-q", `${tmp}/treed`, "refs/tags/treed", `^${base}`);
    await assertRejects(rejected(`${tmp}/treed`), BundleFormatError, "refused");

    await e("bundle", "create", "-q", `${tmp}/older`, "refs/heads/work", `^${base}~1`);
    await assertRejects(rejected(`${tmp}/older`), BundlePrerequisiteError, "exactly the base");

    await e("checkout", "-q", "--orphan", "alone");
    await e("commit", "-q", "-m", "unrelated");
    const aloneTip = await e("rev-parse", "HEAD");
    await e("bundle", "create", "-q", `${tmp}/alone`, "refs/heads/alone");
    await assertRejects(rejected(`${tmp}/alone`), HistoryRewrittenError);

    await runGit(["init", "-q", `${tmp}/other`]);
    await runGit([
      "-c",
      "user.name=o",
      "-c",
      "user.email=o@x.invalid",
      "commit",
      "-q",
      "--allow-empty",
      "-m",
      "o",
    ], {
      dir: `${tmp}/other`,
    });
    await runGit([
      "-c",
      "user.name=o",
      "-c",
      "user.email=o@x.invalid",
      "commit",
      "-q",
      "--allow-empty",
      "-m",
      "p",
    ], {
      dir: `${tmp}/other`,
    });
    await runGit(["bundle", "create", "-q", `${tmp}/strange`, "HEAD", "^HEAD~1"], {
      dir: `${tmp}/other`,
    });
    await assertRejects(rejected(`${tmp}/strange`), BundlePrerequisiteError, "lacks");

    await assertRejects(
      () => checkResultBundle({ repoDir: repo.dir, bundlePath: good.path, base, maxBytes: 100 }),
      BundleTooLargeError,
    );
    await Deno.writeFile(`${tmp}/garbage`, crypto.getRandomValues(new Uint8Array(2048)));
    await assertRejects(rejected(`${tmp}/garbage`), BundleFormatError);
    const bytes = await Deno.readFile(good.path);
    bytes[bytes.length - 30] ^= 0xff;
    await Deno.writeFile(`${tmp}/broken`, bytes);
    await assertRejects(rejected(`${tmp}/broken`), BundleFormatError);

    assertEquals(await repo.git("for-each-ref"), refsBefore);
    for (const oid of [rewrittenTip, aloneTip, good.tip]) {
      const { code } = await runGit(["cat-file", "-e", oid], {
        dir: repo.dir,
        allowCodes: [1, 128],
      });
      assert(code !== 0, `${oid} must not have entered the requester's repository`);
    }
    // The good one still applies after all that.
    const applied = await applyResultBundle({
      repoDir: repo.dir,
      bundlePath: good.path,
      base,
      branch: "ok",
    });
    assertEquals(applied.tip, good.tip);
  });
});
