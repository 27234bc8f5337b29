/**
 * A task's repository goes out as one bundle (roles/agent_work/repository_bundle.ts) and comes
 * in as a worktree (roles/agent_work/bundle_worktree.ts): with real git, real commits; the depth
 * asked is the history the provider gets, and every bundle other than the agreed one is refused
 * before its objects enter a repository.
 */
import {
  BundleFormatError,
  BundlePrerequisiteError,
  BundleRefsError,
  BundleTooLargeError,
  DirtyWorktreeError,
  GitCommandError,
} from "../../../../roles/agent_work/agent_work_errors.ts";
import {
  BASE_REF,
  createRepositoryBundle,
} from "../../../../roles/agent_work/repository_bundle.ts";
import { worktreeFromBundle } from "../../../../roles/agent_work/bundle_worktree.ts";
import { runGit } from "../../../../roles/agent_work/git_command.ts";
import { assert, assertEquals, assertRejects } from "../../../../harness/assert.ts";
import { withTempDir } from "../../../support/temp_dir.ts";
import { tempGitRepo } from "../../../../harness/temp_git_repo.ts";

Deno.test("a bundle of depth 3 carries the base and 2 ancestors, and the provider's worktree has just those 3 commits, checked out on its branch", async () => {
  await withTempDir(async (tmp) => {
    const repo = await tempGitRepo(`${tmp}/repo`, 6);
    const base = await repo.git("rev-parse", "HEAD");
    const bundle = await createRepositoryBundle({
      repoDir: repo.dir,
      outPath: `${tmp}/task.bundle`,
      depth: 3,
    });
    assertEquals([bundle.base, bundle.commits], [base, 3]);
    assertEquals(bundle.shallow, [await repo.git("rev-parse", "HEAD~2")]);

    const tree = await worktreeFromBundle({ bundlePath: bundle.path, base, dir: `${tmp}/work` });
    const git = async (...args: string[]) => (await runGit(args, { dir: tree.dir })).stdout.trim();
    assertEquals(tree.commits, 3);
    assertEquals(await git("rev-list", "--count", "HEAD"), "3");
    assertEquals(await git("log", "--format=%s"), "c6\nc5\nc4");
    assertEquals(await git("symbolic-ref", "HEAD"), "refs/heads/turnpike/work");
    assertEquals(await git("rev-parse", "HEAD"), base);
    assertEquals(await git("rev-parse", BASE_REF), base);
    assertEquals(await git("status", "--porcelain"), "");
    assertEquals(await Deno.readTextFile(`${tree.dir}/f1.txt`), "line 1\n");
    assertEquals(await git("config", "user.email"), "agent@turnpike.invalid");
    await git("fsck", "--connectivity-only");
    // The older commits' objects are nowhere in it: c3 is not there.
    const c3 = await repo.git("rev-parse", "HEAD~3");
    const { code } = await runGit(["cat-file", "-e", c3], { dir: tree.dir, allowCodes: [1, 128] });
    assert(code !== 0, "c3 must not be in the provider's repository");
  });
});

Deno.test("without a depth the whole history goes, from the base asked, not the working files", async () => {
  await withTempDir(async (tmp) => {
    const repo = await tempGitRepo(`${tmp}/repo`, 4);
    const base = await repo.git("rev-parse", "HEAD~1");
    await Deno.writeTextFile(`${repo.dir}/f1.txt`, "not committed\n");
    const bundle = await createRepositoryBundle({
      repoDir: repo.dir,
      outPath: `${tmp}/task.bundle`,
      base: "HEAD~1",
    });
    assertEquals([bundle.base, bundle.commits, bundle.shallow], [base, 3, []]);
    const tree = await worktreeFromBundle({
      bundlePath: bundle.path,
      base,
      dir: `${tmp}/work`,
      branch: "agent",
      identity: { name: "p", email: "p@example.invalid" },
    });
    assertEquals(tree.commits, 3);
    assertEquals(await Deno.readTextFile(`${tree.dir}/f1.txt`), "line 1\n");
    assertEquals((await runGit(["branch", "--show-current"], { dir: tree.dir })).stdout, "agent\n");
  });
});

Deno.test("a dirty worktree is refused only when asked", async () => {
  await withTempDir(async (tmp) => {
    const repo = await tempGitRepo(`${tmp}/repo`, 2);
    await Deno.writeTextFile(`${repo.dir}/new.txt`, "untracked\n");
    await createRepositoryBundle({ repoDir: repo.dir, outPath: `${tmp}/a.bundle` });
    await assertRejects(
      () =>
        createRepositoryBundle({
          repoDir: repo.dir,
          outPath: `${tmp}/b.bundle`,
          refuseDirty: true,
        }),
      DirtyWorktreeError,
      "1 changed or untracked",
    );
  });
});

Deno.test("a repository bundle over its limit is refused with both sizes, and not left behind", async () => {
  await withTempDir(async (tmp) => {
    const repo = await tempGitRepo(`${tmp}/repo`, 2);
    const err = await assertRejects(
      () =>
        createRepositoryBundle({ repoDir: repo.dir, outPath: `${tmp}/a.bundle`, maxBytes: 100 }),
      BundleTooLargeError,
    );
    assertEquals(err.limit, 100);
    assert(err.bytes > 100);
    await assertRejects(() => Deno.stat(`${tmp}/a.bundle`), Deno.errors.NotFound);
  });
});

Deno.test("an unknown base or a depth of 0 is refused before anything is written", async () => {
  await withTempDir(async (tmp) => {
    const repo = await tempGitRepo(`${tmp}/repo`, 1);
    await assertRejects(
      () => createRepositoryBundle({ repoDir: repo.dir, outPath: `${tmp}/a`, base: "nope" }),
      GitCommandError,
    );
    await assertRejects(
      () => createRepositoryBundle({ repoDir: repo.dir, outPath: `${tmp}/a`, depth: 0 }),
      RangeError,
    );
  });
});

Deno.test("the provider refuses a bundle other than the agreed one, each with its error", async () => {
  await withTempDir(async (tmp) => {
    const repo = await tempGitRepo(`${tmp}/repo`, 3);
    const base = await repo.git("rev-parse", "HEAD");
    const good = await createRepositoryBundle({ repoDir: repo.dir, outPath: `${tmp}/good` });
    const into = (name: string) => `${tmp}/work-${name}`;

    const wrongBase = await repo.git("rev-parse", "HEAD~1");
    await assertRejects(
      () => worktreeFromBundle({ bundlePath: good.path, base: wrongBase, dir: into("base") }),
      BundleRefsError,
    );
    await repo.git("update-ref", "refs/heads/other", "HEAD~1");
    await repo.git("update-ref", BASE_REF, base);
    await repo.git("bundle", "create", "-q", `${tmp}/two`, BASE_REF, "refs/heads/other");
    await assertRejects(
      () => worktreeFromBundle({ bundlePath: `${tmp}/two`, base, dir: into("two") }),
      BundleRefsError,
    );
    await repo.git("bundle", "create", "-q", `${tmp}/thin`, BASE_REF, "^HEAD~1");
    await assertRejects(
      () => worktreeFromBundle({ bundlePath: `${tmp}/thin`, base, dir: into("thin") }),
      BundlePrerequisiteError,
    );
    await Deno.writeFile(`${tmp}/garbage`, crypto.getRandomValues(new Uint8Array(4096)));
    await assertRejects(
      () => worktreeFromBundle({ bundlePath: `${tmp}/garbage`, base, dir: into("garbage") }),
      BundleFormatError,
    );
    // A true header over a broken pack: git refuses it when it unbundles.
    const bytes = await Deno.readFile(good.path);
    const broken = bytes.slice(0, bytes.length - 40);
    broken[broken.length - 100] ^= 0xff;
    await Deno.writeFile(`${tmp}/broken`, broken);
    await assertRejects(
      () => worktreeFromBundle({ bundlePath: `${tmp}/broken`, base, dir: into("broken") }),
      BundleFormatError,
    );
    await assertRejects(
      () => worktreeFromBundle({ bundlePath: good.path, base, dir: into("big"), maxBytes: 64 }),
      BundleTooLargeError,
    );
    for (const name of ["base", "two", "thin", "garbage", "broken", "big"]) {
      await assertRejects(() => Deno.stat(into(name)), Deno.errors.NotFound);
    }
  });
});

Deno.test("with a merge in the history the depth counts along every parent, and each cut commit is marked shallow", async () => {
  await withTempDir(async (tmp) => {
    const repo = await tempGitRepo(`${tmp}/repo`, 3);
    await repo.git("checkout", "-q", "-b", "side", "HEAD~2");
    await repo.commit("s1", { "s1.txt": "s1\n" });
    const s2 = await repo.commit("s2", { "s2.txt": "s2\n" });
    await repo.git("checkout", "-q", "main");
    const c3 = await repo.git("rev-parse", "HEAD");
    await repo.git("merge", "-q", "--no-edit", "side");
    const base = await repo.git("rev-parse", "HEAD");
    const bundle = await createRepositoryBundle({
      repoDir: repo.dir,
      outPath: `${tmp}/task.bundle`,
      depth: 2,
    });
    assertEquals([bundle.commits, bundle.shallow], [3, [c3, s2].sort()]);
    const tree = await worktreeFromBundle({ bundlePath: bundle.path, base, dir: `${tmp}/work` });
    assertEquals([tree.commits, tree.shallow], [3, [c3, s2].sort()]);
    assertEquals(await Deno.readTextFile(`${tree.dir}/s1.txt`), "s1\n");
    await runGit(["fsck", "--connectivity-only"], { dir: tree.dir });
  });
});

Deno.test("the worktree's own settings: the identity as given (quotes and backslashes kept), no signing, minimal stat checks, and no automatic maintenance after the agent's commits", async () => {
  await withTempDir(async (tmp) => {
    const repo = await tempGitRepo(`${tmp}/repo`, 2);
    const base = await repo.git("rev-parse", "HEAD");
    const bundle = await createRepositoryBundle({ repoDir: repo.dir, outPath: `${tmp}/b` });
    const name = 'a "quoted" \\ agent';
    const tree = await worktreeFromBundle({
      bundlePath: bundle.path,
      base,
      dir: `${tmp}/work`,
      identity: { name, email: "q@example.invalid" },
    });
    const config = async (key: string) =>
      (await runGit(["config", "--get", key], { dir: tree.dir })).stdout.trim();
    assertEquals(await config("user.name"), name);
    assertEquals(await config("user.email"), "q@example.invalid");
    assertEquals(await config("commit.gpgSign"), "false");
    assertEquals(await config("core.checkStat"), "minimal");
    assertEquals(await config("maintenance.auto"), "false");
    assertEquals(await config("gc.auto"), "0");
    // A commit starts no `git maintenance run --auto` (git's own trace of the processes it starts).
    await Deno.writeTextFile(`${tree.dir}/new.txt`, "new\n");
    await runGit(["add", "new.txt"], { dir: tree.dir });
    const trace = `${tmp}/trace.json`;
    const commit = await new Deno.Command("git", {
      args: ["-C", tree.dir, "commit", "-q", "-m", "agent"],
      env: { GIT_TRACE2_EVENT: trace, GIT_CONFIG_NOSYSTEM: "1", GIT_CONFIG_GLOBAL: "/dev/null" },
    }).output();
    assert(commit.success, new TextDecoder().decode(commit.stderr));
    const started = (await Deno.readTextFile(trace)).split("\n").filter((l) => l !== "")
      .map((l) => JSON.parse(l)).filter((e) => e.event === "child_start");
    assertEquals(started.map((e) => e.argv.join(" ")), []);
    assertEquals(
      await runGit(["log", "-1", "--format=%an"], { dir: tree.dir }).then((r) => r.stdout.trim()),
      name,
    );
  });
});
