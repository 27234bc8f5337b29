/**
 * Repository bundles made incrementally from a mirror (roles/agent_work/bundle_mirror.ts through
 * `createRepositoryBundle`'s `mirrorDir`), with real git and real commits: each bundle made with
 * the mirror carries the same objects and the same shallow commits as one made from nothing, and
 * the provider checks it out the same, for a newer base, an older base whose depth reaches past
 * the mirror's history, another depth and the whole history; the fetch sends only what the mirror
 * lacks; a broken mirror is dropped and the bundle made from nothing.
 */
import { createRepositoryBundle } from "../../../../roles/agent_work/repository_bundle.ts";
import { worktreeFromBundle } from "../../../../roles/agent_work/bundle_worktree.ts";
import { runGit } from "../../../../roles/agent_work/git_command.ts";
import { assert, assertEquals } from "../../../../harness/assert.ts";
import { withTempDir } from "../../../support/temp_dir.ts";
import { tempGitRepo } from "../../../../harness/temp_git_repo.ts";

/** The objects a bundle carries, sorted (unbundled into a new repository). */
async function objectsOf(bundle: string, dir: string): Promise<string[]> {
  await runGit(["init", "-q", "--bare", dir]);
  await runGit(["bundle", "unbundle", bundle], { dir });
  const { stdout } = await runGit(
    ["cat-file", "--batch-all-objects", "--batch-check=%(objectname)"],
    { dir },
  );
  return stdout.split("\n").filter((l) => l !== "").sort();
}

Deno.test("bundles made from the mirror carry the objects and shallow commits of bundles made from nothing, and check out the same", async () => {
  await withTempDir(async (tmp) => {
    const repo = await tempGitRepo(`${tmp}/repo`, 12);
    const mirrorDir = `${tmp}/profile/mirrors/repo`;
    let n = 0;
    /** The same base and depth bundled with the mirror and from nothing, compared. */
    const same = async (base: string, depth?: number) => {
      n++;
      const withMirror = await createRepositoryBundle({
        repoDir: repo.dir,
        outPath: `${tmp}/m${n}.bundle`,
        base,
        depth,
        mirrorDir,
      });
      const plain = await createRepositoryBundle({
        repoDir: repo.dir,
        outPath: `${tmp}/p${n}.bundle`,
        base,
        depth,
      });
      assertEquals(
        [withMirror.base, withMirror.commits, withMirror.shallow],
        [plain.base, plain.commits, plain.shallow],
      );
      assertEquals(
        await objectsOf(withMirror.path, `${tmp}/mo${n}`),
        await objectsOf(plain.path, `${tmp}/po${n}`),
      );
      const tree = await worktreeFromBundle({
        bundlePath: withMirror.path,
        base: withMirror.base,
        dir: `${tmp}/w${n}`,
      });
      assertEquals(tree.commits, plain.commits);
      return withMirror;
    };
    const head = await repo.git("rev-parse", "HEAD");
    await same(await repo.git("rev-parse", "HEAD~4"), 3);
    // Newer: the mirror has the older history, the fetch brings the new commits.
    await same(head, 3);
    const next = await repo.commit("next", { "n.txt": "next\n" });
    await same(next, 3);
    // Older and deeper than the mirror: git sends the parents of the mirror's shallow commits.
    await same(await repo.git("rev-parse", "HEAD~6"), 5);
    // A smaller depth, then the whole history.
    await same(next, 1);
    const whole = await same(next);
    assertEquals(whole.shallow, []);
    assertEquals(whole.commits, 13);
  });
});

Deno.test("with the mirror, a bundle of a base one commit on fetches only that commit's objects", async () => {
  await withTempDir(async (tmp) => {
    const repo = await tempGitRepo(`${tmp}/repo`, 8);
    const mirrorDir = `${tmp}/profile/mirrors/repo`;
    await createRepositoryBundle({ repoDir: repo.dir, outPath: `${tmp}/a`, depth: 4, mirrorDir });
    const next = await repo.commit("next", { "n.txt": "next\n" });
    await createRepositoryBundle({ repoDir: repo.dir, outPath: `${tmp}/b`, depth: 4, mirrorDir });
    // The mirror's newest pack is the second fetch's.
    const packs: { name: string; mtime: number }[] = [];
    for await (const e of Deno.readDir(`${mirrorDir}/objects/pack`)) {
      if (!e.name.endsWith(".idx")) continue;
      const { mtime } = await Deno.stat(`${mirrorDir}/objects/pack/${e.name}`);
      packs.push({ name: e.name, mtime: mtime?.getTime() ?? 0 });
    }
    assertEquals(packs.length, 2);
    const newest = packs.sort((a, b) => b.mtime - a.mtime)[0].name;
    const { stdout } = await runGit(
      ["show-index"],
      {
        dir: mirrorDir,
        stdin: await Deno.readFile(`${mirrorDir}/objects/pack/${newest}`),
      },
    );
    const fetched = stdout.split("\n").filter((l) => l !== "").map((l) => l.split(" ")[1]);
    assert(fetched.includes(next), `the new commit is in the new pack: ${fetched}`);
    // Its commit, tree and blob, and the tree of the new shallow commit, which git sends again.
    assertEquals(fetched.length, 4);
  });
});

Deno.test("a broken mirror is dropped and the bundle made from nothing", async () => {
  await withTempDir(async (tmp) => {
    const repo = await tempGitRepo(`${tmp}/repo`, 6);
    const mirrorDir = `${tmp}/profile/mirrors/repo`;
    await createRepositoryBundle({ repoDir: repo.dir, outPath: `${tmp}/a`, depth: 3, mirrorDir });
    // Its packs gone, its shallow file left: the fetch believes it has what it has not.
    await Deno.remove(`${mirrorDir}/objects/pack`, { recursive: true });
    await Deno.mkdir(`${mirrorDir}/objects/pack`);
    const next = await repo.commit("next", { "n.txt": "next\n" });
    const bundle = await createRepositoryBundle({
      repoDir: repo.dir,
      outPath: `${tmp}/b`,
      depth: 3,
      mirrorDir,
    });
    assertEquals([bundle.base, bundle.commits], [next, 3]);
    const tree = await worktreeFromBundle({ bundlePath: bundle.path, base: next, dir: `${tmp}/w` });
    assertEquals(tree.commits, 3);
  });
});
