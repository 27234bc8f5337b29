/**
 * The requester's mirror of a repository's bundled history, which makes the next bundle of that
 * repository incremental (roles/agent_work/repository_bundle.ts; docs/PROTOCOL.md "Agent work"):
 * a bare repository holding the objects of the bases bundled before, with their shallow commits.
 *
 * The costly part of a bundle is the shallow fetch from the repository: upload-pack compresses and
 * deltifies every object of the base's history (4.2 s of the 4.3 of a depth-50 bundle of this
 * repository with 5,364 loose objects, on a loaded machine). The throwaway repository the bundle is
 * made in borrows the mirror's objects (`objects/info/alternates`) and starts from the mirror's
 * `shallow` file, so the fetch announces what it has and where its history stops, and the
 * repository sends only the new objects (273 objects and 0.9 s for a base five commits on); git
 * sends the parents of a shallow commit the new depth needs (unshallow) on its own. The bundle is
 * then made as before, from the base down to the shallow commits, its objects read through the
 * alternates: the same objects and the same shallow commits as a bundle made from nothing.
 * Afterwards the fetch's pack moves into the mirror and its `shallow` file replaces the mirror's.
 *
 * A fetch or bundle that fails with the mirror is made again without it, and the mirror dropped;
 * a mirror of more than {@linkcode MIRROR_MAX_PACKS} packs is dropped too (the next bundle seeds a
 * new one), which bounds it to about that many bases' new objects over the first.
 *
 * @module
 */

/** Packs a mirror may hold before it is dropped and seeded again. */
export const MIRROR_MAX_PACKS = 16;

/**
 * Makes `tmp` (a new bare repository) borrow `mirror`'s objects and start from its shallow
 * commits; false when there is no mirror yet.
 *
 * @example
 * ```ts
 * import { seedFromMirror } from "./bundle_mirror.ts";
 *
 * const tmp = await Deno.makeTempDir();
 * const used = await seedFromMirror(tmp, `${tmp}/none`);
 * if (used) throw new Error("no mirror there");
 * await Deno.remove(tmp, { recursive: true });
 * ```
 */
export async function seedFromMirror(tmp: string, mirror: string): Promise<boolean> {
  const objects = `${mirror}/objects`;
  if (!await Deno.stat(`${objects}/pack`).then((s) => s.isDirectory, () => false)) return false;
  await Deno.mkdir(`${tmp}/objects/info`, { recursive: true });
  await Deno.writeTextFile(`${tmp}/objects/info/alternates`, `${objects}\n`);
  const shallow = await Deno.readTextFile(`${mirror}/shallow`).catch(() => "");
  if (shallow !== "") await Deno.writeTextFile(`${tmp}/shallow`, shallow);
  return true;
}

/**
 * After a bundle: `tmp`'s new pack and its shallow commits kept in `mirror` (or `tmp` renamed to
 * be the mirror when there is none; same file system). Best effort: a mirror it cannot update is
 * removed, and the next bundle is made from nothing.
 *
 * It runs git: no example that runs here: tests/unit/roles/agent_work/bundle_mirror_test.ts.
 */
export async function keepInMirror(tmp: string, mirror: string): Promise<void> {
  try {
    const packs = `${mirror}/objects/pack`;
    if (!await Deno.stat(packs).then(() => true, () => false)) {
      await Deno.remove(`${tmp}/objects/info/alternates`).catch(() => {});
      await Deno.mkdir(mirror.slice(0, mirror.lastIndexOf("/")), { recursive: true, mode: 0o700 });
      await Deno.rename(tmp, mirror);
      return;
    }
    // The .idx last: git takes a pack as there once its index is.
    const names: string[] = [];
    for await (const e of Deno.readDir(`${tmp}/objects/pack`)) names.push(e.name);
    names.sort((a, b) => Number(a.endsWith(".idx")) - Number(b.endsWith(".idx")));
    for (const name of names) await Deno.rename(`${tmp}/objects/pack/${name}`, `${packs}/${name}`);
    const shallow = await Deno.readTextFile(`${tmp}/shallow`).catch(() => "");
    const next = `${mirror}/shallow.${crypto.randomUUID()}`;
    await Deno.writeTextFile(next, shallow);
    await Deno.rename(next, `${mirror}/shallow`);
    let count = 0;
    for await (const e of Deno.readDir(packs)) if (e.name.endsWith(".pack")) count++;
    if (count > MIRROR_MAX_PACKS) await Deno.remove(mirror, { recursive: true });
  } catch {
    await Deno.remove(mirror, { recursive: true }).catch(() => {});
  }
}
