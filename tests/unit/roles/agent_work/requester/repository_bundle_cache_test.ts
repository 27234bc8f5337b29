/**
 * The requester's cache of sealed repository bundles (roles/agent_work/requester/
 * repository_bundle_cache.ts) on real files and a real git repository: a second task on the same
 * base, depth and provider gets the same sealed blob and key without bundling; another provider
 * or depth gets its own; an entry corrupted or evicted is a miss, and the task takes the full
 * path with a fresh key.
 */
import { assert, assertEquals, assertNotEquals } from "../../../../../harness/assert.ts";
import { tempGitRepo } from "../../../../../harness/temp_git_repo.ts";
import { sealAgentTask } from "../../../../../roles/agent_work/requester/agent_task_out.ts";
import { openBundleCache } from "../../../../../roles/agent_work/requester/repository_bundle_cache.ts";
import { openBlob } from "../../../../../roles/agent_work/sealed_blob.ts";
import { agentTaskFromText } from "../../../../../roles/agent_work/agent_task.ts";
import { hexToBytes } from "@noble/hashes/utils.js";

const PROVIDER_A = "a1".repeat(32);
const PROVIDER_B = "b2".repeat(32);

async function setUp() {
  const root = await Deno.makeTempDir({ prefix: "turnpike-bundle-cache-" });
  const repo = await tempGitRepo(`${root}/repo`);
  await repo.commit("one", { "a.txt": "one\n" });
  await repo.commit("two", { "a.txt": "two\n", "b.txt": "b\n" });
  const cacheDir = `${root}/profile/repository-bundles`;
  /** One task's parts: the sealed blob's bytes and the key its params carry. */
  const seal = async (provider: string, depth = 1, maxEntries?: number) => {
    const parts = await sealAgentTask({
      repo: repo.dir,
      depth,
      task: agentTaskFromText({ title: "t", text: "" }),
      agent: "fix",
      accept: "true",
      protect: [],
      provider,
      directory: [],
      cache: openBundleCache({ dir: cacheDir, maxEntries }),
    });
    const sealed = await Deno.readFile(parts.sealedPath);
    await Deno.remove(parts.sealedPath);
    const key = parts.params.find((p) => p.name === "repo-key")!.values[0];
    // Every blob handed out opens with the key its task sends.
    await openBlob(sealed, hexToBytes(key) as Uint8Array<ArrayBuffer>);
    return { sealed, key };
  };
  const entries = async () => {
    const names: string[] = [];
    for await (const e of Deno.readDir(cacheDir)) names.push(e.name);
    return names.sort();
  };
  return { root, repo, cacheDir, seal, entries };
}

Deno.test("a second task on the same base, depth and provider sends the same sealed blob and key; another provider or depth gets a blob and key of its own", async () => {
  const t = await setUp();
  try {
    const first = await t.seal(PROVIDER_A);
    const second = await t.seal(PROVIDER_A);
    assertEquals(second.key, first.key);
    assertEquals(second.sealed, first.sealed);
    const other = await t.seal(PROVIDER_B);
    assertNotEquals(other.key, first.key);
    assertNotEquals(other.sealed, first.sealed);
    const deeper = await t.seal(PROVIDER_A, 2);
    assertNotEquals(deeper.key, first.key);
    assertEquals((await t.entries()).filter((n) => n.endsWith(".sealed")).length, 3);
    // Nothing handed out is left behind in the cache's folder.
    assert((await t.entries()).every((n) => !n.startsWith(".")), String(await t.entries()));
  } finally {
    await Deno.remove(t.root, { recursive: true });
  }
});

Deno.test("a cache entry corrupted (a changed byte, one with its mtime set back, a truncated blob, a changed key) is dropped and the task seals afresh with a new key", async () => {
  const t = await setUp();
  try {
    const first = await t.seal(PROVIDER_A);
    const sealedFile = (await t.entries()).find((n) => n.endsWith(".sealed"))!;
    const path = `${t.cacheDir}/${sealedFile}`;
    const bytes = await Deno.readFile(path);
    bytes[bytes.length - 1] ^= 1;
    await Deno.writeFile(path, bytes);
    const afterFlip = await t.seal(PROVIDER_A);
    assertNotEquals(afterFlip.key, first.key);

    // The entry is trusted without opening only while its file is the one the cache left: a byte
    // changed in place with the mtime set back is still found (the file's ctime moved). Deno
    // reads a ctime to the second: the write waits for the next one.
    const before = await Deno.stat(path);
    const flipped = await Deno.readFile(path);
    flipped[flipped.length - 1] ^= 1;
    await new Promise((r) => setTimeout(r, 1000 - before.ctime!.getTime() % 1000 + 20));
    await Deno.writeFile(path, flipped);
    await Deno.utime(path, before.atime!, before.mtime!);
    assertEquals((await Deno.stat(path)).mtime, before.mtime);
    const afterQuietFlip = await t.seal(PROVIDER_A);
    assertNotEquals(afterQuietFlip.key, afterFlip.key);

    await Deno.truncate(path, 40);
    const afterCut = await t.seal(PROVIDER_A);
    assertNotEquals(afterCut.key, afterQuietFlip.key);

    const json = `${path.slice(0, -".sealed".length)}.json`;
    const entry = JSON.parse(await Deno.readTextFile(json));
    await Deno.writeTextFile(json, JSON.stringify({ ...entry, key: "00".repeat(32) }));
    const afterKey = await t.seal(PROVIDER_A);
    assertNotEquals(afterKey.key, afterCut.key);
    assertNotEquals(afterKey.key, "00".repeat(32));
    // And the entry rewritten by that full path is a hit again.
    assertEquals((await t.seal(PROVIDER_A)).key, afterKey.key);

    // An entry without a stamp (kept by an older version) is opened in full once, then stamped.
    const kept = JSON.parse(await Deno.readTextFile(json));
    delete kept.stamp;
    await Deno.writeTextFile(json, JSON.stringify(kept));
    assertEquals((await t.seal(PROVIDER_A)).key, afterKey.key);
    assert(JSON.parse(await Deno.readTextFile(json)).stamp, "stamped after its full check");
  } finally {
    await Deno.remove(t.root, { recursive: true });
  }
});

Deno.test("past its bound the cache evicts the least recently used entry, whose next task takes the full path", async () => {
  const t = await setUp();
  try {
    const a = await t.seal(PROVIDER_A, 1, 2);
    const b = await t.seal(PROVIDER_B, 1, 2);
    // A used again after B: B is now the least recently used, and goes when C comes.
    await new Promise((r) => setTimeout(r, 20));
    assertEquals((await t.seal(PROVIDER_A, 1, 2)).key, a.key);
    await t.seal(PROVIDER_A, 2, 2);
    assertEquals((await t.entries()).filter((n) => n.endsWith(".json")).length, 2);
    assertEquals((await t.seal(PROVIDER_A, 1, 2)).key, a.key);
    assertNotEquals((await t.seal(PROVIDER_B, 1, 2)).key, b.key);
  } finally {
    await Deno.remove(t.root, { recursive: true });
  }
});

Deno.test("a new base within the depth goes as a delta from the provider's kept base, with that base's very blob, to a provider that takes deltas; sent again as is; a whole bundle when the kept base is gone", async () => {
  const t = await setUp();
  try {
    const cache = openBundleCache({ dir: t.cacheDir });
    // Each provider announces agent-task; A says it takes deltas, B does not.
    const skills = (repoDeltas: boolean) => [{
      name: "agent-task",
      kinds: [5603],
      price: "1",
      ...(repoDeltas ? { repoDeltas: true as const } : {}),
    }];
    const directory = [
      { pubkey: PROVIDER_A, name: "a", online: true, skills: skills(true) },
      { pubkey: PROVIDER_B, name: "b", online: true, skills: skills(false) },
    ];
    const parts = async (provider: string) =>
      await sealAgentTask({
        repo: t.repo.dir,
        depth: 5,
        task: agentTaskFromText({ title: "t", text: "" }),
        agent: "fix",
        accept: "true",
        protect: [],
        provider,
        directory,
        cache,
      });
    const read = async (p: Awaited<ReturnType<typeof parts>>) => {
      const out = {
        whole: await Deno.readFile(p.sealedPath),
        key: p.params.find((x) => x.name === "repo-key")!.values[0],
        delta: p.delta && await Deno.readFile(p.delta.path),
        deltaParam: p.params.find((x) => x.name === "repo-delta")?.values,
      };
      await Deno.remove(p.sealedPath);
      if (p.delta) await Deno.remove(p.delta.path);
      return out;
    };
    const first = await read(await parts(PROVIDER_A));
    assertEquals(first.delta, undefined);
    const from = await t.repo.git("rev-parse", "HEAD");
    const base = await t.repo.commit("three", { "c.txt": "c\n" });

    const second = await read(await parts(PROVIDER_A));
    // The kept base's very blob and key, and a delta from it, its sha256 and key in the params.
    assertEquals([second.whole, second.key], [first.whole, first.key]);
    assert(second.delta !== undefined && second.deltaParam !== undefined);
    const [deltaKey] = second.deltaParam;
    const plain = new TextDecoder().decode(
      await openBlob(second.delta, hexToBytes(deltaKey) as Uint8Array<ArrayBuffer>),
    );
    assert(plain.startsWith(`# v2 git bundle\n-${from}`), plain.slice(0, 120));
    assert(plain.includes(`${base} refs/turnpike/base`));
    // The same base again: the same two blobs and keys, nothing made.
    const third = await read(await parts(PROVIDER_A));
    assertEquals(third, second);
    // Another provider was sent nothing: a whole bundle of its own; nor does it take deltas: the
    // next base goes to it whole too.
    assertEquals((await read(await parts(PROVIDER_B))).delta, undefined);
    await t.repo.commit("three and a half", { "d.txt": "d\n" });
    assertEquals((await read(await parts(PROVIDER_B))).delta, undefined);
    await t.repo.git("reset", "-q", "--hard", base);

    // The kept base's entry gone: the delta's entry is a miss, and the base goes whole.
    for (const name of await t.entries()) {
      if (!name.endsWith(".json")) continue;
      const entry = JSON.parse(await Deno.readTextFile(`${t.cacheDir}/${name}`));
      if (entry.base === from) await Deno.remove(`${t.cacheDir}/${name}`);
    }
    const fourth = await read(await parts(PROVIDER_A));
    assertEquals(fourth.delta, undefined);
    assertNotEquals(fourth.key, first.key);
    // A delta kept for a provider that has since stopped saying it takes them: the base goes whole.
    const next = await t.repo.commit("four", { "e.txt": "e\n" });
    assert((await read(await parts(PROVIDER_A))).delta !== undefined);
    directory[0].skills = skills(false);
    const whole = await read(await parts(PROVIDER_A));
    assertEquals(whole.delta, undefined);
    assertEquals(await t.repo.git("rev-parse", "HEAD"), next);
  } finally {
    await Deno.remove(t.root, { recursive: true });
  }
});
