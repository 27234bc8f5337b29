/** The failing skill's stderr as published: cleaned, last lines, bounded. */
import { stderrTail } from "../../../../roles/provider/jobs/stderr_tail.ts";
import { assert, assertEquals } from "../../../../harness/assert.ts";

Deno.test("stderr tail: escapes and control characters out, last lines kept, bounded", () => {
  assertEquals(stderrTail(""), "");
  assertEquals(stderrTail("a\n\n\u001b[1;31mb\u001b[0m\u0000\u0007\n"), "a | b");
  const many = Array.from({ length: 100 }, (_, i) => `line ${i}`).join("\n");
  assertEquals(stderrTail(many, { maxLines: 3 }), "line 97 | line 98 | line 99");
  const long = stderrTail("x".repeat(10_000) + "\nthe end");
  assert(
    long.length === 600 && long.startsWith("...") && long.endsWith(" | the end"),
    long.slice(-20),
  );
});
