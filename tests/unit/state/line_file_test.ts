/** Reading an append-only state file a chunk at a time (state/line_file.ts). */
import { assertEquals } from "../../../harness/assert.ts";
import { readLineFile } from "../../../state/line_file.ts";

Deno.test("line file: lines across chunk edges and split characters, empty lines, a cut last line, a too-long line skipped whole", async () => {
  const path = await Deno.makeTempFile();
  try {
    const long = "x".repeat(50);
    const lines = ["héllo wörld", "", "€uro", long, "after-long", "last-cut"];
    await Deno.writeTextFile(path, lines.join("\n"));
    for (const chunkBytes of [1, 2, 3, 7, 64, 1 << 20]) {
      const seen: string[] = [];
      const read = await readLineFile(path, (l) => seen.push(l), { maxLine: 20, chunkBytes });
      assertEquals(seen, ["héllo wörld", "€uro", "after-long", "last-cut"], `chunk ${chunkBytes}`);
      assertEquals(read, {
        lines: 4,
        tooLong: 1,
        endsInNewline: false,
        linesEnd: new TextEncoder().encode(lines.slice(0, -1).join("\n") + "\n").length,
      });
    }
    await Deno.writeTextFile(path, `a\n${long}`);
    const seen: string[] = [];
    assertEquals(await readLineFile(path, (l) => seen.push(l), { maxLine: 20, chunkBytes: 8 }), {
      lines: 1,
      tooLong: 1,
      endsInNewline: false,
      linesEnd: 2,
    });
    assertEquals(seen, ["a"]);
    await Deno.writeTextFile(path, "");
    assertEquals(await readLineFile(path, () => {}), {
      lines: 0,
      tooLong: 0,
      endsInNewline: true,
      linesEnd: 0,
    });
    // From an offset, and a last chunk that ends inside a character: not a line's end.
    await Deno.writeTextFile(path, "ab\ncd\n€");
    const cut = new TextEncoder().encode("ab\ncd\n€").subarray(0, 7);
    await Deno.writeFile(path, cut);
    const tail: string[] = [];
    assertEquals(await readLineFile(path, (l) => tail.push(l), { offset: 3, chunkBytes: 2 }), {
      lines: 2,
      tooLong: 0,
      endsInNewline: false,
      linesEnd: 6,
    });
    assertEquals(tail[0], "cd");
  } finally {
    await Deno.remove(path);
  }
});
