/**
 * A pack written by hand (state/audit/git_pack_writer.ts) is one git reads and verifies: every
 * object's bytes and type back by `git cat-file`, the pack and its index by `git verify-pack`
 * and `git fsck --strict`, entry headers of one to four bytes, stored and deflated bodies.
 */
import { assert, assertEquals } from "../../../../harness/assert.ts";
import { createHash } from "node:crypto";
import { type PackObject, writeGitPack } from "../../../../state/audit/git_pack_writer.ts";

async function git(dir: string, args: string[], stdin?: string): Promise<string> {
  const child = new Deno.Command("git", {
    args: ["-C", dir, ...args],
    stdin: stdin === undefined ? "null" : "piped",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  if (stdin !== undefined) {
    const w = child.stdin.getWriter();
    await w.write(new TextEncoder().encode(stdin));
    await w.close();
  }
  const out = await child.output();
  assert(out.success, new TextDecoder().decode(out.stderr));
  return new TextDecoder().decode(out.stdout);
}

function object(type: PackObject["type"], content: Uint8Array): PackObject {
  const sha = createHash("sha1").update(`${type} ${content.length}\0`).update(content).digest(
    "hex",
  );
  return { sha, type, content };
}

Deno.test("git pack writer: git reads back every object of a hand-written pack, stored or deflated, of any size", async () => {
  const dir = await Deno.makeTempDir();
  try {
    await git(dir, ["init", "-q"]);
    // Sizes around the stored/deflated threshold and each header length (4, 11, 18, 25 bits).
    const sizes = [0, 1, 15, 16, 255, 256, 2047, 2048, 300_000, 3_000_000];
    const blobs = sizes.map((n, i) =>
      object("blob", new Uint8Array(n).map((_, k) => (k * 31 + i * 7 + (k >> 11)) & 0xff))
    );
    const tree = object(
      "tree",
      new Uint8Array([
        ...new TextEncoder().encode("100644 a\0"),
        ...Uint8Array.from(blobs[1].sha.match(/../g)!.map((h) => parseInt(h, 16))),
      ]),
    );
    const commit = object(
      "commit",
      new TextEncoder().encode(
        `tree ${tree.sha}\nauthor t <t@t> 1 +0000\ncommitter t <t@t> 1 +0000\n\nm\n`,
      ),
    );
    const all = [...blobs, tree, commit];
    const name = writeGitPack(`${dir}/.git`, all)!;
    const verified = await git(dir, ["verify-pack", "-v", `.git/objects/pack/${name}.idx`]);
    assertEquals(
      verified.split("\n").filter((l) => /^[0-9a-f]{40} /.test(l)).length,
      all.length,
    );
    for (const o of all) {
      assertEquals((await git(dir, ["cat-file", "-t", o.sha])).trim(), o.type);
      const size = Number((await git(dir, ["cat-file", "-s", o.sha])).trim());
      assertEquals(size, o.content.length);
      const bytes = await new Deno.Command("git", {
        args: ["-C", dir, "cat-file", o.type, o.sha],
        stdout: "piped",
      }).output();
      assertEquals(new Uint8Array(bytes.stdout), o.content, `${o.type} of ${size} bytes`);
    }
    await git(dir, ["update-ref", "refs/heads/main", commit.sha]);
    await git(dir, ["fsck", "--strict", "--no-progress"]);
    // Nothing is written for no objects, and no temp file is left.
    assertEquals(writeGitPack(`${dir}/.git`, []), undefined);
    const names = [...Deno.readDirSync(`${dir}/.git/objects/pack`)].map((e) => e.name).sort();
    assertEquals(names, [`${name}.idx`, `${name}.pack`]);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
