/**
 * Test helper: the host's processes, by their command lines (`/proc/<pid>/cmdline`).
 *
 * @module
 */

/**
 * Whether a process has `arg` as one of its arguments (whole, not a part of one).
 *
 * @example
 * ```ts
 * import { hasProcessWith } from "./process_scan.ts";
 *
 * await hasProcessWith(Deno.execPath()); // true: this test runs it
 * ```
 */
export async function hasProcessWith(arg: string): Promise<boolean> {
  for await (const entry of Deno.readDir("/proc")) {
    if (!/^\d+$/.test(entry.name)) continue;
    const cmdline = await Deno.readTextFile(`/proc/${entry.name}/cmdline`).catch(() => "");
    if (cmdline.split("\0").includes(arg)) return true;
  }
  return false;
}
