/**
 * One full garbage collection of this isolate once its start is over and it has gone quiet: what a
 * process allocates to start (module evaluation, a key's first multiplications, the stores'
 * opening) is garbage by then, and V8 returns it to the system only when its memory reducer runs,
 * tens of seconds into idle. Collected at once, an idle town holds its idle size from its first
 * seconds (docs/SCALE.md "An idle town's memory"). V8's `gc` is reached through `node:v8`'s flag
 * and a `node:vm` context; where that fails, nothing is done.
 *
 * @module
 */
import { setFlagsFromString } from "node:v8";
import { runInNewContext } from "node:vm";

/** Options for {@linkcode StartGarbageCollection}. */
export interface StartGarbageCollectionOptions {
  /** Milliseconds without a {@linkcode StartGarbageCollection.touch} before the collection. */
  quietMs: number;
  /** Run after the collection (e.g. give the C allocator's freed pages back). */
  afterCollect?: () => void;
}

let collect: (() => void) | undefined;

/** V8's `gc`, exposed once per process (the flag is the process's; each isolate asks its own). */
function v8Collect(): (() => void) | undefined {
  if (collect === undefined) {
    try {
      setFlagsFromString("--expose-gc");
      const gc = runInNewContext("gc");
      collect = typeof gc === "function" ? gc as () => void : undefined;
    } catch {
      collect = undefined;
    }
  }
  return collect;
}

/**
 * Collects once, `quietMs` after the last `touch()` (or after `start()` if there is none).
 *
 * @example
 * ```ts
 * import { StartGarbageCollection } from "./start_garbage_collection.ts";
 *
 * const after = new StartGarbageCollection({ quietMs: 1000 });
 * after.start();
 * after.touch(); // a request answered: wait for quiet again
 * after.stop();
 * ```
 */
export class StartGarbageCollection {
  readonly #o: StartGarbageCollectionOptions;
  #timer: ReturnType<typeof setTimeout> | undefined;
  #done = false;
  /** Whether the collection ran (for tests). */
  collected = false;

  constructor(options: StartGarbageCollectionOptions) {
    this.#o = options;
  }

  /** Arms the timer (an unreferenced one: it keeps no process alive). */
  start(): void {
    this.touch();
  }

  /** Puts the collection off: the isolate is still at work. */
  touch(): void {
    if (this.#done) return;
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    this.#timer = setTimeout(() => this.#run(), this.#o.quietMs);
    Deno.unrefTimer(this.#timer);
  }

  /** Disarms it. */
  stop(): void {
    this.#done = true;
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    this.#timer = undefined;
  }

  #run(): void {
    this.#timer = undefined;
    this.#done = true;
    const gc = v8Collect();
    if (gc === undefined) return;
    gc();
    this.collected = true;
    this.#o.afterCollect?.();
  }
}
