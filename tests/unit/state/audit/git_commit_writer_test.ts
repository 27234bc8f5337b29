/**
 * The in-process commit writer, with real git: stored (uncompressed) small objects git reads
 * (`git fsck --strict`), objects the tip already has not written again, bytes handed over not
 * read back, and a writer opened on a state dir with subdirectories writing git's tree modes.
 */
import { assert, assertEquals } from "../../../../harness/assert.ts";
import { inflateSync } from "node:zlib";
import { openGitCommitWriter } from "../../../../state/audit/git_commit_writer.ts";
import { zlibStored } from "../../../../state/audit/git_pack_writer.ts";

async function git(dir: string, ...args: string[]): Promise<string> {
  const out = await new Deno.Command("git", {
    args: ["-c", "user.name=t", "-c", "user.email=t@localhost", "-C", dir, ...args],
    stderr: "piped",
  }).output();
  assert(out.success, `git ${args[0]}: ${new TextDecoder().decode(out.stderr)}`);
  return new TextDecoder().decode(out.stdout);
}

/** A repository with `files` committed by git itself, and a writer opened on it. */
async function repoWith(files: Record<string, string>) {
  const dir = await Deno.makeTempDir();
  await git(dir, "init", "-q", "-b", "main");
  for (const [path, text] of Object.entries(files)) {
    await Deno.mkdir(`${dir}/${path}`.replace(/\/[^/]+$/, ""), { recursive: true });
    await Deno.writeTextFile(`${dir}/${path}`, text);
  }
  await git(dir, "add", "-A", ".");
  await git(dir, "commit", "-q", "-m", "start");
  const writer = await openGitCommitWriter({
    dir,
    run: (args) => git(dir, ...args),
    ignored: () => false,
    identity: "turnpike <turnpike@localhost>",
  });
  assert(writer !== undefined);
  return { dir, writer };
}

/** How many loose objects the repository has. */
async function looseObjects(dir: string): Promise<number> {
  let n = 0;
  for await (const d of Deno.readDir(`${dir}/.git/objects`)) {
    if (!/^[0-9a-f]{2}$/.test(d.name)) continue;
    for await (const _ of Deno.readDir(`${dir}/.git/objects/${d.name}`)) n++;
  }
  return n;
}

/** The pack indexes in the repository (file names). */
async function packIndexes(dir: string): Promise<string[]> {
  const names: string[] = [];
  for await (const e of Deno.readDir(`${dir}/.git/objects/pack`)) {
    if (e.name.endsWith(".idx")) names.push(e.name);
  }
  return names.sort();
}

/** The ids of a pack's objects as `git verify-pack` reads them (which also checks it). */
async function packObjects(dir: string, idx: string): Promise<string[]> {
  const out = await git(dir, "verify-pack", "-v", `${dir}/.git/objects/pack/${idx}`);
  return out.split("\n").filter((l) => /^[0-9a-f]{40} /.test(l)).map((l) => l.slice(0, 40)).sort();
}

Deno.test("git commit writer: zlibStored is zlib's format for any size, one block or several", () => {
  for (const size of [0, 1, 100, 5552, 5553, 65535, 65536, 200_000]) {
    const raw = new Uint8Array(size).map((_, i) => (i * 7 + (i >> 9)) & 0xff);
    const stored = zlibStored(raw);
    assertEquals(stored.length, 2 + Math.max(1, Math.ceil(size / 0xffff)) * 5 + size + 4);
    // inflate checks the header and the Adler-32 trailer.
    assertEquals(new Uint8Array(inflateSync(stored)), raw, `size ${size}`);
  }
});

Deno.test("git commit writer: opened over subdirectories, a top-level change writes git's own tree", async () => {
  const { dir, writer } = await repoWith({ "jobs/a.toml": "a\n", "top.json": "{}\n" });
  try {
    await Deno.writeTextFile(`${dir}/top.json`, '{"n":1}\n');
    // Only the root tree is rewritten: its entry for jobs/ is the one read at open.
    assert(await writer.commit(["top.json"], "turnpike: update note top\n"));
    await git(dir, "fsck", "--strict", "--no-dangling");
    await writer.resyncIndex();
    assertEquals(await git(dir, "status", "--porcelain"), "");
    const index = `${dir}/.git/check-index`;
    const env = { GIT_INDEX_FILE: index };
    for (const args of [["add", "-A", "."], ["write-tree"]]) {
      const out = await new Deno.Command("git", { args: ["-C", dir, ...args], env }).output();
      assert(out.success);
      if (args[0] === "write-tree") {
        assertEquals(
          new TextDecoder().decode(out.stdout).trim(),
          (await git(dir, "rev-parse", "HEAD^{tree}")).trim(),
        );
      }
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("git commit writer: a commit's new objects are one pack (no loose object), unchanged ones not rewritten, handed bytes not read", async () => {
  const { dir, writer } = await repoWith({ "jobs/a.toml": "a\n", "jobs/b.toml": "b\n" });
  try {
    const loose0 = await looseObjects(dir);
    const text = 'status = "sent"\n'.repeat(20);
    await Deno.writeTextFile(`${dir}/jobs/a.toml`, text);
    assert(await writer.commit(["jobs/a.toml"], "turnpike: update job a\n"));
    const blob = (await git(dir, "rev-parse", "HEAD:jobs/a.toml")).trim();
    const tree = (await git(dir, "rev-parse", "HEAD:jobs")).trim();
    const root = (await git(dir, "rev-parse", "HEAD^{tree}")).trim();
    const head = (await git(dir, "rev-parse", "HEAD")).trim();
    // The blob, the two trees and the commit, in one new pack git verifies; nothing loose.
    let packs = await packIndexes(dir);
    assertEquals(packs.length, 1);
    assertEquals(await packObjects(dir, packs[0]), [blob, head, root, tree].sort());
    assertEquals(await looseObjects(dir), loose0);
    // The same bytes again (a commit whose message is the record): neither the blob nor a tree
    // is written again: the second pack holds the commit alone.
    assert(await writer.commit(["jobs/a.toml"], "turnpike: pay job a\n"));
    assertEquals((await git(dir, "rev-parse", "HEAD:jobs")).trim(), tree);
    const second = (await packIndexes(dir)).filter((p) => !packs.includes(p));
    assertEquals(second.length, 1);
    assertEquals(await packObjects(dir, second[0]), [(await git(dir, "rev-parse", "HEAD")).trim()]);
    packs = await packIndexes(dir);
    // Handed-over bytes are what is committed: the file is not read (here it says otherwise).
    const handed = new TextEncoder().encode('status = "done"\n');
    assert(
      await writer.commit(
        ["jobs/a.toml"],
        "turnpike: done job a\n",
        new Map([["jobs/a.toml", handed]]),
      ),
    );
    assertEquals(await git(dir, "show", "HEAD:jobs/a.toml"), 'status = "done"\n');
    assertEquals((await git(dir, "ls-tree", "HEAD", "jobs/a.toml")).slice(0, 6), "100644");
    await Deno.writeTextFile(`${dir}/jobs/a.toml`, 'status = "done"\n');
    assertEquals(await git(dir, "diff", "HEAD", "--stat"), "");
    // A large object is deflated (its pack smaller than its raw bytes) and git reads it.
    const big = "x".repeat(100_000);
    assert(
      await writer.commit(
        ["jobs/big.toml"],
        "turnpike: create job big\n",
        new Map([["jobs/big.toml", new TextEncoder().encode(big)]]),
      ),
    );
    const bigSha = (await git(dir, "rev-parse", "HEAD:jobs/big.toml")).trim();
    const bigPack = (await packIndexes(dir)).find((p) => !packs.includes(p))!;
    assert(
      (await Deno.stat(`${dir}/.git/objects/pack/${bigPack.replace(/idx$/, "pack")}`)).size <
        10_000,
    );
    await git(dir, "fsck", "--strict", "--no-dangling");
    assertEquals((await git(dir, "cat-file", "-p", bigSha)).length, 100_000);
    assertEquals(await looseObjects(dir), loose0, "still nothing loose");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
