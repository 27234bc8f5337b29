/**
 * The provider's cache of checked-out repositories (docs/OPERATIONS.md "The agent-task checkout
 * cache"): a task whose repository bundle is one the provider checked before (the requester sends
 * the same sealed blob for the same base: roles/agent_work/requester/repository_bundle_cache.ts)
 * gets its pristine repository from here, as hard links, instead of unbundling, checking and
 * checking out again.
 *
 * The provider trusts the requester's bundle no more than before: an entry is made only from a
 * checkout that passed every check of `worktreeFromBundle` (roles/agent_work/bundle_worktree.ts),
 * and is named by the sealed blob (its sha256, which the fetch checked the bytes against) and the
 * key it was opened with, the delta's blob and key when the job sent one
 * (roles/agent_work/delta_worktree.ts), and the base. AES-GCM opens a blob with a key to one
 * plaintext or not at all, so only the very same bundle and delta, whose checks would come out the
 * same, find it; and a hit neither reads nor opens the blob (docs/SCALE.md "A cached checkout found
 * by its sealed blob"). Its
 * base's files are checked again against the job's own limit (their size, kept with the entry): a
 * job with a smaller disk takes the full path. Nothing in the cache is ever written after it is
 * made: a job sees the checkout through an overlay whose lower layer the kernel never writes (or
 * a tar of it in its `inputs/`), a host preset copies the pristine repository, and git on the host
 * only reads it (git writes by rename in any case).
 *
 * An entry is kept once the job that checked it out is over ({@linkcode CheckoutCache.keep}): its
 * checkout is moved into the cache, not copied, and the job's run never waits for it (docs/SKILLS.md
 * "agent-task").
 *
 * On disk, beside the jobs' work dirs and hidden from every job as the whole state dir is:
 * `<dir>/<name>/pristine/`, `<dir>/<name>/base`, `<dir>/<name>/bytes` (the base's files' size) and
 * `<dir>/<name>/disk` (what the entry takes on disk), made in `<dir>/.tmp-*` and renamed in. The
 * least recently used entries go past {@linkcode DEFAULT_CHECKOUT_CACHE_MAX_BYTES}.
 *
 * @module
 */
import { createStreamingSha256 } from "../../../protocol/streaming_sha256.ts";
import { type CachedEntry, evictLeastUsed } from "../least_used_eviction.ts";
import type { CheckoutSeed } from "../seeded_checkout.ts";

/** The cache's folder in a provider's state dir: `<state dir>/agent-checkouts`. */
export const CHECKOUT_CACHE_DIR = "agent-checkouts";
/** Entries offered as seeds of a new base's checkout at most (the most recently used). */
export const MAX_CHECKOUT_SEEDS = 8;
/** Bytes the cached checkouts take at most by default (least recently used go first). */
export const DEFAULT_CHECKOUT_CACHE_MAX_BYTES = 2 * 1024 * 1024 * 1024;

/** Options of {@linkcode openCheckoutCache}. */
export interface CheckoutCacheOptions {
  /** The cache's folder (made 0700 when absent). */
  dir: string;
  /** Bytes kept at most; {@linkcode DEFAULT_CHECKOUT_CACHE_MAX_BYTES} by default. */
  maxBytes?: number;
}

/** A sealed blob as a job names it: what the fetch checked its bytes against, and its key. */
export interface SealedInput {
  /** The sealed blob's sha256, hex (the job's fetched file of that name hashes to it). */
  blob: string;
  /** The key that opens it, hex. */
  key: string;
}

/** What names an entry: the sealed bundle, the sealed delta, and the base the job agreed. */
export interface CheckoutKey {
  /** The sealed bundle. */
  bundle: SealedInput;
  /** The sealed delta from the bundle's base to `base`, when the job sent one. */
  delta?: SealedInput;
  /** The base commit. */
  base: string;
}

/** The cache's calls. */
export interface CheckoutCache {
  /**
   * Links the entry's `pristine/` into `hostDir`; false when there is none, its base's files take
   * more than `maxBytes`, or linking failed (then nothing is left in `hostDir`).
   */
  take(key: CheckoutKey, hostDir: string, maxBytes: number): Promise<boolean>;
  /**
   * Moves `hostDir`'s checked `pristine/` (whose base's files take `bytes`) into the cache, or
   * copies it where it cannot be moved (best effort); the entry's `pristine/`, or undefined when
   * none was made (one is there already, or the disk refused).
   */
  keep(key: CheckoutKey, hostDir: string, bytes: number): Promise<string | undefined>;
  /**
   * The entries' checkouts and bases, most recently used first, at most
   * {@linkcode MAX_CHECKOUT_SEEDS}: where a new base's checkout may start from
   * (roles/agent_work/seeded_checkout.ts).
   */
  seeds(): Promise<CheckoutSeed[]>;
}

/**
 * The cache in `o.dir`.
 *
 * @example
 * ```ts
 * import { openCheckoutCache } from "./checkout_cache.ts";
 *
 * const dir = await Deno.makeTempDir();
 * const cache = openCheckoutCache({ dir: `${dir}/cache` });
 * const key = { bundle: { blob: "cd".repeat(32), key: "ef".repeat(32) }, base: "ab".repeat(20) };
 * await Deno.mkdir(`${dir}/job/pristine/.git`, { recursive: true });
 * await Deno.writeTextFile(`${dir}/job/pristine/a.txt`, "a");
 * await cache.keep(key, `${dir}/job`, 1);
 * await Deno.mkdir(`${dir}/next`);
 * if (!await cache.take(key, `${dir}/next`, 1 << 20)) throw new Error("a miss");
 * if (await cache.take(key, `${dir}/next`, 0)) throw new Error("over the job's limit");
 * await Deno.remove(dir, { recursive: true });
 * ```
 */
export function openCheckoutCache(o: CheckoutCacheOptions): CheckoutCache {
  const maxBytes = o.maxBytes ?? DEFAULT_CHECKOUT_CACHE_MAX_BYTES;
  const nameOf = (k: CheckoutKey) => {
    const sealed = (i: SealedInput) => `${i.blob}:${i.key}`;
    const hash = createStreamingSha256();
    hash.update(new TextEncoder().encode(
      `bundle ${sealed(k.bundle)} delta ${k.delta ? sealed(k.delta) : "-"} base ${k.base}`,
    ));
    return hash.digestHex().slice(0, 32);
  };
  return {
    async take(k, hostDir, maxBytes) {
      const entry = `${o.dir}/${nameOf(k)}`;
      // An entry without its size (kept by an older version) is not taken: the full path.
      const bytes = Number(await Deno.readTextFile(`${entry}/bytes`).catch(() => "NaN"));
      if (!Number.isSafeInteger(bytes) || bytes > maxBytes) return false;
      const now = new Date();
      await Deno.utime(entry, now, now).catch(() => {});
      try {
        await run("cp", ["-al", `${entry}/pristine`, `${hostDir}/pristine`]);
        return true;
      } catch {
        // Evicted meanwhile, or another file system: the full path, from nothing.
        await Deno.remove(`${hostDir}/pristine`, { recursive: true }).catch(() => {});
        return false;
      }
    },
    async keep(k, hostDir, bytes) {
      await Deno.mkdir(o.dir, { recursive: true, mode: 0o700 });
      const entry = `${o.dir}/${nameOf(k)}`;
      if (await Deno.stat(entry).then(() => true, () => false)) return undefined;
      const tmp = await Deno.makeTempDir({ dir: o.dir, prefix: ".tmp-" });
      try {
        // Moved: the job is over, and its host dir goes next. Copied where it cannot be moved.
        await Deno.rename(`${hostDir}/pristine`, `${tmp}/pristine`).catch(() =>
          run("cp", ["-a", `${hostDir}/pristine`, `${tmp}/pristine`])
        );
        await Deno.writeTextFile(`${tmp}/base`, k.base);
        await Deno.writeTextFile(`${tmp}/bytes`, String(bytes));
        await Deno.writeTextFile(
          `${tmp}/disk`,
          String(bytes + await treeBytes(`${tmp}/pristine/.git`)),
        );
        await Deno.rename(tmp, entry);
      } catch {
        // Another job kept the same one first, or the disk is full: this job is not the worse.
        await Deno.remove(tmp, { recursive: true }).catch(() => {});
        return undefined;
      }
      await evict(o.dir, maxBytes);
      return `${entry}/pristine`;
    },
    async seeds() {
      const found: (CheckoutSeed & { used: number })[] = [];
      try {
        for await (const e of Deno.readDir(o.dir)) {
          if (e.name.startsWith(".")) continue;
          const entry = `${o.dir}/${e.name}`;
          const base = await Deno.readTextFile(`${entry}/base`).catch(() => undefined);
          const used = (await Deno.stat(entry).catch(() => undefined))?.mtime?.getTime();
          if (base !== undefined && used !== undefined) {
            found.push({ dir: `${entry}/pristine`, base: base.trim(), used });
          }
        }
      } catch {
        return [];
      }
      found.sort((a, b) => b.used - a.used);
      return found.slice(0, MAX_CHECKOUT_SEEDS).map(({ dir, base }) => ({ dir, base }));
    },
  };
}

/** Drops the least recently used entries (and a crash's leftovers) until within the bound. */
async function evict(dir: string, maxBytes: number): Promise<void> {
  const entries: CachedEntry[] = [];
  for await (const e of Deno.readDir(dir)) {
    const path = `${dir}/${e.name}`;
    if (e.name.startsWith(".tmp-")) {
      // Older than a minute: no keep() is still writing it.
      const made = (await Deno.stat(path).catch(() => undefined))?.mtime?.getTime() ?? 0;
      if (Date.now() - made > 60_000) await Deno.remove(path, { recursive: true }).catch(() => {});
      continue;
    }
    const used = (await Deno.stat(path).catch(() => undefined))?.mtime?.getTime() ?? 0;
    // Its size as kept with it; measured for an entry kept by an older version.
    const kept = Number(await Deno.readTextFile(`${path}/disk`).catch(() => "NaN"));
    const bytes = Number.isSafeInteger(kept)
      ? kept
      : Number((await run("du", ["-sb", path]).catch(() => "0")).split("\t")[0]) || 0;
    entries.push({
      used,
      bytes,
      remove: () => Deno.remove(path, { recursive: true }),
    });
  }
  await evictLeastUsed(entries, { maxBytes });
}

/** The bytes of the files under `dir` (a checkout's `.git`: a pack and a few small files). */
async function treeBytes(dir: string): Promise<number> {
  let sum = 0;
  for await (const e of Deno.readDir(dir)) {
    const path = `${dir}/${e.name}`;
    if (e.isDirectory) sum += await treeBytes(path);
    else if (e.isFile) sum += (await Deno.lstat(path)).size;
  }
  return sum;
}

async function run(cmd: string, args: string[]): Promise<string> {
  const out = await new Deno.Command(cmd, { args, stdout: "piped", stderr: "piped" }).output();
  if (!out.success) throw new Error(`${cmd}: ${new TextDecoder().decode(out.stderr).trim()}`);
  return new TextDecoder().decode(out.stdout);
}
