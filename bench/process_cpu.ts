/**
 * The CPU this bench process (or another, by pid) has used, from Linux's `/proc/<pid>/stat` (100 Hz
 * ticks): its own (user + kernel), its kernel part, and its reaped children's (sandboxes, git). Shared by the
 * benches that report CPU a job or a write; on a shared 2-core machine the wall-clock figures swing
 * with the others' load, the CPU figures much less.
 *
 * @module
 */

/** CPU ms used so far: this process (`self`, of it `sys` in the kernel) and its reaped children. */
export interface ProcessCpu {
  self: number;
  sys: number;
  children: number;
}

/**
 * Reads the figures now, of this process or of `pid`; subtract two readings for a span's.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { processCpuMs } from "./process_cpu.ts";
 *
 * const { self, sys, children } = await processCpuMs();
 * assert.ok(self >= sys && children >= 0);
 * ```
 */
export async function processCpuMs(pid: number | "self" = "self"): Promise<ProcessCpu> {
  const stat = await Deno.readTextFile(`/proc/${pid}/stat`);
  const f = stat.slice(stat.lastIndexOf(")") + 2).split(" ").map(Number);
  // Fields 14-17 of proc(5) (utime stime cutime cstime) are 11-14 after the ") ".
  return { self: (f[11] + f[12]) * 10, sys: f[12] * 10, children: (f[13] + f[14]) * 10 };
}
