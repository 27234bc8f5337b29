/**
 * The scale harness's flags (bench/bench_flags.ts): the real script, run as a process, prints its
 * usage for `--help` (exit 0) and refuses a typo or a missing value before any run (exit 2).
 */
import { assert, assertEquals } from "../../../harness/assert.ts";

const script = new URL("../../../bench/network_scale_bench_script.ts", import.meta.url).pathname;
/** A hang guard, not a time limit. */
const HANG_GUARD_MS = 60_000;

async function harness(...args: string[]): Promise<{ code: number; out: string; err: string }> {
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", "--no-check", script, ...args],
    stdout: "piped",
    stderr: "piped",
    signal: AbortSignal.timeout(HANG_GUARD_MS),
  }).spawn();
  const { code, stdout, stderr } = await child.output();
  const text = new TextDecoder();
  return { code, out: text.decode(stdout), err: text.decode(stderr) };
}

Deno.test("scale harness flags: --help prints the usage and exits 0", async () => {
  const { code, out } = await harness("--agents", "4", "--help");
  assertEquals(code, 0);
  assert(out.startsWith("Usage: deno run -A bench/network_scale_bench_script.ts"), out);
});

Deno.test("scale harness flags: an unknown flag is refused with the usage, exit 2", async () => {
  const { code, err } = await harness("--agents", "4", "--chaoss");
  assertEquals(code, 2);
  assert(err.startsWith("Error: unknown argument --chaoss\nUsage: "), err);
});

Deno.test("scale harness flags: a value flag without its value is refused, exit 2", async () => {
  for (const args of [["--agents"], ["--agents", "--chaos"]]) {
    const { code, err } = await harness(...args);
    assertEquals(code, 2, args.join(" "));
    assertEquals(err.trim(), "Error: --agents wants a value");
  }
});
