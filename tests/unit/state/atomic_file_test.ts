import { assert, assertEquals, assertRejects } from "../../../harness/assert.ts";
import { withTempDir } from "../../support/temp_dir.ts";
import {
  AtomicWriteError,
  removeStaleTempFiles,
  writeFileAtomic,
} from "../../../state/atomic_file.ts";

Deno.test("writeFileAtomic writes with mode 0600 and leaves no temp file", async () => {
  await withTempDir(async (dir) => {
    const path = `${dir}/state.toml`;
    await writeFileAtomic(path, "a = 1\n");
    assertEquals(await Deno.readTextFile(path), "a = 1\n");
    assertEquals((await Deno.stat(path)).mode! & 0o777, 0o600);
    await writeFileAtomic(path, new TextEncoder().encode("a = 2\n"), { mode: 0o640 });
    assertEquals(await Deno.readTextFile(path), "a = 2\n");
    assertEquals((await Deno.stat(path)).mode! & 0o777, 0o640);
    assertEquals([...Deno.readDirSync(dir)].map((e) => e.name), ["state.toml"]);
  });
});

Deno.test("writeFileAtomic replaces a file that had looser permissions with 0600", async () => {
  await withTempDir(async (dir) => {
    const path = `${dir}/x`;
    await Deno.writeTextFile(path, "old", { mode: 0o644 });
    await Deno.chmod(path, 0o644);
    await writeFileAtomic(path, "new");
    assertEquals((await Deno.stat(path)).mode! & 0o777, 0o600);
  });
});

Deno.test("writeFileAtomic fails cleanly into a missing directory", async () => {
  await withTempDir(async (dir) => {
    await assertRejects(() => writeFileAtomic(`${dir}/nope/x`, "data"), AtomicWriteError);
    await assertRejects(() => writeFileAtomic(`${dir}/`, "data"), AtomicWriteError);
    assertEquals([...Deno.readDirSync(dir)].length, 0);
  });
});

Deno.test("writeFileAtomic: 50 concurrent writers, the file is always one whole version", async () => {
  await withTempDir(async (dir) => {
    const path = `${dir}/c`;
    const versions = Array.from({ length: 50 }, (_, i) => `${i}:`.padEnd(10_000, String(i % 10)));
    await Promise.all(versions.map((v) => writeFileAtomic(path, v)));
    assert(versions.includes(await Deno.readTextFile(path)));
    assertEquals([...Deno.readDirSync(dir)].map((e) => e.name), ["c"]);
  });
});

Deno.test("kill -9 during a write loop: the file is always the old or the new content", async () => {
  // A real subprocess rewrites the file in a loop alternating two 256 KiB contents; we SIGKILL
  // it at varying moments and check the survivor is exactly one of them.
  await withTempDir(async (dir) => {
    const path = `${dir}/victim`;
    const a = "A".repeat(256 * 1024);
    const b = "B".repeat(256 * 1024);
    const moduleUrl = new URL("../../../state/atomic_file.ts", import.meta.url).href;
    const code = `
      import { writeFileAtomic } from ${JSON.stringify(moduleUrl)};
      const a = "A".repeat(256 * 1024), b = "B".repeat(256 * 1024);
      await writeFileAtomic(${JSON.stringify(path)}, a);
      console.log("ready");
      for (let i = 0; ; i++) await writeFileAtomic(${JSON.stringify(path)}, i % 2 ? a : b);
    `;
    for (let round = 0; round < 6; round++) {
      const child = new Deno.Command(Deno.execPath(), {
        args: ["eval", code],
        stdout: "piped",
        stderr: "null",
        env: { NO_COLOR: "1" },
      }).spawn();
      const reader = child.stdout.getReader();
      const first = await reader.read(); // "ready": the loop is about to start
      assert(new TextDecoder().decode(first.value).startsWith("ready"));
      // Let it rewrite a varying number of times before the kill.
      for (let i = 0; i < round * 3; i++) await new Promise((r) => setTimeout(r, 1));
      child.kill("SIGKILL");
      await child.status;
      await reader.cancel();
      const content = await Deno.readTextFile(path);
      assert(content === a || content === b, `torn file of ${content.length} chars`);
      assertEquals((await Deno.stat(path)).mode! & 0o777, 0o600);
      await removeStaleTempFiles(path);
    }
    // Only the victim remains once stale temp files are swept.
    assertEquals([...Deno.readDirSync(dir)].map((e) => e.name), ["victim"]);
  });
});
