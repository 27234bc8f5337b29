/**
 * A town process's young generation (transport/small_young_generation.ts), on real processes: one
 * started without the flag replaces itself with one started with it, the same pid and arguments;
 * an operator's own flag is kept.
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
console.log(JSON.stringify({ pid: Deno.pid, args: Deno.args, flags: Deno.env.get("DENO_V8_FLAGS") ?? "" }));
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
    "small young generation: a process started without the flag replaces itself, same pid and arguments, and its new space stays small",
  ignore: Deno.build.os !== "linux",
  async fn() {
    const lines = await run([]);
    assertEquals(lines.length, 3, lines.join("\n"));
    const first = JSON.parse(lines[0]);
    const second = JSON.parse(lines[1]);
    assertEquals(first.flags, "");
    assertEquals(second.pid, first.pid);
    assertEquals(second.args, ["one", "two words"]);
    assertEquals(second.flags, "--max-semi-space-size=4");
    // V8's default let the new space reach 64 MiB in this loop; 4 MiB semi spaces keep it at 8-16.
    const { newSpaceMiB } = JSON.parse(lines[2]);
    assert(newSpaceMiB <= 16, `new space ${newSpaceMiB} MiB`);
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
