/**
 * state/file_replace.ts: a file replaced by `renameat2(RENAME_EXCHANGE)` and an unlink (Linux,
 * FFI allowed, as the tests and the CLI run), never missing for a reader in another process, and
 * a plain rename where there is nothing to replace.
 */
import { assert, assertEquals } from "../../../harness/assert.ts";
import { exchangeAvailable, replaceFile } from "../../../state/file_replace.ts";

Deno.test("file replace: on Linux with FFI the replacement is an exchange", () => {
  if (Deno.build.os !== "linux") return;
  assertEquals(exchangeAvailable(), true);
});

Deno.test("file replace: the new file takes the path, its old name is gone, the old file too", async () => {
  const dir = await Deno.makeTempDir();
  try {
    await Deno.writeTextFile(`${dir}/ref`, "old\n");
    await Deno.writeTextFile(`${dir}/ref.lock`, "new\n", { mode: 0o644 });
    await Deno.chmod(`${dir}/ref.lock`, 0o644);
    const made = await Deno.stat(`${dir}/ref.lock`);
    await replaceFile(`${dir}/ref.lock`, `${dir}/ref`);
    const now = await Deno.stat(`${dir}/ref`);
    assertEquals(await Deno.readTextFile(`${dir}/ref`), "new\n");
    assertEquals([now.ino, now.mode! & 0o777], [made.ino, 0o644]);
    assertEquals([...Deno.readDirSync(dir)].map((e) => e.name), ["ref"]);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("file replace: with nothing at the path it is a move; a missing source throws", async () => {
  const dir = await Deno.makeTempDir();
  try {
    await Deno.writeTextFile(`${dir}/a`, "x");
    await replaceFile(`${dir}/a`, `${dir}/b`);
    assertEquals(await Deno.readTextFile(`${dir}/b`), "x");
    let threw = false;
    try {
      replaceFile(`${dir}/a`, `${dir}/b`);
    } catch (err) {
      threw = err instanceof Deno.errors.NotFound;
    }
    assert(threw, "a source that is not there is NotFound, as for Deno.renameSync");
    assertEquals(await Deno.readTextFile(`${dir}/b`), "x");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("file replace: a directory at the path is refused, as a rename refuses it, and kept", async () => {
  const dir = await Deno.makeTempDir();
  try {
    await Deno.mkdir(`${dir}/mark`);
    await Deno.writeTextFile(`${dir}/mark/inside`, "kept");
    await Deno.writeTextFile(`${dir}/new`, "x");
    let threw = false;
    try {
      await replaceFile(`${dir}/new`, `${dir}/mark`);
    } catch (err) {
      threw = err instanceof Deno.errors.IsADirectory || err instanceof Error;
    }
    assert(threw, "a file is not put over a directory");
    assertEquals((await Deno.stat(`${dir}/mark`)).isDirectory, true);
    assertEquals(await Deno.readTextFile(`${dir}/mark/inside`), "kept");
    assertEquals(await Deno.readTextFile(`${dir}/new`), "x");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("file replace: a reader in another process never finds the path missing", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const path = `${dir}/ref`;
    await Deno.writeTextFile(path, "0\n");
    // The reader opens and reads the path until told to stop, counting what it could not open.
    const reader = new Deno.Command(Deno.execPath(), {
      args: [
        "eval",
        `let reads = 0, missing = 0;
         while (true) {
           try { Deno.readTextFileSync(${JSON.stringify(path)}); reads++; }
           catch { missing++; }
           try { Deno.statSync(${JSON.stringify(`${dir}/stop`)}); break; } catch { /* go on */ }
         }
         console.log(JSON.stringify({ reads, missing }));`,
      ],
      stdout: "piped",
    }).spawn();
    for (let i = 1; i <= 3000; i++) {
      Deno.writeTextFileSync(`${path}.lock`, `${i}\n`);
      await replaceFile(`${path}.lock`, path);
    }
    await Deno.writeTextFile(`${dir}/stop`, "");
    const out = JSON.parse(new TextDecoder().decode((await reader.output()).stdout));
    assert(out.reads > 0, "the reader read");
    assertEquals(out.missing, 0);
    assertEquals(await Deno.readTextFile(path), "3000\n");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
