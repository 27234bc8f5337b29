/**
 * A new base's checkout started from a checkout of another base (docs/OPERATIONS.md "The
 * agent-task checkout cache"): writing the base's files is most of a checkout's cost on a disk
 * (some 1,600 files of this repository: 2-3 s of `git reset --hard`, against 0.4 s to hard-link
 * them), and a task on a base one commit on from the last changes a few of them. So the seed's
 * files are hard-linked into the new repository with the seed's index, and `git reset --hard`
 * writes only the paths whose blob differs (git replaces a file it updates: a new inode, the
 * seed's left as it was) and removes those the base has not.
 *
 * What the job gets is the base's tree, whatever the seed: every path the reset leaves is one
 * whose blob in the seed's index is the base's (the files' stat data vouch for their content, as
 * they do for every git command in a checkout: `core.checkStat=minimal`, which a hard link's new
 * ctime does not disturb). A seed is used only when its base commit is among the new bundle's
 * objects: the requester then holds that history already, so which seed served (and how fast)
 * tells it nothing of other requesters' repositories.
 *
 * @module
 */
import { runGit } from "./git_command.ts";

/** A checkout to start from: its directory (a git worktree at `base`, clean). */
export interface CheckoutSeed {
  /** The checkout's directory (its files and `.git/index`). */
  dir: string;
  /** Its base commit (full object id). */
  base: string;
}

/** Options of {@linkcode seedCheckout}. */
export interface SeedCheckoutOptions {
  /** The new repository (its objects checked, nothing checked out yet). */
  dir: string;
  /** The candidates, best first. */
  seeds: readonly CheckoutSeed[];
  /** Milliseconds each git command may run. */
  timeoutMs?: number;
}

/**
 * Links the files and index of the first seed whose base commit `dir` holds into `dir`; the seed
 * used, or undefined (none fits, or linking failed: then nothing of it is left in `dir`). The
 * caller's `git reset --hard <base>` then writes only what differs.
 *
 * It runs git: no example that runs here:
 * tests/unit/roles/agent_work/provider/checkout_cache_test.ts.
 */
export async function seedCheckout(o: SeedCheckoutOptions): Promise<CheckoutSeed | undefined> {
  const seeds = o.seeds.filter((s) => /^[0-9a-f]{40}$/.test(s.base));
  if (seeds.length === 0) return undefined;
  const { stdout } = await runGit(["cat-file", "--batch-check=%(objecttype)"], {
    dir: o.dir,
    timeoutMs: o.timeoutMs,
    stdin: new TextEncoder().encode(seeds.map((s) => s.base).join("\n") + "\n"),
  });
  const types = stdout.split("\n");
  const seed = seeds.find((_, i) => types[i] === "commit");
  if (seed === undefined) return undefined;
  const names: string[] = [];
  try {
    for await (const e of Deno.readDir(seed.dir)) if (e.name !== ".git") names.push(e.name);
    if (names.length > 0) {
      const cp = await new Deno.Command("cp", {
        args: ["-al", "--", ...names.map((n) => `${seed.dir}/${n}`), `${o.dir}/`],
        stdout: "null",
        stderr: "null",
      }).output();
      if (!cp.success) throw new Error("cp -al failed");
    }
    // A copy: git replaces its index by rename, but the seed's must never change.
    await Deno.copyFile(`${seed.dir}/.git/index`, `${o.dir}/.git/index`);
    return seed;
  } catch {
    await unseedCheckout(o.dir);
    return undefined;
  }
}

/**
 * Removes whatever a seed left in `dir`: every file but `.git`, and the index.
 *
 * @example
 * ```ts
 * import { unseedCheckout } from "./seeded_checkout.ts";
 *
 * const dir = await Deno.makeTempDir();
 * await Deno.mkdir(`${dir}/.git`);
 * await Deno.writeTextFile(`${dir}/a.txt`, "a");
 * await unseedCheckout(dir);
 * if ([...Deno.readDirSync(dir)].length !== 1) throw new Error("a.txt left");
 * await Deno.remove(dir, { recursive: true });
 * ```
 */
export async function unseedCheckout(dir: string): Promise<void> {
  const names: string[] = [];
  for await (const e of Deno.readDir(dir)) if (e.name !== ".git") names.push(e.name);
  for (const name of names) {
    await Deno.remove(`${dir}/${name}`, { recursive: true }).catch(() => {});
  }
  await Deno.remove(`${dir}/.git/index`).catch(() => {});
}
