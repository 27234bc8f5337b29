/**
 * A temporary directory that lives exactly as long as one test body.
 *
 * @module
 */

/**
 * Runs `fn` with a fresh temporary directory and removes it afterwards, whether `fn` passed or
 * threw.
 *
 * @example
 * ```ts
 * await withTempDir(async (dir) => await Deno.writeTextFile(`${dir}/a`, "x"));
 * ```
 */
export async function withTempDir(fn: (dir: string) => Promise<void>): Promise<void> {
  const dir = await Deno.makeTempDir();
  try {
    await fn(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}
