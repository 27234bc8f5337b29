/**
 * Group commit of directory fsyncs: writers that renamed files into one directory share one
 * fsync of it instead of making one each.
 *
 * The guarantee is the plain fsync's: when {@linkcode DirSyncGroup.sync} resolves, every entry
 * change the caller made in the directory before calling it (a rename, a create) is on disk. A
 * directory fsync covers whatever the directory held when it started, so a caller joins an fsync
 * that starts after its call, never one already running (which may have begun before the
 * caller's rename): while one runs, the callers that arrive wait for the next one, and that one
 * is shared by all of them. A lone caller waits for nothing more than its own fsync (no window,
 * no timer). Each fsync's error reaches every caller that shared it.
 *
 * What it saves: on a node running many jobs at once, the record writes of one directory
 * (`jobs/`, `provider-jobs/`) arriving while a directory fsync runs cost one more fsync between
 * them, not one each (docs/SCALE.md "Where a no-op job's CPU goes").
 *
 * @module
 */

/** Options for {@linkcode DirSyncGroup}. */
export interface DirSyncGroupOptions {
  /** The fsync of one directory; default: open it and fsync it (nothing on Windows). */
  fsyncDir?: (dir: string) => Promise<void>;
}

interface DirState {
  /** The fsync running now, if any. */
  running?: Promise<void>;
  /** The fsync that starts when `running` ends, shared by the callers that came meanwhile. */
  queued?: Promise<void>;
}

/**
 * Shares directory fsyncs between concurrent callers; see the module doc.
 *
 * @example
 * ```ts
 * import { DirSyncGroup } from "./dir_sync_group.ts";
 * const dir = await Deno.makeTempDir();
 * const group = new DirSyncGroup();
 * await Promise.all([group.sync(dir), group.sync(dir), group.sync(dir)]);
 * if (group.fsyncs !== 2) throw new Error("the second and third calls share one fsync");
 * await Deno.remove(dir);
 * ```
 */
export class DirSyncGroup {
  /** Directory fsyncs made so far (callers served: {@linkcode DirSyncGroup.calls}). */
  fsyncs = 0;
  /** Calls of {@linkcode DirSyncGroup.sync} so far. */
  calls = 0;
  #fsyncDir: (dir: string) => Promise<void>;
  #dirs = new Map<string, DirState>();

  constructor(options: DirSyncGroupOptions = {}) {
    this.#fsyncDir = options.fsyncDir ?? fsyncDirectory;
  }

  /** Resolves once an fsync of `dir` that started after this call has ended. */
  sync(dir: string): Promise<void> {
    this.calls++;
    let state = this.#dirs.get(dir);
    if (state === undefined) this.#dirs.set(dir, state = {});
    const running = state.running;
    if (running === undefined) return this.#start(dir, state);
    const s = state;
    s.queued ??= running.then(noop, noop).then(() => {
      s.queued = undefined;
      return this.#start(dir, s);
    });
    return s.queued;
  }

  #start(dir: string, state: DirState): Promise<void> {
    this.fsyncs++;
    const running = this.#fsyncDir(dir).finally(() => {
      state.running = undefined;
      if (state.queued === undefined && this.#dirs.get(dir) === state) this.#dirs.delete(dir);
    });
    state.running = running;
    return running;
  }
}

function noop(): void {}

async function fsyncDirectory(dir: string): Promise<void> {
  // fsync on the directory makes the rename itself durable (POSIX); Windows cannot open dirs.
  if (Deno.build.os === "windows") return;
  using handle = Deno.openSync(dir, { read: true });
  await handle.sync();
}
