import { assertEquals, assertRejects } from "../../../harness/assert.ts";
import { readCappedFile, readCappedTextFile } from "../../../state/capped_file.ts";

class TooLargeForTest extends Error {
  override name = "TooLargeForTest";
}
const tooLarge = (p: string, max: number) => new TooLargeForTest(`${p} over ${max}`);

Deno.test("capped file: read whole up to the cap, refused by the reader's own error above it", async () => {
  const dir = await Deno.makeTempDir();
  try {
    await Deno.writeTextFile(`${dir}/ok`, "héllo");
    const bytes = await readCappedFile(`${dir}/ok`, { maxBytes: 6, tooLarge });
    assertEquals(bytes.length, 6);
    assertEquals(await readCappedTextFile(`${dir}/ok`, { maxBytes: 6, tooLarge }), "héllo");
    const err = await assertRejects(
      () => readCappedTextFile(`${dir}/ok`, { maxBytes: 5, tooLarge }),
      TooLargeForTest,
    );
    assertEquals(err.message, `${dir}/ok over 5`);
    await assertRejects(
      () => readCappedFile(`${dir}/missing`, { maxBytes: 5, tooLarge }),
      Deno.errors.NotFound,
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
