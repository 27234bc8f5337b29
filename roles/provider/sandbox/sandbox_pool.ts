/**
 * Prepared sandboxes, kept ahead of jobs (docs/ARCHITECTURE.md "Prepared sandboxes"). A job's
 * sandbox setup (namespaces, cgroups, mounts, the new root, limits) does not depend on the job
 * beyond its id and input, so for a skill that ran a job lately one sandbox is set up ahead
 * and waits (roles/provider/sandbox/sandbox_setup_script.ts) for the next job of that skill.
 *
 * This module is the bookkeeping only, whatever a prepared sandbox is (sandbox_run.ts makes
 * them): each entry is handed out at most once ({@linkcode PreparedSandboxPool.take} removes it
 * before returning it), an entry no job takes within `idleMs` is discarded and its skill gets no
 * other until a job of it runs again, one whose process exits while waiting is discarded, and
 * {@linkcode PreparedSandboxPool.close} discards every one left and refuses new ones.
 *
 * @module
 */

/** Options for the prepared sandboxes (`prepared` of the skill sandbox's options). */
export interface PreparedSandboxOptions {
  /** Prepared sandboxes kept per skill that ran a job lately; default 1. */
  perSkill?: number;
  /** Most prepared sandboxes in all; default 4. */
  maxTotal?: number;
  /** A prepared sandbox no job took within this is discarded; default 5 minutes. */
  idleMs?: number;
}

/** One prepared sandbox, as the pool sees it. */
export interface PreparedEntry {
  /** Which jobs it may serve (the skill and everything its setup depends on). */
  readonly key: string;
  /** Settles when its process exits (killed, or its setup failed). */
  readonly exited: Promise<unknown>;
  /** Kills its processes and removes what it holds; safe to call more than once. */
  discard(): Promise<void>;
}

/** Default {@linkcode PreparedSandboxOptions.idleMs}. */
export const PREPARED_IDLE_MS = 5 * 60_000;

/**
 * Prepared sandboxes by key, each handed out at most once (see the module doc).
 *
 * @example
 * ```ts
 * const made: string[] = [];
 * const pool = new PreparedSandboxPool<PreparedEntry>({ perSkill: 1 });
 * pool.fill("echo", () => {
 *   made.push("echo");
 *   return { key: "echo", exited: new Promise(() => {}), discard: async () => {} };
 * });
 * const first = pool.take("echo");
 * if (first === undefined || pool.take("echo") !== undefined) throw new Error("taken twice");
 * await pool.close();
 * if (made.length !== 1) throw new Error("made more than asked");
 * ```
 */
export class PreparedSandboxPool<P extends PreparedEntry> {
  readonly #perSkill: number;
  readonly #maxTotal: number;
  readonly #idleMs: number;
  readonly #ready: P[] = [];
  readonly #timers = new Map<P, number>();
  readonly #discarding = new Set<Promise<void>>();
  readonly #later = new Set<number>();
  // Sandboxes being made (an asynchronous `make`), by the key each is for.
  readonly #making = new Map<Promise<P | undefined>, string>();
  #closed = false;

  constructor(options: PreparedSandboxOptions = {}) {
    this.#perSkill = options.perSkill ?? 1;
    this.#maxTotal = options.maxTotal ?? 4;
    this.#idleMs = options.idleMs ?? PREPARED_IDLE_MS;
  }

  /** The prepared sandboxes waiting now. */
  get ready(): readonly P[] {
    return this.#ready;
  }

  /** Removes and returns one prepared sandbox for `key`; it is the caller's from then on. */
  take(key: string): P | undefined {
    const i = this.#ready.findIndex((p) => p.key === key);
    if (i < 0) return undefined;
    const [p] = this.#ready.splice(i, 1);
    clearTimeout(this.#timers.get(p));
    this.#timers.delete(p);
    return p;
  }

  /** Discards every waiting sandbox `stale` names (its skill changed since it was made). */
  discardWhere(stale: (p: P) => boolean): void {
    for (const p of this.#ready.filter(stale)) this.#drop(p);
  }

  /**
   * Prepares sandboxes for `key` with `make` up to the limits (`make` may decline: undefined),
   * one after the other; those being made count against the limits. Resolves once done.
   */
  async fill(key: string, make: () => P | undefined | Promise<P | undefined>): Promise<void> {
    while (
      !this.#closed && this.#ready.length + this.#making.size < this.#maxTotal &&
      this.#ready.filter((p) => p.key === key).length +
            [...this.#making.values()].filter((k) => k === key).length < this.#perSkill
    ) {
      const making = Promise.withResolvers<P | undefined>();
      this.#making.set(making.promise, key);
      let p: P | undefined;
      try {
        // A synchronous `make` is not awaited: the pool holds it before `fill` returns.
        const made = make();
        making.resolve(p = made instanceof Promise ? await made : made);
      } catch {
        making.resolve(undefined);
      } finally {
        this.#making.delete(making.promise);
      }
      // None now (declined, or failed): jobs make their own sandboxes, as without a pool.
      if (p === undefined) return;
      if (this.#closed) {
        await this.discard(p);
        return;
      }
      const made = p;
      this.#ready.push(made);
      const timer = setTimeout(() => this.#drop(made), this.#idleMs) as unknown as number;
      Deno.unrefTimer(timer);
      this.#timers.set(made, timer);
      made.exited.then(() => this.#drop(made), () => this.#drop(made));
    }
  }

  /**
   * {@linkcode fill}, once the job that asks has handed its result on: a timer's turn later, so
   * the setup's own work in this process (its work dir made off the main thread, a few file
   * writes and a spawn) is not on the job's way.
   */
  fillLater(key: string, make: () => P | undefined | Promise<P | undefined>): void {
    if (this.#closed) return;
    const timer = setTimeout(() => {
      this.#later.delete(timer);
      void this.fill(key, make);
    }, 0) as unknown as number;
    this.#later.add(timer);
  }

  /** Discards `p` if it is still waiting here (idle too long, or its process ended). */
  #drop(p: P): void {
    const i = this.#ready.indexOf(p);
    if (i < 0) return;
    this.#ready.splice(i, 1);
    clearTimeout(this.#timers.get(p));
    this.#timers.delete(p);
    this.discard(p);
  }

  /** Discards `p` (taken or not), counted until it is done so that close waits for it. */
  discard(p: P): Promise<void> {
    const done = p.discard().catch(() => {}).finally(() => this.#discarding.delete(done));
    this.#discarding.add(done);
    return done;
  }

  /** Discards every waiting sandbox (and waits for those under way); prepares none after. */
  async close(): Promise<void> {
    this.#closed = true;
    for (const timer of this.#later) clearTimeout(timer);
    this.#later.clear();
    for (const p of [...this.#ready]) this.#drop(p);
    // A sandbox being made is discarded by its fill once made, before this goes on.
    await Promise.all(this.#making.keys());
    await Promise.all(this.#discarding);
  }
}
