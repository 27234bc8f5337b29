/**
 * The requester's cache of sealed repository bundles, in the profile (docs/PROTOCOL.md "Agent
 * work", "The repository out"): a second agent task on the same base, to the same depth and the
 * same provider, sends the very blob the first one sent, so it neither bundles, seals nor uploads
 * again (the town answers that it holds the blob: nothing to pay, nothing to send).
 *
 * Why the same sealed blob and its key, rather than a delta alone against a base the provider
 * has: the requester cannot know what a provider kept (a restart, an eviction, another machine
 * behind the same key), and a bundle with prerequisites is one the provider could not check alone.
 * So a new base near a kept one goes as that base's blob again with a delta from it
 * (roles/agent_work/repository_delta.ts; docs/PROTOCOL.md "A new base as a delta"): the delta's
 * entry names the base it goes from (`from`), and is a hit only while that base's entry is; the
 * bases a delta may go from are the whole bundles kept with their repository's path. The same
 * bytes under the same key
 * keep each guarantee of a fresh seal: the key still seals one message only (a hit never seals
 * again; a miss seals with a fresh key), it still travels only in the job's params encrypted to
 * that one provider (the entry is per provider: another provider gets a blob and key of its own),
 * and the town still holds ciphertext only. What the town learns besides: that two requests carry
 * the same repository blob (their `x` tags are equal), which their equal sizes told it already.
 *
 * An entry is `<dir>/<name>.sealed` and `<name>.json` (the base, depth, provider, key, the sealed
 * blob's sha256), the name a hash of base, depth and provider. A hit is checked before use: the
 * blob opens with the key (AES-GCM's tag: any changed byte, a truncated file or a wrong key fails),
 * else the entry is dropped and the task takes the full path. The whole check is skipped while the
 * blob's file is the very one `put` left (its `stamp`: a hash of the key, the blob's sha256 and the
 * file's inode, size, mtime and ctime as `put` left them): `sealFile` made those bytes with that
 * key; any write to the file since moves its mtime, and one that sets the mtime back moves its
 * ctime (which Deno reads to the second: such a write in the second of the `put` goes unseen, one
 * no mishap makes); a changed key no longer hashes to the stamp. An entry opened in full and found
 * whole (one kept before stamps, or its file moved) is stamped as it is then. That check read,
 * decrypted and hashed the whole blob at every hit, 0.2-0.3 s of a 5 MB bundle's task in a command
 * just started (docs/SCALE.md "A cached bundle's check kept by its stamp"). The least recently
 * used entries go past {@linkcode DEFAULT_BUNDLE_CACHE_MAX_BYTES} or
 * {@linkcode DEFAULT_BUNDLE_CACHE_MAX_ENTRIES}.
 * Beside the entries, `mirrors/` holds one bare repository per repository bundled, from which the
 * next bundle of a new base is made incrementally (roles/agent_work/bundle_mirror.ts).
 *
 * @module
 */
import { bytesToHex, hexToBytes } from "@noble/hashes/utils.js";
import { createStreamingSha256 } from "../../../protocol/streaming_sha256.ts";
import { type CachedEntry, evictLeastUsed } from "../least_used_eviction.ts";
import { checkSealedFile } from "../sealed_file.ts";
import { writeFileAtomic } from "../../../state/atomic_file.ts";

/** The cache's folder in a profile: `<state dir>/repository-bundles`. */
export const BUNDLE_CACHE_DIR = "repository-bundles";
/** Bytes of sealed bundles the cache keeps at most by default (least recently used go first). */
export const DEFAULT_BUNDLE_CACHE_MAX_BYTES = 512 * 1024 * 1024;
/** Entries the cache keeps at most by default. */
export const DEFAULT_BUNDLE_CACHE_MAX_ENTRIES = 16;

/** What names an entry: the same bundle, sealed for the same provider. */
export interface BundleCacheKey {
  /** The base commit's full object id. */
  base: string;
  /** The depth asked; undefined: the whole history. */
  depth?: number;
  /** The provider's pubkey (hex): the key goes to it alone. */
  provider: string;
}

/** A cache hit: a copy of the sealed blob to hand on, and its key. */
export interface CachedBundle {
  /** A copy of the sealed blob, the caller's to move or remove. */
  sealedPath: string;
  /** The blob's key. */
  key: Uint8Array<ArrayBuffer>;
  /** The sealed blob's sha256 (hex). */
  sealedSha256: string;
  /**
   * When the base went as a delta (roles/agent_work/repository_delta.ts): the delta's sealed blob,
   * its key and sha256; the fields above are then the bundle of the base it goes from.
   */
  delta?: Omit<CachedBundle, "delta">;
}

/** A sealed blob to keep ({@linkcode BundleCache.put}). */
export interface KeptBlob {
  /** The sealed file. */
  path: string;
  /** Its key. */
  key: Uint8Array<ArrayBuffer>;
  /** The sealed file's sha256 (hex). */
  sha256: string;
}

/** What else an entry says when it is kept ({@linkcode BundleCache.put}). */
export interface BundleCacheExtra {
  /** The repository's real path: a later task of it may send a delta from this entry's base. */
  repo?: string;
  /** The blob is a delta from this base, whose own entry holds its bundle. */
  from?: string;
}

/** Options of {@linkcode openBundleCache}. */
export interface BundleCacheOptions {
  /** The cache's folder (made 0700 when absent). */
  dir: string;
  /** Bytes of sealed blobs kept at most; {@linkcode DEFAULT_BUNDLE_CACHE_MAX_BYTES} by default. */
  maxBytes?: number;
  /** Entries kept at most; {@linkcode DEFAULT_BUNDLE_CACHE_MAX_ENTRIES} by default. */
  maxEntries?: number;
}

/** The cache's calls. */
export interface BundleCache {
  /** Its folder (entries, mirrors, and the `.tmp-*` leftovers its eviction removes). */
  readonly dir: string;
  /** The entry's blob copied out and its key, or undefined (absent, or dropped as corrupt). */
  get(key: BundleCacheKey): Promise<CachedBundle | undefined>;
  /**
   * Keeps a sealed blob (copied from `sealed.path`, left in place), its key and its sha256 as
   * `sealFile` gave them (not hashed again: a wrong one makes the entry a miss at its next get). A
   * delta's entry (`extra.from`) is a hit only while the entry of the base it goes from is.
   */
  put(key: BundleCacheKey, sealed: KeptBlob, extra?: BundleCacheExtra): Promise<void>;
  /**
   * The bases of the whole bundles kept for this repository (its real path), depth and provider,
   * most recently used first: those a new base's delta may go from.
   */
  bundledBases(key: Omit<BundleCacheKey, "base"> & { repo: string }): Promise<string[]>;
  /**
   * Where the bundles of the repository at `repo` (its real path) keep their mirror, which makes
   * the next bundle of another base incremental (roles/agent_work/bundle_mirror.ts).
   */
  mirrorOf(repo: string): string;
}

interface EntryFile {
  version: 1;
  base: string;
  depth: number | null;
  provider: string;
  key: string;
  sealed: string;
  repo?: string;
  from?: string;
  /** The sealed file as `put` left it, with the key and sha256 ({@linkcode entryStamp}). */
  stamp?: string;
}

/**
 * The cache in `o.dir`.
 *
 * @example
 * ```ts
 * import { openBundleCache } from "./repository_bundle_cache.ts";
 * import { sealFile } from "../sealed_file.ts";
 *
 * const dir = await Deno.makeTempDir();
 * const cache = openBundleCache({ dir: `${dir}/cache` });
 * const id = { base: "ab".repeat(20), depth: 50, provider: "cd".repeat(32) };
 * await Deno.writeFile(`${dir}/repo.bundle`, new Uint8Array([1, 2, 3]));
 * const sealed = await sealFile(`${dir}/repo.bundle`, `${dir}/repo.sealed`);
 * await cache.put(id, { path: `${dir}/repo.sealed`, ...sealed });
 * const hit = await cache.get(id);
 * if (hit === undefined || hit.key.length !== 32) throw new Error("a miss");
 * await Deno.remove(dir, { recursive: true });
 * ```
 */
export function openBundleCache(o: BundleCacheOptions): BundleCache {
  const maxBytes = o.maxBytes ?? DEFAULT_BUNDLE_CACHE_MAX_BYTES;
  const maxEntries = o.maxEntries ?? DEFAULT_BUNDLE_CACHE_MAX_ENTRIES;
  const pathOf = (k: BundleCacheKey) =>
    `${o.dir}/${
      sha256Of(new TextEncoder().encode(`${k.base} ${k.depth ?? "all"} ${k.provider}`)).slice(0, 32)
    }`;
  const drop = async (path: string) => {
    await Deno.remove(`${path}.json`).catch(() => {});
    await Deno.remove(`${path}.sealed`).catch(() => {});
  };
  /** The entry, checked (dropped when it fails), and its blob copied out; undefined: a miss. */
  const one = async (k: BundleCacheKey) => {
    const path = pathOf(k);
    let entry: EntryFile;
    try {
      entry = JSON.parse(await Deno.readTextFile(`${path}.json`));
    } catch {
      await drop(path);
      return undefined;
    }
    const same = entry.version === 1 && entry.base === k.base &&
      entry.depth === (k.depth ?? null) && entry.provider === k.provider &&
      /^[0-9a-f]{64}$/.test(entry.key);
    const key = same ? hexToBytes(entry.key) as Uint8Array<ArrayBuffer> : undefined;
    // Opening proves the bytes and the key belong together (a blob that does not open at the
    // provider would fail the job after its deposit), a chunk at a time: a bundle may be large;
    // the file `put` left, its stamp whole, was sealed with that key (the module's doc).
    const file = await Deno.stat(`${path}.sealed`).catch(() => undefined);
    const stamp = file && entryStamp(entry.key, entry.sealed, file);
    const trusted = entry.stamp !== undefined && entry.stamp === stamp;
    const sha256 = key === undefined
      ? undefined
      : trusted
      ? entry.sealed
      : await checkSealedFile(`${path}.sealed`, key).catch(() => undefined);
    if (key === undefined || sha256 !== entry.sealed) {
      await drop(path);
      return undefined;
    }
    if (!trusted && stamp !== undefined) {
      // Opened in full (an entry kept before stamps, or a file moved since): stamped as it is.
      await writeFileAtomic(`${path}.json`, JSON.stringify({ ...entry, stamp }), {
        skipDirSync: true,
        skipFileSync: true,
      }).catch(() => {});
    }
    const now = new Date();
    await Deno.utime(`${path}.json`, now, now).catch(() => {});
    // A copy the caller may move into the profile's uploads/ (same file system: a rename).
    const sealedPath = `${o.dir}/.out-${crypto.randomUUID()}.sealed`;
    await Deno.copyFile(`${path}.sealed`, sealedPath);
    await Deno.chmod(sealedPath, 0o600);
    return { from: entry.from, hit: { sealedPath, key, sealedSha256: entry.sealed } };
  };
  return {
    dir: o.dir,
    async get(k) {
      const found = await one(k);
      if (found?.from === undefined) return found?.hit;
      // A delta: a hit with the whole bundle of the base it goes from, itself no delta.
      const from = await one({ ...k, base: found.from });
      if (from === undefined || from.from !== undefined) {
        await Deno.remove(found.hit.sealedPath).catch(() => {});
        if (from !== undefined) await Deno.remove(from.hit.sealedPath).catch(() => {});
        await drop(pathOf(k));
        return undefined;
      }
      return { ...from.hit, delta: found.hit };
    },
    async bundledBases(k) {
      const found: { base: string; used: number }[] = [];
      try {
        for await (const e of Deno.readDir(o.dir)) {
          if (!e.isFile || e.name.startsWith(".") || !e.name.endsWith(".json")) continue;
          const path = `${o.dir}/${e.name}`;
          const entry = await Deno.readTextFile(path).then(
            (t) => JSON.parse(t) as EntryFile,
            () => undefined,
          );
          if (
            entry?.version !== 1 || entry.from !== undefined || entry.repo !== k.repo ||
            entry.depth !== (k.depth ?? null) || entry.provider !== k.provider ||
            !/^[0-9a-f]{40}$/.test(entry.base)
          ) continue;
          const used = (await Deno.stat(path).catch(() => undefined))?.mtime?.getTime() ?? 0;
          found.push({ base: entry.base, used });
        }
      } catch {
        return []; // no cache yet
      }
      return found.sort((a, b) => b.used - a.used).map((f) => f.base);
    },
    mirrorOf(repo) {
      return `${o.dir}/mirrors/${sha256Of(new TextEncoder().encode(repo)).slice(0, 32)}`;
    },
    async put(k, sealed, extra) {
      await Deno.mkdir(o.dir, { recursive: true, mode: 0o700 });
      const path = pathOf(k);
      const entry: EntryFile = {
        version: 1,
        base: k.base,
        depth: k.depth ?? null,
        provider: k.provider,
        key: bytesToHex(sealed.key),
        sealed: sealed.sha256,
        ...(extra?.repo === undefined ? {} : { repo: extra.repo }),
        ...(extra?.from === undefined ? {} : { from: extra.from }),
      };
      // No fsyncs: an entry a crash cut short fails its check at the next get and is dropped.
      // The blob copied, not read: a bundle may be large.
      const copy = `${o.dir}/.tmp-put-${crypto.randomUUID()}`;
      try {
        await Deno.copyFile(sealed.path, copy);
        await Deno.chmod(copy, 0o600);
        await Deno.rename(copy, `${path}.sealed`);
      } finally {
        await Deno.remove(copy).catch(() => {});
      }
      const stamp = entryStamp(entry.key, entry.sealed, await Deno.stat(`${path}.sealed`));
      if (stamp !== undefined) entry.stamp = stamp;
      await writeFileAtomic(`${path}.json`, JSON.stringify(entry), {
        skipDirSync: true,
        skipFileSync: true,
      });
      await evict(o.dir, maxBytes, maxEntries);
    },
  };
}

/** Drops the least recently used entries until the cache is within both bounds. */
async function evict(dir: string, maxBytes: number, maxEntries: number): Promise<void> {
  const entries: CachedEntry[] = [];
  for await (const e of Deno.readDir(dir)) {
    if (e.name.startsWith(".")) {
      // A crash's leftover (a bundle's throwaway repository, a copy handed out): after an hour.
      const made = (await Deno.stat(`${dir}/${e.name}`).catch(() => undefined))?.mtime;
      if (Date.now() - (made?.getTime() ?? Date.now()) > 3_600_000) {
        await Deno.remove(`${dir}/${e.name}`, { recursive: true }).catch(() => {});
      }
      continue;
    }
    if (!e.isFile || !e.name.endsWith(".json")) continue;
    const path = `${dir}/${e.name.slice(0, -5)}`;
    const json = await Deno.stat(`${path}.json`).catch(() => undefined);
    const sealed = await Deno.stat(`${path}.sealed`).catch(() => undefined);
    entries.push({
      used: json?.mtime?.getTime() ?? 0,
      bytes: sealed?.size ?? 0,
      remove: async () => {
        await Deno.remove(`${path}.json`).catch(() => {});
        await Deno.remove(`${path}.sealed`).catch(() => {});
      },
    });
  }
  await evictLeastUsed(entries, { maxBytes, maxEntries });
}

/**
 * An entry's stamp: the key, the blob's sha256 and its file's identity hashed together; undefined
 * where the file system gives no inode or ctime (every hit is then checked in full).
 */
function entryStamp(key: string, sealed: string, file: Deno.FileInfo): string | undefined {
  if (file.ino === null || file.ctime === null || file.mtime === null) return undefined;
  const id =
    `${key} ${sealed} ${file.dev} ${file.ino} ${file.size} ${file.mtime.getTime()} ${file.ctime.getTime()}`;
  return sha256Of(new TextEncoder().encode(id));
}

/** The hex SHA-256 of a short text (an entry's name). */
function sha256Of(bytes: Uint8Array): string {
  const hash = createStreamingSha256();
  hash.update(bytes);
  return hash.digestHex();
}
