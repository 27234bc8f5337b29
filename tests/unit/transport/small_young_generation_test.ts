/**
 * A town process's young generation and ended isolates' pages (transport/small_young_generation.ts), on real
 * processes: one started without the flags replaces itself with one started with them (and
 * without Deno's code cache), the same pid and arguments; an operator's own flag is kept.
 */
import { assert, assertEquals } from "../../../harness/assert.ts";

const MODULE = new URL("../../../transport/small_young_generation.ts", import.meta.url).href;

/**
 * Runs a process that prints a line, asks for the small young generation, allocates short-lived
 * garbage and prints what V8's new space grew to; its lines.
 */
async function run(runtimeFlags: string[], env: Record<string, string> = {}): Promise<string[]> {
  const dir = await Deno.makeTempDir({ prefix: "young_generation_" });
  try {
    const script = `${dir}/child.ts`;
    await Deno.writeTextFile(
      script,
      `import { getHeapSpaceStatistics } from "node:v8";
import { startWithSmallYoungGeneration } from "${MODULE}";
console.log(JSON.stringify({ pid: Deno.pid, args: Deno.args, flags: Deno.env.get("DENO_V8_FLAGS") ?? "", cmdline: Deno.readTextFileSync("/proc/self/cmdline").split("\\0") }));
startWithSmallYoungGeneration();
let kept: string[][] = [];
let newSpace = 0;
for (let round = 0; round < 100; round++) {
  kept.push(Array.from({ length: 20_000 }, (_, i) => "x".repeat(50) + i + round));
  if (kept.length > 5) kept.shift();
  const space = getHeapSpaceStatistics().find((s) => s.space_name === "new_space")!;
  newSpace = Math.max(newSpace, space.space_size);
}
console.log(JSON.stringify({ newSpaceMiB: newSpace / 1048576 }));
`,
    );
    const out = await new Deno.Command(Deno.execPath(), {
      args: ["run", "-A", ...runtimeFlags, script, "one", "two words"],
      env,
      stdout: "piped",
      stderr: "inherit",
    }).output();
    assert(out.success, `the child exited ${out.code}`);
    return new TextDecoder().decode(out.stdout).trim().split("\n");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

Deno.test({
  name:
    "small young generation: a process started without the flag replaces itself, same pid and arguments, with a small new space and an ended isolate's pages given back at once",
  ignore: Deno.build.os !== "linux",
  async fn() {
    const lines = await run([]);
    assertEquals(lines.length, 3, lines.join("\n"));
    const first = JSON.parse(lines[0]);
    const second = JSON.parse(lines[1]);
    assertEquals(first.flags, "");
    assertEquals(second.pid, first.pid);
    assertEquals(second.args, ["one", "two words"]);
    assertEquals(second.flags, "--max-semi-space-size=4,--no-memory-pool-share-memory-on-teardown");
    // The replaced process runs without Deno's code cache; the first one used it.
    assertEquals(first.cmdline.includes("--no-code-cache"), false, lines[0]);
    assertEquals(second.cmdline.slice(1, 4), ["run", "--no-code-cache", "-A"], lines[1]);
    // The flag's effect on memory is not asserted here: V8's new space, sampled in this loop,
    // ranged 15-58 MiB at 4 MiB semi spaces from run to run (64-85 without), no bound to test.
    // The town's RSS under a read flood is: tests/e2e/town_read_flood_memory_test.ts.
    assert(JSON.parse(lines[2]).newSpaceMiB > 0, lines[2]);
  },
});

Deno.test({
  name:
    "small young generation: an operator's own --v8-flags or DENO_V8_FLAGS is kept, the process not replaced",
  ignore: Deno.build.os !== "linux",
  async fn() {
    const viaFlag = await run(["--v8-flags=--max-semi-space-size=32"]);
    assertEquals(viaFlag.length, 2, viaFlag.join("\n"));
    const viaEnv = await run([], { DENO_V8_FLAGS: "--max-semi-space-size=32" });
    assertEquals(viaEnv.length, 2, viaEnv.join("\n"));
    assert(JSON.parse(viaEnv[1]).newSpaceMiB > 16, viaEnv[1]);
  },
});
