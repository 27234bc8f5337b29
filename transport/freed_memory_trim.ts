/**
 * Gives the C allocator's freed memory back to the system while the process is busy reading:
 * glibc keeps what the process frees in its arenas, and under a read flood the buffers the
 * runtime allocates for sockets (a PostgreSQL answer's chunks, the frames written to peers) are
 * freed in an order that leaves the arenas' tops in use, so the freed memory stays in the
 * process's RSS. `malloc_trim(0)` returns every free page (measured under the read flood of
 * docs/OPERATIONS.md "Peers that do not read": 15-45 MiB a second on PostgreSQL, in 1-35 ms).
 * Linux with glibc and `--allow-ffi` only (`-A` as the CLI runs); elsewhere it does nothing.
 *
 * @module
 */
import { openNativeLibrary } from "../protocol/native_library.ts";

/** Options for {@linkcode FreedMemoryTrim}. */
export interface FreedMemoryTrimOptions {
  /** Milliseconds between two trims while wanted. */
  intervalMs: number;
  /** Whether the process is busy now: trims run while it is, and once after. */
  wanted(): boolean;
}

const SYMBOLS = { malloc_trim: { parameters: ["usize"], result: "i32" } } as const;

let libc: Deno.DynamicLibrary<typeof SYMBOLS> | undefined | null = null;

/** glibc, opened once; undefined where it is not there or FFI is not allowed. */
function glibc(): Deno.DynamicLibrary<typeof SYMBOLS> | undefined {
  if (libc === null) {
    libc = Deno.build.os === "linux" ? openNativeLibrary(["libc.so.6"], SYMBOLS) : undefined;
  }
  return libc;
}

/**
 * Trims once: gives every free page of the C allocator back to the system now. False where it
 * cannot (not glibc, no FFI).
 *
 * @example
 * ```ts
 * import { trimFreedMemory } from "./freed_memory_trim.ts";
 *
 * trimFreedMemory(); // after a start's garbage was collected
 * ```
 */
export function trimFreedMemory(): boolean {
  const lib = glibc();
  if (lib === undefined) return false;
  lib.symbols.malloc_trim(0n);
  return true;
}

/**
 * One unreferenced interval timer that trims while `wanted()`, and once after.
 *
 * @example
 * ```ts
 * import { FreedMemoryTrim } from "./freed_memory_trim.ts";
 *
 * let reading = 1;
 * const trim = new FreedMemoryTrim({ intervalMs: 1000, wanted: () => reading > 0 });
 * trim.start();
 * trim.stop();
 * ```
 */
export class FreedMemoryTrim {
  readonly #o: FreedMemoryTrimOptions;
  #timer: ReturnType<typeof setInterval> | undefined;
  #wasWanted = false;
  /** Trims run so far (for `/metrics` and tests). */
  trims = 0;

  constructor(options: FreedMemoryTrimOptions) {
    this.#o = options;
  }

  /** Whether trims can run here (glibc, FFI allowed). */
  get available(): boolean {
    return glibc() !== undefined;
  }

  /** Starts looking at `wanted` every interval, unless already or unavailable. */
  start(): void {
    if (this.#timer !== undefined || glibc() === undefined) return;
    const timer = setInterval(() => {
      const wanted = this.#o.wanted();
      if (wanted || this.#wasWanted) {
        glibc()?.symbols.malloc_trim(0n);
        this.trims++;
      }
      this.#wasWanted = wanted;
    }, this.#o.intervalMs);
    this.#timer = timer;
    Deno.unrefTimer(timer);
  }

  /** Stops. */
  stop(): void {
    if (this.#timer === undefined) return;
    clearInterval(this.#timer);
    this.#timer = undefined;
  }
}
