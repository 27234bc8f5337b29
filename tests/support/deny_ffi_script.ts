/**
 * Runs a TypeScript program in a Deno process of its own with every permission but FFI
 * (`-A --deny-ffi`, the project's deno.json), for the tests of the native libraries' portable
 * fallbacks (protocol/native_library.ts): its standard output, trimmed; throws with its
 * standard error when it fails.
 *
 * @module
 */
import { assert } from "../../harness/assert.ts";

/**
 * The output of `script` run without FFI, with `args` as its `Deno.args`.
 *
 * @example
 * ```ts
 * import { runDenyingFfi } from "./deny_ffi_script.ts";
 *
 * const out = await runDenyingFfi(
 *   'console.log(Deno.permissions.querySync({ name: "ffi" }).state)',
 * );
 * console.assert(out === "denied");
 * ```
 */
export async function runDenyingFfi(script: string, args: string[] = []): Promise<string> {
  const file = await Deno.makeTempFile({ suffix: ".ts" });
  try {
    await Deno.writeTextFile(file, script);
    const out = await new Deno.Command(Deno.execPath(), {
      args: [
        "run",
        "-A",
        "--deny-ffi",
        `--config=${new URL("../../deno.json", import.meta.url).pathname}`,
        file,
        ...args,
      ],
      stdout: "piped",
      stderr: "piped",
    }).output();
    assert(out.success, new TextDecoder().decode(out.stderr));
    return new TextDecoder().decode(out.stdout).trim();
  } finally {
    await Deno.remove(file);
  }
}
