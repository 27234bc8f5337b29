/**
 * The crash tests' harness: run a writer script that prints one line per durable write, SIGKILL
 * it once it has printed enough, and collect every line it printed, including those that were
 * still in the pipe when the kill landed (those writes returned too).
 *
 * @module
 */

/** Options for {@linkcode killAfterLines}. */
export interface KillAfterLinesOptions {
  /** Path of the Deno script to run with `deno run -A`. */
  script: string;
  /** Its arguments. */
  args?: string[];
  /** Kill once at least this many complete lines were read. */
  lines: number;
  /** What to do with its stderr; default "null". */
  stderr?: "null" | "inherit";
}

/**
 * Runs `script`, SIGKILLs it after `lines` lines, and returns all non-empty stdout lines (a
 * torn last line included: callers filter what they accept).
 *
 * @example
 * ```ts
 * declare const writer: string;
 * const dir = await Deno.makeTempDir();
 * const ids = await killAfterLines({ script: writer, args: [dir], lines: 300 });
 * ```
 */
export async function killAfterLines(options: KillAfterLinesOptions): Promise<string[]> {
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", options.script, ...(options.args ?? [])],
    stdout: "piped",
    stderr: options.stderr ?? "null",
  }).spawn();
  const reader = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
  let text = "";
  try {
    while (text.split("\n").length <= options.lines) {
      const { value, done } = await reader.read();
      if (done) break;
      text += value;
    }
    // Throws when the writer already exited: a writer that stops by itself is a broken test.
    child.kill("SIGKILL");
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      text += value;
    }
  } finally {
    reader.releaseLock();
    await child.status;
  }
  return text.split("\n").filter((l) => l !== "");
}
