/**
 * The provider's checkout cache (roles/agent_work/provider/checkout_cache.ts) through
 * `prepareAgentTaskInputs`, on real files, a real git repository and a real sealed bundle: the
 * second job on the same bundle gets the checkout from the cache (hard links of the entry, no
 * bundle unpacked); an entry evicted, a job whose disk is too small for the cached checkout, or
 * another bundle of the same base take the full path, with its checks. No job's inputs hold a tar
 * of the worktree, nor does the cache: it is made for the job that unpacks one only.
 */
import { assert, assertEquals, assertRejects } from "../../../../../harness/assert.ts";
import { tempGitRepo } from "../../../../../harness/temp_git_repo.ts";
import { withTempDir } from "../../../../support/temp_dir.ts";
import { createRepositoryBundle } from "../../../../../roles/agent_work/repository_bundle.ts";
import { sealBlob } from "../../../../../roles/agent_work/sealed_blob.ts";
import {
  type AgentTaskInputsRequest,
  prepareAgentTaskInputs,
  worktreeTarInput,
} from "../../../../../roles/agent_work/provider/agent_task_inputs.ts";
import {
  ExpandedTooLargeError,
  SealedBlobTamperedError,
} from "../../../../../roles/agent_work/agent_work_errors.ts";
import { openCheckoutCache } from "../../../../../roles/agent_work/provider/checkout_cache.ts";
import type { SkillJob } from "../../../../../roles/provider/sandbox/skill_sandbox.ts";
import { bytesToHex } from "@noble/hashes/utils.js";

async function setUp(tmp: string, maxBytes?: number) {
  const repo = await tempGitRepo(`${tmp}/repo`);
  await repo.commit("one", { "a.txt": "one\n" });
  const base = await repo.commit("two", { "a.txt": "two\n", "b.txt": "b".repeat(1000) });
  /** A sealed bundle of the base, to the depth, as a requester sends it. */
  const sealedBundle = async (depth: number) => {
    await createRepositoryBundle({ repoDir: repo.dir, outPath: `${tmp}/plain`, depth });
    const { sealed, key } = await sealBlob(await Deno.readFile(`${tmp}/plain`));
    const path = `${tmp}/sealed-${depth}`;
    await Deno.writeFile(path, sealed);
    return { path, key: bytesToHex(key) };
  };
  const cache = openCheckoutCache({ dir: `${tmp}/cache`, maxBytes });
  let jobs = 0;
  /** One job's inputs made in a host dir of its own, then kept as at its end; the host dir. */
  const prepare = async (blob: { path: string; key: string }, diskBytes = 1 << 30) => {
    const hostDir = `${tmp}/job-${++jobs}.agent`;
    await Deno.mkdir(hostDir);
    const job = {
      files: [{ path: blob.path, name: "repo" }],
      manifest: { diskBytes },
    } as unknown as SkillJob;
    const request: AgentTaskInputsRequest = {
      repoBlob: "repo",
      repoKey: blob.key,
      task: JSON.stringify({ title: "t" }),
      base,
      protect: [],
      accept: "true",
      preset: { command: "true" },
    };
    const made = await prepareAgentTaskInputs(job, request, hostDir, cache);
    inputs.set(hostDir, made.files.map((f) => f.name));
    const kept = await made.keep();
    if (kept !== undefined) await Deno.symlink(kept, `${hostDir}/kept`);
    return hostDir;
  };
  const inputs = new Map<string, string[]>();
  /** Whether the job's checkout is the cache's (hard links of the entry's files, no bundle). */
  const fromCache = async (hostDir: string) =>
    ((await Deno.stat(`${hostDir}/pristine/a.txt`).catch(() => undefined))?.nlink ?? 1) > 1 &&
    !await Deno.stat(`${hostDir}/repo.bundle`).then(() => true, () => false);
  /** The checkout's files at the base, as the job gets them (in the cache once kept). */
  const files = async (hostDir: string) => {
    const kept = await Deno.stat(`${hostDir}/kept`).then(() => true, () => false);
    const out = await new Deno.Command("git", {
      args: ["-C", kept ? `${hostDir}/kept` : `${hostDir}/pristine`, "ls-files", "-s"],
      stdout: "piped",
    }).output();
    return new TextDecoder().decode(out.stdout);
  };
  return { base, sealedBundle, prepare, fromCache, files, inputs, cacheDir: `${tmp}/cache` };
}

Deno.test("a second job on the same sealed bundle takes its checkout from the cache, the same files at the same base", async () => {
  await withTempDir(async (tmp) => {
    const t = await setUp(tmp);
    const blob = await t.sealedBundle(1);
    const first = await t.prepare(blob);
    assertEquals(await t.fromCache(first), false);
    const second = await t.prepare(blob);
    assert(await t.fromCache(second), "the second checkout was made again");
    assertEquals(await t.files(second), await t.files(first));
    // The job's copy removed, as at the end of a run, leaves the cache's entry whole.
    await Deno.remove(second, { recursive: true });
    assert(await t.fromCache(await t.prepare(blob)));
    // The same blob with another key is not the same bundle: a miss, whose open fails.
    await assertRejects(
      () => t.prepare({ ...blob, key: "00".repeat(32) }),
      SealedBlobTamperedError,
    );
    // Found by the sealed blob and its key: a hit neither reads nor opens the blob.
    await Deno.writeFile(blob.path, crypto.getRandomValues(new Uint8Array(64)));
    assert(await t.fromCache(await t.prepare(blob)), "a hit read the blob");
  });
});

Deno.test("an evicted entry, a job whose disk is too small for the cached checkout, or another bundle of the base take the full path", async () => {
  await withTempDir(async (tmp) => {
    const t = await setUp(tmp);
    const blob = await t.sealedBundle(1);
    await t.prepare(blob);
    // Too small a disk for the cached checkout: the full path, whose own check refuses it
    // (the base's files take 1,004 bytes, the job may check out 600).
    await assertRejects(() => t.prepare(blob, 1200), ExpandedTooLargeError);
    // Another bundle of the same base (another depth): its own checkout, checked.
    const deeper = await t.prepare(await t.sealedBundle(2));
    assertEquals(await t.fromCache(deeper), false);
    // Every entry gone: the full path again, then kept again.
    await Deno.remove(t.cacheDir, { recursive: true });
    assertEquals(await t.fromCache(await t.prepare(blob)), false);
    assert(await t.fromCache(await t.prepare(blob)));
  });
});

Deno.test("past its size cap the checkout cache drops the least recently used entry, whose next job takes the full path", async () => {
  await withTempDir(async (tmp) => {
    await Deno.mkdir(`${tmp}/sizing`), await Deno.mkdir(`${tmp}/run`);
    const sized = await setUp(`${tmp}/sizing`);
    await sized.prepare(await sized.sealedBundle(2));
    // The entry's size as the cache counts it (kept with it).
    const [entry] = [...Deno.readDirSync(sized.cacheDir)];
    const one = Number(await Deno.readTextFile(`${sized.cacheDir}/${entry.name}/disk`));
    await Deno.remove(sized.cacheDir, { recursive: true });
    // Room for one entry and a half: the second kept drops the first.
    const t = await setUp(`${tmp}/run`, Math.floor(one * 1.5));
    const shallow = await t.sealedBundle(1);
    const deep = await t.sealedBundle(2);
    await t.prepare(shallow);
    assert(await t.fromCache(await t.prepare(shallow)));
    await new Promise((r) => setTimeout(r, 20));
    await t.prepare(deep);
    assert(await t.fromCache(await t.prepare(deep)));
    assertEquals(await t.fromCache(await t.prepare(shallow)), false);
  });
});

Deno.test("no job's inputs hold a tar of the worktree, nor does the cache: it is made from the checkout for the job that unpacks one", async () => {
  await withTempDir(async (tmp) => {
    const t = await setUp(tmp);
    const blob = await t.sealedBundle(1);
    const first = await t.prepare(blob);
    const second = await t.prepare(blob);
    assert(await t.fromCache(second));
    const exists = (path: string) => Deno.stat(path).then(() => true, () => false);
    for (const hostDir of [first, second]) {
      assertEquals(t.inputs.get(hostDir)!.includes("worktree.tar"), false);
      assertEquals(await exists(`${hostDir}/worktree.tar`), false);
    }
    for (const entry of Deno.readDirSync(t.cacheDir)) {
      assertEquals([...Deno.readDirSync(`${t.cacheDir}/${entry.name}`)].map((e) => e.name).sort(), [
        "base",
        "bytes",
        "disk",
        "pristine",
      ]);
    }
    // Made on demand from the job's checkout: the base's files.
    const tar = await worktreeTarInput(second);
    assertEquals(tar, { path: `${second}/worktree.tar`, name: "worktree.tar" });
    const listed = await new Deno.Command("tar", { args: ["-tf", tar.path], stdout: "piped" })
      .output();
    const names = new TextDecoder().decode(listed.stdout).split("\n");
    assert(names.includes("./a.txt") && names.includes("./b.txt"), names.join(" "));
  });
});
