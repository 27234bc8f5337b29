import { assertEquals, assertRejects } from "../../../harness/assert.ts";
import { readOptionalTextFile } from "../../../state/optional_text_file.ts";

Deno.test("readOptionalTextFile: the text of a file that is there", async () => {
  const dir = await Deno.makeTempDir();
  try {
    await Deno.writeTextFile(`${dir}/a.json`, '{"a":1}\n');
    assertEquals(await readOptionalTextFile(`${dir}/a.json`), '{"a":1}\n');
    await Deno.writeTextFile(`${dir}/empty`, "");
    assertEquals(await readOptionalTextFile(`${dir}/empty`), "");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("readOptionalTextFile: undefined only when not found, unless told", async () => {
  const dir = await Deno.makeTempDir();
  try {
    assertEquals(await readOptionalTextFile(`${dir}/missing`), undefined);
    assertEquals(await readOptionalTextFile(`${dir}/no/such/dir/file`), undefined);
    // A directory where the file should be cannot be read: an error, not absence.
    await Deno.mkdir(`${dir}/sub`);
    await assertRejects(() => readOptionalTextFile(`${dir}/sub`), Error);
    assertEquals(
      await readOptionalTextFile(`${dir}/sub`, { unreadableAsMissing: true }),
      undefined,
    );
    assertEquals(
      await readOptionalTextFile(`${dir}/missing`, { unreadableAsMissing: true }),
      undefined,
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
