/**
 * The provider's skill catalog: one folder per skill in a skills dir (`<dir>/<name>/SKILL.md` +
 * an executable `run`), looked up by job kind. Watched with `Deno.watchFs`, so a folder dropped
 * in (or edited, or removed) is served without a restart (zero configuration). A rescan every
 * few seconds backs the watcher up: inotify drops events when its queue overflows, and a host out
 * of inotify instances gives no watcher at all.
 *
 * @module
 */
import { RoleError } from "../../role_error.ts";
import { MAX_SKILL_MD_BYTES, parseSkillManifest, type SkillManifest } from "./skill_manifest.ts";

/** One usable skill. */
export interface SkillEntry {
  manifest: SkillManifest;
  /** Absolute path of the skill's folder. */
  dir: string;
}

/** Options for {@linkcode loadSkillCatalog}. */
export interface SkillCatalogOptions {
  /** The skills dir. */
  dir: string;
  /** Watch the dir and rescan on change (default true). */
  watch?: boolean;
  /** Called after every rescan (initial load excluded). */
  onChange?: (catalog: SkillCatalog) => void;
  /** Quiet period before a rescan, so a folder copied file by file is read once (default 100). */
  debounceMs?: number;
  /**
   * Rescan this often whatever the watcher says (0 = never). Default 30000 while the watcher
   * runs (the rescan only catches what it missed: a queue overflow) and 5000 without one (no
   * inotify instance left): a scan reads every manifest, and a process hosting hundreds of
   * providers paid for one every 5 s each (docs/SCALE.md).
   */
  rescanMs?: number;
}

/** The current set of skills. */
export interface SkillCatalog {
  /** All usable skills, by name. */
  skills(): SkillEntry[];
  /** The skill serving `kind`; on a conflict, the first by folder name. */
  forKind(kind: number): SkillEntry | undefined;
  /** Folders that are not usable skills, with why (bad manifest, no `run`, kind conflict). */
  problems(): Map<string, string>;
  /** Rescan now. */
  reload(): Promise<void>;
  /** Stop watching. */
  close(): void;
}

/** The skills dir itself cannot be read. */
export class SkillCatalogError extends RoleError {
  override name = "SkillCatalogError";
}

/**
 * Scan `options.dir` and (by default) keep watching it.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { loadSkillCatalog } from "./skill_catalog.ts";
 * import { writeSkillScaffold } from "./skill_scaffold.ts";
 *
 * const dir = await Deno.makeTempDir();
 * await writeSkillScaffold({ name: "wordcount", parentDir: dir, kind: 5700 });
 * await Deno.mkdir(`${dir}/empty`);
 * const catalog = await loadSkillCatalog({ dir });
 * assert.equal(catalog.forKind(5700)?.manifest.name, "wordcount");
 * assert.deepEqual([...catalog.problems().keys()], ["empty"]);
 * catalog.close();
 * await Deno.remove(dir, { recursive: true });
 * ```
 */
export async function loadSkillCatalog(options: SkillCatalogOptions): Promise<SkillCatalog> {
  let dir: string;
  try {
    dir = await Deno.realPath(options.dir);
  } catch (err) {
    throw new SkillCatalogError(`cannot read skills dir ${options.dir}: ${String(err)}`);
  }
  let state = await scan(dir);
  let watcher: Deno.FsWatcher | undefined;
  let timer: ReturnType<typeof setTimeout> | undefined;
  let poller: ReturnType<typeof setInterval> | undefined;
  let closed = false;

  const catalog: SkillCatalog = {
    skills: () => [...state.byName.values()],
    forKind: (kind) => state.byKind.get(kind),
    problems: () => new Map(state.problems),
    reload: async () => {
      state = await scan(dir);
    },
    close: () => {
      closed = true;
      clearTimeout(timer);
      clearInterval(poller);
      watcher?.close();
    },
  };

  const rescan = async () => {
    if (closed) return;
    const next = await scan(dir).catch(() => null);
    if (next === null || closed || fingerprint(next) === fingerprint(state)) return;
    state = next;
    options.onChange?.(catalog);
  };
  if (options.watch !== false) {
    try {
      watcher = Deno.watchFs(dir, { recursive: true });
    } catch {
      // Out of inotify instances: the periodic rescan below still sees changes.
    }
    const debounce = options.debounceMs ?? 100;
    (async () => {
      for await (const _event of watcher ?? []) {
        clearTimeout(timer);
        timer = setTimeout(rescan, debounce);
      }
    })().catch(() => {/* watcher closed */});
    const every = options.rescanMs ?? (watcher === undefined ? 5000 : 30_000);
    if (every > 0) poller = setInterval(rescan, every);
  }
  return catalog;
}

interface CatalogState {
  byName: Map<string, SkillEntry>;
  byKind: Map<number, SkillEntry>;
  problems: Map<string, string>;
}

async function scan(dir: string): Promise<CatalogState> {
  const state: CatalogState = { byName: new Map(), byKind: new Map(), problems: new Map() };
  const folders: string[] = [];
  for await (const entry of Deno.readDir(dir)) {
    if (entry.name.startsWith(".")) continue;
    // A symlinked skill folder (an operator linking a shared skill in) counts as a folder.
    const isDir = entry.isDirectory ||
      (entry.isSymlink && (await Deno.stat(`${dir}/${entry.name}`).catch(() => null))?.isDirectory);
    if (isDir) folders.push(entry.name);
  }
  folders.sort();
  for (const folder of folders) {
    const result = await readSkill(`${dir}/${folder}`);
    if (typeof result === "string") {
      state.problems.set(folder, result);
      continue;
    }
    if (state.byName.has(result.manifest.name)) {
      state.problems.set(folder, `duplicate skill name ${result.manifest.name}`);
      continue;
    }
    state.byName.set(result.manifest.name, result);
    for (const kind of result.manifest.kinds) {
      const holder = state.byKind.get(kind);
      if (holder !== undefined) {
        state.problems.set(folder, `kind ${kind} is already served by ${holder.manifest.name}`);
      } else state.byKind.set(kind, result);
    }
  }
  return state;
}

/** What a rescan compares: each skill's manifest and folder, and each problem. */
function fingerprint(state: CatalogState): string {
  return JSON.stringify([
    [...state.byName.values()].map((e) => [e.dir, e.manifest]),
    [...state.problems],
  ], (_key, value) => typeof value === "bigint" ? String(value) : value);
}

/**
 * Parsed manifests by SKILL.md path, kept while the file's inode, size, mtime and ctime hold: every
 * provider of a process rescans the same skills dir, and reading and parsing each manifest again
 * was 4-5% of a 50-provider host's CPU (docs/SCALE.md). Cleared past {@linkcode MAX_PARSED}.
 */
const parsed = new Map<string, { stamp: string; manifest: SkillManifest }>();
const MAX_PARSED = 1024;

/**
 * A file changed less than this before it was read may change again with the same times: a
 * file system's clock ticks in milliseconds to seconds, so a rewrite of the same size within one
 * tick keeps every field of the stamp (git calls such an entry "racily clean"). Such a manifest
 * is not kept.
 */
const RACY_MS = 2_000;

async function readManifest(path: string, md: Deno.FileInfo): Promise<SkillManifest> {
  const stamp = `${md.ino}:${md.size}:${md.mtime?.getTime()}:${md.ctime?.getTime()}`;
  const hit = parsed.get(path);
  // Without times the file cannot be told unchanged: read every time.
  if (hit !== undefined && hit.stamp === stamp && md.mtime !== null) return hit.manifest;
  const readAt = Date.now();
  const manifest = parseSkillManifest(await Deno.readTextFile(path));
  if (parsed.size >= MAX_PARSED) parsed.clear();
  if (readAt - (md.mtime?.getTime() ?? readAt) >= RACY_MS) parsed.set(path, { stamp, manifest });
  else parsed.delete(path);
  return manifest;
}

/** A skill, or why the folder is not one. */
async function readSkill(dir: string): Promise<SkillEntry | string> {
  try {
    const md = await Deno.stat(`${dir}/SKILL.md`);
    if (md.size > MAX_SKILL_MD_BYTES) return `SKILL.md over ${MAX_SKILL_MD_BYTES} bytes`;
    const manifest = await readManifest(`${dir}/SKILL.md`, md);
    // The provider runs these itself: no `run` of their own.
    if (manifest.runner === "docker" || manifest.runner === "model") return { manifest, dir };
    const run = await Deno.stat(`${dir}/run`);
    if (!run.isFile || ((run.mode ?? 0) & 0o111) === 0) return "run is not an executable file";
    return { manifest, dir };
  } catch (err) {
    if (err instanceof Deno.errors.NotFound) return "no SKILL.md or no run";
    return err instanceof Error ? `${err.name}: ${err.message}` : String(err);
  }
}
