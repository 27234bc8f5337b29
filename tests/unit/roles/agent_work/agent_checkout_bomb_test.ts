/**
 * The provider's checkout of a requester's repository (roles/agent_work/bundle_worktree.ts) is
 * refused before it writes a byte of the files when they would take more than it may write:
 * the probe's repository, one 64 MiB zero blob under 80 names, is a bundle of kilobytes and
 * 5 GiB checked out. Real git; the work dir's size is sampled while the checkout runs.
 */
import { ExpandedTooLargeError } from "../../../../roles/agent_work/agent_work_errors.ts";
import { createRepositoryBundle } from "../../../../roles/agent_work/repository_bundle.ts";
import { worktreeFromBundle } from "../../../../roles/agent_work/bundle_worktree.ts";
import { assert, assertEquals, assertRejects } from "../../../../harness/assert.ts";
import { withTempDir } from "../../../support/temp_dir.ts";
import { tempGitRepo } from "../../../../harness/temp_git_repo.ts";
import { zeroBlobCommit } from "../../../support/zero_blob_tree.ts";

/** Bytes under `dir` (`du -sb`), 0 when it is not there. */
async function duBytes(dir: string): Promise<number> {
  const out = await new Deno.Command("du", { args: ["-sb", dir], stdout: "piped", stderr: "null" })
    .output();
  return out.success ? Number(new TextDecoder().decode(out.stdout).split("\t")[0]) : 0;
}

/** Runs `fn` while sampling `dir`'s size; its outcome and the largest size seen. */
async function withPeak<T>(dir: string, fn: () => Promise<T>) {
  let peak = 0;
  let done = false;
  const sampler = (async () => {
    while (!done) {
      peak = Math.max(peak, await duBytes(dir));
      await new Promise((r) => setTimeout(r, 50));
    }
  })();
  try {
    return { outcome: await fn().then((v) => ({ ok: v }), (err: Error) => ({ err })), peak };
  } finally {
    done = true;
    await sampler;
    peak = Math.max(peak, await duBytes(dir));
  }
}

Deno.test("a repository of kilobytes whose base names one 64 MiB zero blob under 80 names is refused before the checkout writes its 5 GiB", async () => {
  await withTempDir(async (tmp) => {
    const repo = await tempGitRepo(`${tmp}/repo`, 1);
    const bomb = await zeroBlobCommit({
      dir: repo.dir,
      blobBytes: 64 * 1024 * 1024,
      names: 80,
      parent: await repo.git("rev-parse", "HEAD"),
    });
    await repo.git("update-ref", "refs/heads/main", bomb);
    const bundle = await createRepositoryBundle({
      repoDir: repo.dir,
      outPath: `${tmp}/task.bundle`,
    });
    assertEquals(bundle.base, bomb);
    const bundleBytes = (await Deno.stat(bundle.path)).size;
    assert(bundleBytes < 1024 * 1024, `the bundle is ${bundleBytes} bytes`);

    const work = `${tmp}/work`;
    const { outcome, peak } = await withPeak(
      work,
      () => worktreeFromBundle({ bundlePath: bundle.path, base: bomb, dir: work }),
    );
    assert("err" in outcome, "the checkout was made");
    assert(outcome.err instanceof ExpandedTooLargeError, String(outcome.err));
    assertEquals([outcome.err.bytes > 2 ** 31, outcome.err.limit], [true, 2 ** 31]);
    // The pack and git's own files, never the files: 5 GiB on the old code.
    assert(peak < 16 * 1024 * 1024, `the work dir reached ${peak} bytes`);
    assertEquals(await Deno.stat(work).then(() => true, () => false), false);
  });
});

Deno.test("a checkout within its limit is made as before", async () => {
  await withTempDir(async (tmp) => {
    const repo = await tempGitRepo(`${tmp}/repo`, 3);
    const bundle = await createRepositoryBundle({
      repoDir: repo.dir,
      outPath: `${tmp}/task.bundle`,
    });
    const tree = await worktreeFromBundle({
      bundlePath: bundle.path,
      base: bundle.base,
      dir: `${tmp}/work`,
      maxCheckoutBytes: 21, // f1..f3.txt, "line i\n": 7 bytes each
    });
    assertEquals(await Deno.readTextFile(`${tree.dir}/f3.txt`), "line 3\n");
    await assertRejects(
      () =>
        worktreeFromBundle({
          bundlePath: bundle.path,
          base: bundle.base,
          dir: `${tmp}/work2`,
          maxCheckoutBytes: 20,
        }),
      ExpandedTooLargeError,
    );
  });
});
