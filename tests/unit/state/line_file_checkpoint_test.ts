/** Checkpoints of a line file summed at open (state/line_file_checkpoint.ts). */
import { assert, assertEquals } from "../../../harness/assert.ts";
import { LineAppender } from "../../../state/line_appender.ts";
import { LineFileCheckpoints } from "../../../state/line_file_checkpoint.ts";

function setUp(dir: string, readOnly = false) {
  const appender = new LineAppender(`${dir}/n.jsonl`);
  const state = { sum: 0 };
  const checkpoints = new LineFileCheckpoints({
    path: `${dir}/n.checkpoint.json`,
    linesPath: `${dir}/n.jsonl`,
    appender,
    every: 2,
    readOnly,
    snapshot: () => ({ state: { ...state }, entries: 0 }),
  });
  return { appender, state, checkpoints };
}

Deno.test("line file checkpoints: an opening's is taken where its reading ended, not at the file's size; a reader beside the writer takes none and leaves its temp files; a failed write stops them", async () => {
  const dir = await Deno.makeTempDir({ prefix: "line_cp_" });
  try {
    // The opening read two lines (4 bytes); the writer beside it appended a third since.
    await Deno.writeTextFile(`${dir}/n.jsonl`, "1\n2\n3\n");
    const reader = setUp(dir);
    reader.state.sum = 3;
    reader.checkpoints.opened({ lines: 2, tooLong: 0, endsInNewline: true, linesEnd: 4 });
    await reader.checkpoints.flush();
    assertEquals(await reader.checkpoints.read(), { offset: 4, state: { sum: 3 } });

    // A read-only reader: no checkpoint of its own, the writer's temp file left alone.
    await Deno.remove(`${dir}/n.checkpoint.json`);
    await Deno.writeTextFile(`${dir}/.tmp-n.checkpoint.json.1`, "being written");
    const beside = setUp(dir, true);
    beside.checkpoints.opened({ lines: 3, tooLong: 0, endsInNewline: true, linesEnd: 6 });
    await beside.checkpoints.flush();
    assertEquals(await beside.checkpoints.read(), undefined);
    assert(await Deno.stat(`${dir}/.tmp-n.checkpoint.json.1`).then(() => true));
    // The writer's own opening sweeps it.
    const writer = setUp(dir);
    assertEquals(await writer.checkpoints.read(), undefined);
    await Deno.stat(`${dir}/.tmp-n.checkpoint.json.1`).then(
      () => assert(false, "the temp file is still there"),
      () => {},
    );

    // After a failed write, none until the next opening.
    writer.checkpoints.opened({ lines: 0, tooLong: 0, endsInNewline: true, linesEnd: 6 });
    writer.checkpoints.failed();
    for (const n of [4, 5, 6]) {
      writer.state.sum += n;
      await writer.appender.append(`${n}\n`);
      writer.checkpoints.written();
    }
    await writer.checkpoints.flush();
    assertEquals(await writer.checkpoints.read(), undefined);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
