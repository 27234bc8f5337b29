import { assert, assertEquals, assertRejects } from "../../../harness/assert.ts";
import { withTempDir } from "../../support/temp_dir.ts";
import { DirSyncGroup } from "../../../state/dir_sync_group.ts";
import { dirSyncs, writeFileAtomic } from "../../../state/atomic_file.ts";

Deno.test("DirSyncGroup: twenty callers at once cost two directory fsyncs, not twenty", async () => {
  await withTempDir(async (dir) => {
    const group = new DirSyncGroup();
    await Promise.all(Array.from({ length: 20 }, () => group.sync(dir)));
    // The first starts at once; the other nineteen came while it ran and share the next one.
    assertEquals(group.calls, 20);
    assertEquals(group.fsyncs, 2);
    await group.sync(dir);
    assertEquals(group.fsyncs, 3);
  });
});

Deno.test("DirSyncGroup: every caller resolves after an fsync that started after its call", async () => {
  await withTempDir(async (dir) => {
    // The real fsync, with its start and end written down in the order they happen.
    const log: string[] = [];
    let n = 0;
    const group = new DirSyncGroup({
      fsyncDir: async (d) => {
        const i = n++;
        log.push(`start ${i}`);
        using handle = Deno.openSync(d, { read: true });
        await handle.sync();
        log.push(`end ${i}`);
      },
    });
    const waits: Promise<void>[] = [];
    const call = (name: string) => {
      log.push(`call ${name}`);
      waits.push(group.sync(dir).then(() => void log.push(`done ${name}`)));
    };
    call("a");
    call("b");
    await new Promise((r) => setTimeout(r, 0));
    call("c");
    await Promise.all(waits);
    await group.sync(dir);
    for (const name of ["a", "b", "c"]) {
      const called = log.indexOf(`call ${name}`);
      const done = log.indexOf(`done ${name}`);
      const started = log.slice(called, done).find((e) => e.startsWith("start "));
      assert(started !== undefined, `${name}: no fsync started between its call and its end`);
      assert(
        log.indexOf(`end ${started.slice(6)}`) < done,
        `${name} resolved before the fsync it shares ended: ${log.join(", ")}`,
      );
    }
  });
});

Deno.test("DirSyncGroup: an fsync's error reaches each caller that shared it", async () => {
  await withTempDir(async (dir) => {
    const group = new DirSyncGroup();
    const missing = `${dir}/gone`;
    const results = await Promise.allSettled([group.sync(missing), group.sync(missing)]);
    assertEquals(results.map((r) => r.status), ["rejected", "rejected"]);
    await assertRejects(() => group.sync(missing), Deno.errors.NotFound);
  });
});

Deno.test("writeFileAtomic: concurrent writes into one directory share its fsyncs", async () => {
  await withTempDir(async (dir) => {
    const before = { calls: dirSyncs.calls, fsyncs: dirSyncs.fsyncs };
    await Promise.all(
      Array.from({ length: 16 }, (_, i) => writeFileAtomic(`${dir}/r${i}.toml`, `i = ${i}\n`)),
    );
    assertEquals(dirSyncs.calls - before.calls, 16);
    assert(dirSyncs.fsyncs - before.fsyncs < 16, `${dirSyncs.fsyncs - before.fsyncs} fsyncs`);
    for (let i = 0; i < 16; i++) {
      assertEquals(await Deno.readTextFile(`${dir}/r${i}.toml`), `i = ${i}\n`);
    }
  });
});
