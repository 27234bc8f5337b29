/**
 * The end of a failed skill's stderr, made safe to publish and log: control characters (ANSI
 * escapes, NULs) removed, at most a few lines and bytes, so a skill cannot flood a feedback
 * event or a terminal, and the requester sees why its job failed.
 *
 * @module
 */

/** Options for {@linkcode stderrTail}. */
export interface StderrTailOptions {
  /** Most characters kept (default 600: a feedback's error text stays under 1000). */
  maxChars?: number;
  /** Most lines kept (default 8). */
  maxLines?: number;
}

/**
 * The last lines of `stderr`, cleaned; empty when there is nothing to show.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { stderrTail } from "./stderr_tail.ts";
 *
 * assert.equal(stderrTail("step 1\n\u001b[31merror: no cmd\u001b[0m\n"), "step 1 | error: no cmd");
 * ```
 */
export function stderrTail(stderr: string, o: StderrTailOptions = {}): string {
  const maxChars = o.maxChars ?? 600;
  const lines = stderr
    // deno-lint-ignore no-control-regex
    .replace(/\u001b\[[0-9;?]*[ -\/]*[@-~]/g, "")
    // deno-lint-ignore no-control-regex
    .replace(/[\u0000-\u0008\u000b-\u001f\u007f]/g, "")
    .split("\n").map((l) => l.trim()).filter((l) => l !== "")
    .slice(-(o.maxLines ?? 8));
  const text = lines.join(" | ");
  return text.length <= maxChars ? text : "..." + text.slice(text.length - maxChars + 3);
}
