import { assertEquals } from "../../../harness/assert.ts";
import { csvField, csvRow } from "../../../protocol/csv_row.ts";

Deno.test("csv row: commas, quotes, CR and LF are quoted (RFC 4180); empty for undefined and null", () => {
  assertEquals(csvField("plain"), "plain");
  assertEquals(csvField("a,b"), '"a,b"');
  assertEquals(csvField('say "hi"'), '"say ""hi"""');
  assertEquals(csvField("line\rbreak"), '"line\rbreak"');
  assertEquals(csvField("line\nbreak"), '"line\nbreak"');
  assertEquals(csvField(10n), "10");
  assertEquals(csvRow(["x", undefined, null, 0, false]), "x,,,0,false");
});
