/**
 * The checked-prefix marker (state/checked_prefix.ts) on real files: used only for the bytes it was
 * written of, whatever follows them; anything else about it (an edit before its offset, a shorter
 * file, an offset inside a line, another version, failures outside its items, a torn file) is no
 * marker.
 */
import { assertEquals } from "../../../harness/assert.ts";
import { readCheckedPrefix, writeCheckedPrefix } from "../../../state/checked_prefix.ts";

const encode = (s: string) => new TextEncoder().encode(s);

Deno.test("checked prefix: read back over the same bytes and after lines appended, not after an edit or a cut", async () => {
  const dir = await Deno.makeTempDir();
  const path = `${dir}/m.json`;
  try {
    const bytes = encode("one\ntwo\nthree\n");
    await writeCheckedPrefix({ path }, bytes, { offset: 8, items: 2, failed: [1] });
    const back = await readCheckedPrefix({ path }, bytes);
    assertEquals([back?.offset, back?.items, [...back!.failed]], [8, 2, [1]]);
    assertEquals((await readCheckedPrefix({ path }, encode("one\ntwo\nthree\nfour\n")))?.items, 2);
    // The same length, one byte changed before the offset: not the bytes it was written of.
    assertEquals(await readCheckedPrefix({ path }, encode("one\ntwO\nthree\n")), undefined);
    assertEquals(await readCheckedPrefix({ path }, encode("one\ntw")), undefined);
    assertEquals(await readCheckedPrefix({ path: `${dir}/none.json` }, bytes), undefined);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("checked prefix: a marker that is foreign or malformed is none", async () => {
  const dir = await Deno.makeTempDir();
  const path = `${dir}/m.json`;
  const bytes = encode("one\ntwo\n");
  try {
    await writeCheckedPrefix({ path }, bytes, { offset: 8, items: 2, failed: [] });
    const good = JSON.parse(await Deno.readTextFile(path));
    const variants: Record<string, unknown>[] = [
      { ...good, version: 2 },
      { ...good, offset: 6 }, // inside a line (and another hash)
      { ...good, failed: [2] }, // past its items
      { ...good, failed: "0" },
      { ...good, items: -1 },
      { ...good, offset: 1e6 },
    ];
    for (const variant of variants) {
      await Deno.writeTextFile(path, JSON.stringify(variant));
      assertEquals(await readCheckedPrefix({ path }, bytes), undefined, JSON.stringify(variant));
    }
    await Deno.writeTextFile(path, JSON.stringify(good).slice(0, 30)); // torn
    assertEquals(await readCheckedPrefix({ path }, bytes), undefined);
    await Deno.writeTextFile(path, JSON.stringify(good));
    assertEquals((await readCheckedPrefix({ path }, bytes))?.items, 2);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
