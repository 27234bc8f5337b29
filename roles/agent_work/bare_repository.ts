/**
 * An empty bare repository written by hand: what git needs to take a directory for one (`HEAD`,
 * `config`, `objects/`, `refs/`; `git init --bare` adds only samples and a description), without
 * the git process, a start that is 10-25 ms on the machines measured (docs/SCALE.md "The result's
 * check in fewer processes"). The quarantines of a result's check, a repository's bundle and a
 * delta are made this way.
 *
 * @module
 */

/** Options for {@linkcode makeBareRepository}. */
export interface BareRepositoryOptions {
  /** An object dir whose objects the repository sees as its own (`objects/info/alternates`). */
  alternates?: string;
}

/** What `git init --bare` writes to `config` (SHA-1 objects, format 0). */
const CONFIG = "[core]\n\trepositoryformatversion = 0\n\tfilemode = true\n\tbare = true\n";

/**
 * Makes `dir` (created if absent, its files owner-only) an empty bare repository.
 *
 * @example
 * ```ts
 * import { makeBareRepository } from "./bare_repository.ts";
 *
 * const dir = await Deno.makeTempDir();
 * await makeBareRepository(dir);
 * const head = await Deno.readTextFile(`${dir}/HEAD`);
 * if (!head.startsWith("ref: refs/heads/")) throw new Error(head);
 * await Deno.remove(dir, { recursive: true });
 * ```
 */
export async function makeBareRepository(
  dir: string,
  options: BareRepositoryOptions = {},
): Promise<void> {
  for (const sub of ["objects/info", "objects/pack", "refs/heads", "refs/tags"]) {
    await Deno.mkdir(`${dir}/${sub}`, { recursive: true, mode: 0o700 });
  }
  await Deno.writeTextFile(`${dir}/HEAD`, "ref: refs/heads/main\n", { mode: 0o600 });
  await Deno.writeTextFile(`${dir}/config`, CONFIG, { mode: 0o600 });
  if (options.alternates !== undefined) {
    await Deno.writeTextFile(`${dir}/objects/info/alternates`, `${options.alternates}\n`, {
      mode: 0o600,
    });
  }
}
