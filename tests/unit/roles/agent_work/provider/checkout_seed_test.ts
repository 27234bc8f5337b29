/**
 * A new base's checkout started from a cached one (roles/agent_work/seeded_checkout.ts through
 * `prepareAgentTaskInputs` and the checkout cache), on real files, real git repositories and real
 * sealed bundles: the files the new base shares with a cached base it descends from are the
 * entry's (hard links, not written again), the others are the new base's; a cached checkout of
 * another repository is not used.
 */
import { assert, assertEquals, assertNotEquals } from "../../../../../harness/assert.ts";
import { type TempGitRepo, tempGitRepo } from "../../../../../harness/temp_git_repo.ts";
import { withTempDir } from "../../../../support/temp_dir.ts";
import { createRepositoryBundle } from "../../../../../roles/agent_work/repository_bundle.ts";
import { sealBlob } from "../../../../../roles/agent_work/sealed_blob.ts";
import { checkedOutInputs } from "../../../../support/checked_out_inputs.ts";
import {
  type CheckoutCache,
  openCheckoutCache,
} from "../../../../../roles/agent_work/provider/checkout_cache.ts";
import { bytesToHex } from "@noble/hashes/utils.js";

/** One job's inputs for `repo`'s HEAD at depth 5, as a requester sends it; the job's checkout. */
async function prepare(tmp: string, repo: TempGitRepo, cache: CheckoutCache, name: string) {
  const base = await repo.git("rev-parse", "HEAD");
  await createRepositoryBundle({ repoDir: repo.dir, outPath: `${tmp}/${name}.bundle`, depth: 5 });
  const { sealed, key } = await sealBlob(await Deno.readFile(`${tmp}/${name}.bundle`));
  await Deno.writeFile(`${tmp}/${name}.sealed`, sealed);
  const hostDir = `${tmp}/${name}.agent`;
  await Deno.mkdir(hostDir);
  return await checkedOutInputs({
    files: [{ path: `${tmp}/${name}.sealed`, name: "repo" }],
    repoKey: bytesToHex(key),
    base,
    hostDir,
    cache,
  });
}

const inode = async (path: string) => (await Deno.stat(path)).ino;
const git = async (dir: string, ...args: string[]) =>
  new TextDecoder().decode(
    (await new Deno.Command("git", { args: ["-C", dir, ...args], stdout: "piped" }).output())
      .stdout,
  ).trim();

Deno.test("a job on a base one commit on from a cached checkout links the unchanged files and writes only the changed ones", async () => {
  await withTempDir(async (tmp) => {
    const repo = await tempGitRepo(`${tmp}/repo`);
    await repo.commit("one", { "a.txt": "a1\n", "kept.txt": "k".repeat(4000), "gone.txt": "g" });
    const cache = openCheckoutCache({ dir: `${tmp}/cache` });
    const first = await prepare(tmp, repo, cache, "first");
    await repo.git("rm", "-q", "gone.txt");
    await repo.commit("two", { "a.txt": "a2\n", "dir/new.txt": "n" });
    const second = await prepare(tmp, repo, cache, "second");
    // The unchanged file is the cached checkout's (the first job's files are its hard links).
    assertEquals(await inode(`${second}/kept.txt`), await inode(`${first}/kept.txt`));
    // The changed one was written anew, and the cached checkout's copy left as it was.
    assertNotEquals(await inode(`${second}/a.txt`), await inode(`${first}/a.txt`));
    assertEquals(await Deno.readTextFile(`${second}/a.txt`), "a2\n");
    assertEquals(await Deno.readTextFile(`${first}/a.txt`), "a1\n");
    assertEquals(await Deno.readTextFile(`${second}/dir/new.txt`), "n");
    assertEquals(await Deno.stat(`${second}/gone.txt`).then(() => true, () => false), false);
    assert(await Deno.stat(`${first}/gone.txt`).then(() => true, () => false));
    // At the new base, clean, as a checkout from nothing would be.
    assertEquals(await git(second, "rev-parse", "HEAD"), await repo.git("rev-parse", "HEAD"));
    assertEquals(await git(second, "status", "--porcelain"), "");
    assertEquals(await git(second, "ls-files", "-s"), await repo.git("ls-files", "-s"));
  });
});

Deno.test("a cached checkout of another repository is not a seed: the new base is written whole", async () => {
  await withTempDir(async (tmp) => {
    const cache = openCheckoutCache({ dir: `${tmp}/cache` });
    const other = await tempGitRepo(`${tmp}/other`);
    await other.commit("theirs", { "kept.txt": "k".repeat(4000), "a.txt": "theirs\n" });
    const first = await prepare(tmp, other, cache, "first");
    const repo = await tempGitRepo(`${tmp}/repo`);
    await repo.commit("mine", { "kept.txt": "k".repeat(4000), "a.txt": "mine\n" });
    const second = await prepare(tmp, repo, cache, "second");
    // The same file in both: still not taken from the other repository's checkout.
    assertNotEquals(await inode(`${second}/kept.txt`), await inode(`${first}/kept.txt`));
    assertEquals(await Deno.readTextFile(`${second}/a.txt`), "mine\n");
    assertEquals(await git(second, "status", "--porcelain"), "");
  });
});
