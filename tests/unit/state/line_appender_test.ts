import { assertEquals, assertRejects } from "../../../harness/assert.ts";
import { LineAppender } from "../../../state/line_appender.ts";

Deno.test("line appender: lines appended together all land, in order, after an unfinished line", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const path = `${dir}/log.jsonl`;
    await Deno.writeTextFile(path, '{"torn":');
    const log = new LineAppender(path, { needsNewline: true });
    await Promise.all(Array.from({ length: 50 }, (_, i) => log.append(`{"n":${i}}\n`)));
    const lines = (await Deno.readTextFile(path)).split("\n");
    assertEquals(lines[0], '{"torn":');
    assertEquals(lines.slice(1, -1), Array.from({ length: 50 }, (_, i) => `{"n":${i}}`));
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("line appender: a failed batch rejects its lines; the next line starts on its own line", async () => {
  const dir = await Deno.makeTempDir();
  try {
    let fail = true;
    const path = `${dir}/log.jsonl`;
    const log = new LineAppender(path, {
      beforeBatch: () => fail ? Promise.reject(new Error("disk full")) : Promise.resolve(false),
    });
    await assertRejects(() => log.append("a\n"), Error, "disk full");
    fail = false;
    await log.append("b\n");
    await log.flush();
    assertEquals(await Deno.readTextFile(path), "\nb\n");
    assertEquals((await Deno.stat(path)).mode! & 0o777, 0o600);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
