/**
 * A new base as a delta (roles/agent_work/repository_delta.ts, delta_worktree.ts, through
 * `prepareAgentTaskInputs` and the checkout cache), on real git repositories and real sealed
 * blobs: the delta is made only within the depth, carries only the new commits, and gives the
 * provider the very checkout a whole bundle of the base would, from its cached checkout of the
 * base sent before (whose files it never changes) or from that base's bundle when it kept none;
 * a delta that needs a commit the checkout lacks, or names another base, is refused.
 */
import { assert, assertEquals, assertRejects } from "../../../../harness/assert.ts";
import { type TempGitRepo, tempGitRepo } from "../../../../harness/temp_git_repo.ts";
import { withTempDir } from "../../../support/temp_dir.ts";
import { createRepositoryBundle } from "../../../../roles/agent_work/repository_bundle.ts";
import {
  createRepositoryDelta,
  deltaDistance,
} from "../../../../roles/agent_work/repository_delta.ts";
import { applyRepositoryDelta } from "../../../../roles/agent_work/delta_worktree.ts";
import { worktreeFromBundle } from "../../../../roles/agent_work/bundle_worktree.ts";
import { readBundleHeader } from "../../../../roles/agent_work/bundle_header.ts";
import { sealBlob } from "../../../../roles/agent_work/sealed_blob.ts";
import { checkedOutInputs } from "../../../support/checked_out_inputs.ts";
import {
  type CheckoutCache,
  openCheckoutCache,
} from "../../../../roles/agent_work/provider/checkout_cache.ts";
import {
  BundleFormatError,
  BundlePrerequisiteError,
  BundleRefsError,
} from "../../../../roles/agent_work/agent_work_errors.ts";
import { bytesToHex } from "@noble/hashes/utils.js";

const git = async (dir: string, ...args: string[]) =>
  new TextDecoder().decode(
    (await new Deno.Command("git", { args: ["-C", dir, ...args], stdout: "piped" }).output())
      .stdout,
  ).trim();

/** Every file under `dir` with its bytes (a checkout, `.git` included): what must not change. */
async function snapshot(dir: string, prefix = ""): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  for await (const e of Deno.readDir(`${dir}/${prefix}`)) {
    const path = `${prefix}${e.name}`;
    if (e.isDirectory) {
      for (const [p, b] of await snapshot(dir, `${path}/`)) out.set(p, b);
    } else if (e.isFile) {
      out.set(path, bytesToHex(await Deno.readFile(`${dir}/${path}`)));
    }
  }
  return out;
}

/** A sealed file as the job's fetched files hold it; its key. */
async function sealed(path: string, to: string) {
  const { sealed, key } = await sealBlob(await Deno.readFile(path));
  await Deno.writeFile(to, sealed);
  return bytesToHex(key);
}

/** Each bundle (and delta) sealed once, as the requester's cache keeps it: its file and key. */
const sealedBundles = new Map<string, { path: string; key: string }>();

/**
 * One job's inputs as a requester sends them: the bundle of `from` at depth 3 (made and sealed
 * once, as the requester's cache keeps it: the same blob and key each time) and, when `base`
 * differs, the delta to `base`. Its checkout, kept.
 */
async function prepare(
  tmp: string,
  repo: TempGitRepo,
  cache: CheckoutCache | undefined,
  name: string,
  bundle: string,
  base: string,
) {
  let once = sealedBundles.get(bundle);
  if (once === undefined) {
    once = { path: `${tmp}/${name}.sealed`, key: await sealed(bundle, `${tmp}/${name}.sealed`) };
    sealedBundles.set(bundle, once);
  }
  const repoKey = once.key;
  const files = [{ path: once.path, name: "repo" }];
  let deltaKey: string | undefined;
  const from = (await readBundleHeader(bundle, 1 << 30)).refs[0].oid;
  // A delta too is sealed once and kept as the new base's entry: a task on that base again
  // sends the same blob and key.
  let delta = sealedBundles.get(`${bundle} to ${base}`);
  if (from !== base && delta === undefined) {
    const made = await createRepositoryDelta({
      repoDir: repo.dir,
      from,
      base,
      depth: 3,
      outPath: `${tmp}/${name}.delta`,
    });
    assert(made !== undefined);
    const path = `${tmp}/${name}.delta.sealed`;
    delta = { path, key: await sealed(made.path, path) };
    sealedBundles.set(`${bundle} to ${base}`, delta);
  }
  if (delta !== undefined) {
    deltaKey = delta.key;
    files.push({ path: delta.path, name: "delta" });
  }
  const hostDir = `${tmp}/${name}.agent`;
  await Deno.mkdir(hostDir);
  return await checkedOutInputs({ files, repoKey, deltaKey, base, hostDir, cache });
}

Deno.test("a delta carries only the new commits, within the depth; none past it, none from a base not an ancestor", async () => {
  await withTempDir(async (tmp) => {
    const repo = await tempGitRepo(`${tmp}/repo`, 4);
    const from = await repo.git("rev-parse", "HEAD");
    await repo.commit("five", { "big.txt": "b".repeat(100_000) });
    const base = await repo.commit("six", { "f1.txt": "changed\n" });
    assertEquals(await deltaDistance(repo.dir, from, base, 3), 2);
    assertEquals(await deltaDistance(repo.dir, from, base, 2), undefined); // past the depth
    assertEquals(await deltaDistance(repo.dir, from, base), 2); // the whole history: any
    assertEquals(await deltaDistance(repo.dir, base, from, 3), undefined); // not an ancestor
    assertEquals(await deltaDistance(repo.dir, base, base, 3), undefined); // nothing new
    assertEquals(await deltaDistance(repo.dir, "f".repeat(40), base, 3), undefined); // unknown
    await repo.git("checkout", "-q", "-b", "side", from);
    const side = await repo.commit("side", { "s.txt": "s\n" });
    assertEquals(await deltaDistance(repo.dir, side, base, 3), undefined);

    const made = await createRepositoryDelta({
      repoDir: repo.dir,
      from,
      base,
      depth: 3,
      outPath: `${tmp}/d.bundle`,
    });
    assert(made !== undefined);
    assertEquals([made.commits, made.from, made.base], [2, from, base]);
    const header = await readBundleHeader(made.path, 1 << 30);
    assertEquals(header.prerequisites, [from]);
    assertEquals(header.refs, [{ oid: base, name: "refs/turnpike/base" }]);
    const whole = await createRepositoryBundle({
      repoDir: repo.dir,
      outPath: `${tmp}/w.bundle`,
      base,
      depth: 3,
    });
    assert(made.bytes < whole.bytes, `${made.bytes} < ${whole.bytes}`);
    // The repository itself: nothing written (no ref, no object), the branch where it was.
    assertEquals(await repo.git("for-each-ref", "refs/turnpike"), "");
    assertEquals(await repo.git("rev-parse", "--abbrev-ref", "HEAD"), "side");
    assertEquals(
      await createRepositoryDelta({ repoDir: repo.dir, from, base, depth: 2, outPath: `${tmp}/x` }),
      undefined,
    );
  });
});

Deno.test("a merge in the new commits: a delta when its branch forked at or above the base sent before, none when below it (its fork point would be a second prerequisite)", async () => {
  await withTempDir(async (tmp) => {
    const repo = await tempGitRepo(`${tmp}/repo`, 3);
    const below = await repo.git("rev-parse", "HEAD~1");
    const from = await repo.commit("four", { "m.txt": "4\n" });
    const merged = async (forkAt: string, name: string) => {
      await repo.git("checkout", "-q", "-b", name, forkAt);
      await repo.commit(`side ${name}`, { [`${name}.txt`]: "s\n" });
      await repo.git("checkout", "-q", "main");
      await repo.git("merge", "-q", "--no-ff", "-m", `merge ${name}`, name);
      return await repo.git("rev-parse", "HEAD");
    };
    const above = await merged(from, "above");
    const made = await createRepositoryDelta({
      repoDir: repo.dir,
      from,
      base: above,
      depth: 5,
      outPath: `${tmp}/above.bundle`,
    });
    assert(made !== undefined);
    assertEquals((await readBundleHeader(made.path, 1 << 30)).prerequisites, [from]);
    assertEquals(made.commits, 2);
    const base = await merged(below, "below");
    assertEquals(
      await createRepositoryDelta({
        repoDir: repo.dir,
        from,
        base,
        depth: 5,
        outPath: `${tmp}/below.bundle`,
      }),
      undefined,
    );
    // The whole history as the commits say it, whatever the repository's replace refs: a graft
    // of the base onto `from` hides 2 commits, and a delta would carry them all past the depth.
    const far = await repo.commit("far", { "f.txt": "f\n" });
    await repo.git("replace", "--graft", far, above);
    assertEquals(await repo.git("rev-list", "--count", `${above}..${far}`), "1");
    assertEquals(
      await createRepositoryDelta({
        repoDir: repo.dir,
        from: above,
        base: far,
        depth: 2,
        outPath: `${tmp}/far.bundle`,
      }),
      undefined,
    );
  });
});

Deno.test("the provider's checkout from a delta is the one a whole bundle gives, from its cached checkout (left as it was) or from the bundle", async () => {
  await withTempDir(async (tmp) => {
    const repo = await tempGitRepo(`${tmp}/repo`);
    await repo.commit("one", { "a.txt": "a1\n", "kept.txt": "k".repeat(4000), "gone.txt": "g" });
    const from = await repo.commit("two", { "b.txt": "b\n" });
    await createRepositoryBundle({ repoDir: repo.dir, outPath: `${tmp}/from.bundle`, depth: 3 });
    const cache = openCheckoutCache({ dir: `${tmp}/cache` });
    const first = await prepare(tmp, repo, cache, "first", `${tmp}/from.bundle`, from);
    const before = await snapshot(first);
    await repo.git("rm", "-q", "gone.txt");
    const base = await repo.commit("three", { "a.txt": "a2\n", "dir/new.txt": "n" });

    // From the cached checkout of `from`.
    const second = await prepare(tmp, repo, cache, "second", `${tmp}/from.bundle`, base);
    // From the bundle of `from`: no cache.
    const third = await prepare(tmp, repo, undefined, "third", `${tmp}/from.bundle`, base);
    for (const dir of [second, third]) {
      assertEquals(await git(dir, "rev-parse", "HEAD"), base);
      assertEquals(await git(dir, "rev-parse", "--abbrev-ref", "HEAD"), "turnpike/work");
      assertEquals(await git(dir, "status", "--porcelain"), "");
      assertEquals(await git(dir, "ls-files", "-s"), await repo.git("ls-files", "-s"));
      assertEquals(await Deno.readTextFile(`${dir}/a.txt`), "a2\n");
      assertEquals(await Deno.stat(`${dir}/gone.txt`).then(() => true, () => false), false);
      assertEquals(await git(dir, "config", "user.name"), "turnpike agent");
    }
    // The cached checkout of `from`, files and .git, byte for byte as it was.
    assertEquals(await snapshot(first), before);
    // The delta's checkout is kept under its own name: the same two blobs find it again (its
    // changed file the kept one's, a hard link: taken, not checked out again).
    const again = await prepare(tmp, repo, cache, "again", `${tmp}/from.bundle`, base);
    assertEquals(await git(again, "rev-parse", "HEAD"), base);
    const inode = async (path: string) => (await Deno.stat(path)).ino;
    assertEquals(await inode(`${again}/a.txt`), await inode(`${second}/a.txt`));
  });
});

Deno.test("a delta that needs a commit the checkout lacks, or names another base, is refused and the checkout removed", async () => {
  await withTempDir(async (tmp) => {
    const repo = await tempGitRepo(`${tmp}/repo`, 2);
    const from = await repo.git("rev-parse", "HEAD");
    await createRepositoryBundle({ repoDir: repo.dir, outPath: `${tmp}/from.bundle`, base: from });
    const mid = await repo.commit("three", { "m.txt": "m\n" });
    const base = await repo.commit("four", { "n.txt": "n\n" });
    const delta = await createRepositoryDelta({
      repoDir: repo.dir,
      from: mid,
      base,
      outPath: `${tmp}/d.bundle`,
    });
    assert(delta !== undefined);
    const checkout = async (dir: string) => {
      await worktreeFromBundle({ bundlePath: `${tmp}/from.bundle`, base: from, dir });
      return dir;
    };
    // Needs `mid`, which a checkout of `from` lacks.
    const a = await checkout(`${tmp}/a`);
    await assertRejects(
      () => applyRepositoryDelta({ bundlePath: delta.path, base, dir: a }),
      BundlePrerequisiteError,
    );
    assertEquals(await Deno.stat(a).then(() => true, () => false), false);
    // Another base than the job's.
    const b = await checkout(`${tmp}/b`);
    await assertRejects(
      () => applyRepositoryDelta({ bundlePath: delta.path, base: mid, dir: b }),
      BundleRefsError,
    );
    // A whole bundle is no delta.
    const c = await checkout(`${tmp}/c`);
    await assertRejects(
      () => applyRepositoryDelta({ bundlePath: `${tmp}/from.bundle`, base: from, dir: c }),
      BundlePrerequisiteError,
    );
    // Its prerequisites there, its pack broken: git's refusal of the pack, the checkout removed.
    const good = await createRepositoryDelta({
      repoDir: repo.dir,
      from,
      base,
      outPath: `${tmp}/good.bundle`,
    });
    assert(good !== undefined);
    const bytes = await Deno.readFile(good.path);
    bytes[bytes.length - 30] ^= 0xff;
    await Deno.writeFile(`${tmp}/broken.bundle`, bytes);
    const d = await checkout(`${tmp}/d`);
    await assertRejects(
      () => applyRepositoryDelta({ bundlePath: `${tmp}/broken.bundle`, base, dir: d }),
      BundleFormatError,
    );
    assertEquals(await Deno.stat(d).then(() => true, () => false), false);
    // The same delta whole moves the checkout on.
    const e = await checkout(`${tmp}/e`);
    const moved = await applyRepositoryDelta({ bundlePath: good.path, base, dir: e });
    assertEquals(moved.base, base);
    assertEquals(await git(e, "rev-parse", "HEAD"), base);
  });
});
