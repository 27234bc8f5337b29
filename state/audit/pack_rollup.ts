/**
 * The roll-ups of an audit trail's packs: each in-process commit writes one pack
 * (state/audit/git_pack_writer.ts), and once the objects directory holds `maxPacks` of them the
 * next commit's log runs `git repack -d --geometric=2` (the smaller packs, and any loose objects a
 * `git` commit left, merged so that each pack is at least twice the next; refs stay loose for the
 * in-process writer). The packs are counted in the directory (at the first commit, and after each
 * roll-up), so a profile used through many short commands is rolled up as a long-running node's
 * is (docs/OPERATIONS.md "State directory", docs/SCALE.md "The audit trail's roll-ups").
 *
 * @module
 */

/**
 * The packs an audit trail's objects directory holds before a roll-up: a roll-up is a `git`
 * process, mostly the kernel's work (docs/SCALE.md "The audit trail's roll-ups").
 */
export const AUDIT_MAX_PACKS = 200;

/** Options for {@linkcode PackRollup}. */
export interface PackRollupOptions {
  /** The repository's git dir (`<state dir>/.git`). */
  gitDir: string;
  /** Runs `git` with these arguments in the repository; a failure is left to the next roll-up. */
  run: (args: string[]) => Promise<unknown>;
  /** Default {@linkcode AUDIT_MAX_PACKS}. */
  maxPacks?: number;
}

/**
 * Counts an audit trail's packs and rolls them up when due.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 *
 * const gitDir = await Deno.makeTempDir();
 * await Deno.mkdir(`${gitDir}/objects/pack`, { recursive: true });
 * const ran: string[][] = [];
 * const run = (args: string[]) => Promise.resolve(void ran.push(args));
 * const rollup = new PackRollup({ gitDir, maxPacks: 2, run });
 * await Deno.writeTextFile(`${gitDir}/objects/pack/pack-1.pack`, "");
 * await rollup.rollUpIfDue(); // one pack: not yet
 * rollup.committed();
 * await rollup.rollUpIfDue(); // two
 * assert.deepEqual(ran, [["repack", "-d", "-q", "--geometric=2"]]);
 * await Deno.remove(gitDir, { recursive: true });
 * ```
 */
export class PackRollup {
  readonly #o: PackRollupOptions;
  /** Packs (and `git` commits' loose objects) in the objects directory; undefined: not counted. */
  #packs: number | undefined;

  constructor(options: PackRollupOptions) {
    this.#o = options;
  }

  /** A commit landed: one pack more (or a `git` commit's loose objects, counted as one). */
  committed(): void {
    if (this.#packs !== undefined) this.#packs++;
  }

  /** Rolls the packs up when the directory holds `maxPacks` (best effort). */
  async rollUpIfDue(): Promise<void> {
    this.#packs ??= await this.#count();
    if (this.#packs < (this.#o.maxPacks ?? AUDIT_MAX_PACKS)) return;
    // A geometric roll-up costs about what the new packs hold, not the whole history. Best
    // effort: a repack that fails leaves the packs as they are, each one whole.
    await this.#o.run(["repack", "-d", "-q", "--geometric=2"]).catch(() => {});
    this.#packs = await this.#count();
  }

  /** The packs in the objects directory (0 when it cannot be read). */
  async #count(): Promise<number> {
    let n = 0;
    try {
      for await (const e of Deno.readDir(`${this.#o.gitDir}/objects/pack`)) {
        if (e.name.endsWith(".pack")) n++;
      }
    } catch {
      return 0;
    }
    return n;
  }
}
