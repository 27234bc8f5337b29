/**
 * The in-process commit writer, with real git: stored (uncompressed) small objects git reads
 * (`git fsck --strict`), objects the tip already has not written again, bytes handed over not
 * read back, and a writer opened on a state dir with subdirectories writing git's tree modes.
 */
import { assert, assertEquals } from "../../../../harness/assert.ts";
import { inflateSync } from "node:zlib";
import { openGitCommitWriter, zlibStored } from "../../../../state/audit/git_commit_writer.ts";

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

/** The loose object file of `sha`. */
const objectPath = (dir: string, sha: string) =>
  `${dir}/.git/objects/${sha.slice(0, 2)}/${sha.slice(2)}`;

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

Deno.test("git commit writer: small objects stored, unchanged ones not rewritten, handed bytes not read", async () => {
  const { dir, writer } = await repoWith({ "jobs/a.toml": "a\n", "jobs/b.toml": "b\n" });
  try {
    const text = 'status = "sent"\n'.repeat(20);
    await Deno.writeTextFile(`${dir}/jobs/a.toml`, text);
    assert(await writer.commit(["jobs/a.toml"], "turnpike: update job a\n"));
    const blob = (await git(dir, "rev-parse", "HEAD:jobs/a.toml")).trim();
    const tree = (await git(dir, "rev-parse", "HEAD:jobs")).trim();
    // Stored: the file is the raw object plus zlib's 2-byte header, one 5-byte block header
    // and the 4-byte checksum.
    const raw = `blob ${text.length}\0${text}`.length;
    assertEquals((await Deno.stat(objectPath(dir, blob))).size, raw + 11);
    assertEquals((await Deno.stat(objectPath(dir, blob))).mode! & 0o777, 0o444);
    const before = {
      blob: (await Deno.stat(objectPath(dir, blob))).ino,
      tree: (await Deno.stat(objectPath(dir, tree))).ino,
    };
    // The same bytes again (a commit whose message is the record): neither the blob nor the
    // jobs/ tree is written again (a rewrite would be a new file: a new inode).
    assert(await writer.commit(["jobs/a.toml"], "turnpike: pay job a\n"));
    assertEquals({
      blob: (await Deno.stat(objectPath(dir, blob))).ino,
      tree: (await Deno.stat(objectPath(dir, tree))).ino,
    }, before);
    assertEquals((await git(dir, "rev-parse", "HEAD:jobs")).trim(), tree);
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
    // A large object is still deflated (smaller than its raw bytes) and git reads it.
    const big = "x".repeat(100_000);
    assert(
      await writer.commit(
        ["jobs/big.toml"],
        "turnpike: create job big\n",
        new Map([["jobs/big.toml", new TextEncoder().encode(big)]]),
      ),
    );
    const bigSha = (await git(dir, "rev-parse", "HEAD:jobs/big.toml")).trim();
    assert((await Deno.stat(objectPath(dir, bigSha))).size < 10_000);
    await git(dir, "fsck", "--strict", "--no-dangling");
    assertEquals((await git(dir, "cat-file", "-p", bigSha)).length, 100_000);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
