/**
 * The suite runner (tools/test_suite.ts): how it packs files and reads `deno test`'s output, and a
 * real run of two `deno test` processes over a passing, a failing and a crashing file.
 */
import { assert, assertEquals, assertStringIncludes } from "../../../harness/assert.ts";
import { failureLines, fileSeconds, planPieces, summaryCounts } from "../../../tools/test_suite.ts";

Deno.test("test suite: slow files alone, fast ones packed, the longest first", () => {
  const pieces = planPieces(
    [
      "e2e/slow_test.ts",
      "unit/a_test.ts",
      "unit/b_test.ts",
      "unit/c_test.ts",
      "unit/d_test.ts",
    ],
    {
      "e2e/slow_test.ts": 90,
      "unit/a_test.ts": 12,
      "unit/b_test.ts": 9,
      "unit/c_test.ts": 1,
    },
    20,
  );
  assertEquals(pieces, [
    { files: ["e2e/slow_test.ts"], seconds: 90 },
    { files: ["unit/a_test.ts", "unit/b_test.ts"], seconds: 21 },
    // d is not in the durations: it counts 3 s.
    { files: ["unit/c_test.ts", "unit/d_test.ts"], seconds: 4 },
  ]);
});

Deno.test("test suite: reads deno test's summary, failures and each file's time", () => {
  const out = [
    "running 2 tests from ./tests/unit/a_test.ts",
    "first ... ok (1s)",
    "second ... FAILED (250ms)",
    "running 1 test from ./tests/e2e/b_test.ts",
    "steps ...",
    "  a step ... ok (5s)",
    "steps ... ok (1m 2s)",
    "",
    " FAILURES ",
    "",
    "second => ./tests/unit/a_test.ts:9:6",
    "",
    "FAILED | 2 passed (1 step) | 1 failed (1m4s)",
  ].join("\n");
  assertEquals(summaryCounts(out), {
    passed: 2,
    failed: 1,
    ignored: 0,
    passedSteps: 1,
    failedSteps: 0,
  });
  assertEquals(failureLines(out), ["second => ./tests/unit/a_test.ts:9:6"]);
  assertEquals(fileSeconds(out), {
    "tests/unit/a_test.ts": 1.3,
    "tests/e2e/b_test.ts": 62,
  });
  assertEquals(summaryCounts("error: Module not found"), undefined);
});

Deno.test("test suite: a real run adds up the pieces and fails on a failed test and a crash", async () => {
  const dir = await Deno.makeTempDir({ prefix: "turnpike-suite-" });
  try {
    await Deno.writeTextFile(
      `${dir}/pass_test.ts`,
      'Deno.test("one", () => {});\nDeno.test("two", () => {});\n',
    );
    await Deno.writeTextFile(
      `${dir}/fail_test.ts`,
      'Deno.test("fine", () => {});\nDeno.test("broken", () => { throw new Error("no"); });\n',
    );
    // A process killed before its summary (as the OOM killer would): counted as one failure.
    await Deno.writeTextFile(
      `${dir}/crash_test.ts`,
      'Deno.kill(Deno.pid, "SIGKILL");\nDeno.test("never", () => {});\n',
    );
    const run = await new Deno.Command(Deno.execPath(), {
      args: [
        "run",
        "-A",
        new URL("../../../tools/test_suite.ts", import.meta.url).pathname,
        "--pack",
        "0",
        dir,
      ],
      env: { TEST_JOBS: "2", NO_COLOR: "1" },
      stdout: "piped",
      stderr: "piped",
    }).output();
    const out = new TextDecoder().decode(run.stdout);
    assertEquals(run.code, 1, out);
    const summaries = out.split("\n").filter((l) => /^(ok|FAILED) \|/.test(l));
    // Only the suite's own summary starts a line; each piece's is indented.
    assertEquals(summaries, [summaries.at(-1)!], out);
    assertStringIncludes(summaries[0], "FAILED | 3 passed | 2 failed", out);
    assert(/^broken => .*fail_test\.ts:2:\d+$/m.test(out), out);
    assert(
      /crash_test\.ts: deno test ended with code \d+ and no failed test named$/m
        .test(out),
      out,
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
