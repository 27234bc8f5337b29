/**
 * The mounts of one sandboxed job, as an fstab(5) text that the sandbox's setup script hands to
 * ONE `mount --all` (one helper process instead of one per mount). Pure: paths in, text out.
 *
 * The job gets a new root built from nothing (deny by default), then `pivot_root`s into it:
 *
 *     /                       tmpfs, 1 MiB, the skeleton of mount points, read-only once made
 *     /usr /bin /sbin /lib* /etc   the host's, read-only (tools, libc, certificates)
 *     /dev                    null zero full random urandom, fd/stdin/stdout/stderr links, shm
 *     /proc                   the job's own PID namespace
 *     /tmp /var/tmp /run      private tmpfs
 *     /tmp/job                the job's work dir (read-write; also HOME and TMPDIR)
 *     /opt/turnpike/deno/deno the running Deno binary, read-only (its dir first on PATH)
 *     /opt/turnpike/deno/toon.mjs  the TOON module (@toon-format/toon, one self-contained file),
 *                             read-only: skills outside a Deno project import it from there
 *     /opt/turnpike/cache     the skills' Deno cache (read-only for jobs, rw for a warm-up)
 *     <skill dir>, <project>  at their own paths, read-only (a Deno skill imports from there)
 *     <extra reads>           paths the manifest asks for and the operator allows, read-only
 *     /opt/turnpike/gateway   with a model gateway: its socket and forwarder, read-only
 *                             (roles/provider/sandbox/sandbox_gateway.ts)
 *     /tmp/job/<dir>          with an overlay (an agent-task's checkout): the host's directory as
 *                             the lower layer, never written; the job's writes go to the upper
 *                             layer in its work dir's `.overlay/`, which is hidden from it (and
 *                             never synced: {@linkcode OVERLAY_VOLATILE})
 *
 * Nothing else of the host exists in there: not the state dir, not the home dir, not a
 * passphrase file, not the daemon sockets under /run. Hidden paths that a bound directory
 * would show (a state dir inside the project, a key under /etc) are covered again: a directory
 * by an empty tmpfs, a file by a mode-000 file. Binds whose targets lie inside other binds come
 * after them (sorted by target), and hides after the bind they cover.
 *
 * The same layout serves both sandbox modes (root and rootless, see skill_sandbox.ts): inside a
 * user namespace every mount here is allowed to an unprivileged user.
 *
 * @module
 */

/** Where the job's work dir appears inside the sandbox (also HOME and TMPDIR). */
export const SANDBOX_WORK_DIR = "/tmp/job";
/** In the work dir: the job's input files (TURNPIKE_INPUTS). */
export const INPUTS_DIR = "inputs";
/** In the work dir: files the skill leaves for the result (TURNPIKE_OUTPUTS). */
export const OUTPUTS_DIR = "out";
/** In the work dir: an overlay's upper layer and work dir (hidden from the job). */
export const OVERLAY_DIR = ".overlay";

/**
 * Whether a job's overlay is mounted `volatile` (Linux 5.10 on): its upper layer, the job's
 * writes, is removed with the job and never worth a sync, and without the option the kernel
 * syncs the whole file system the upper layer is on as the overlay goes with the job's last
 * process: 195-430 ms with 300 MB of other writes pending, against 6-8 ms volatile (docs/SKILLS.md
 * "agent-task"). What the job sees, and that the lower layer is never written, are the same.
 *
 * @example
 * ```ts
 * import { OVERLAY_VOLATILE } from "./sandbox_mounts.ts";
 *
 * if (typeof OVERLAY_VOLATILE !== "boolean") throw new Error("not a flag");
 * ```
 */
export const OVERLAY_VOLATILE: boolean = (() => {
  const [major, minor] = Deno.osRelease().split(".").map((n) => parseInt(n, 10));
  return major > 5 || (major === 5 && minor >= 10);
})();
/** The sandbox's own tree inside the job's root (Deno, its cache, the gateway). */
export const SANDBOX_TREE = "/opt/turnpike";
/** The directory holding the running Deno binary inside the sandbox (first on PATH). */
export const SANDBOX_DENO_BIN_DIR = `${SANDBOX_TREE}/deno`;
/** Where the skills' Deno cache appears inside the sandbox (the skill's DENO_DIR). */
export const SANDBOX_DENO_DIR = `${SANDBOX_TREE}/cache`;
/** Where the TOON module appears inside the sandbox (also in TURNPIKE_TOON_MODULE). */
export const SANDBOX_TOON_MODULE = `${SANDBOX_DENO_BIN_DIR}/toon.mjs`;
/**
 * The source name of the job's root tmpfs: once the job's mount table has this mount, alone, at
 * `/`, the setup has detached the host's root and every tmpfs in the table is the job's
 * (sandbox_limits.ts counts them).
 */
export const SANDBOX_ROOT_SOURCE = "turnpike-root";
/** The host's system directories a job sees read-only, when they exist. */
export const SYSTEM_DIRS = ["/usr", "/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32", "/etc"];
/** Device files bound from the host into the job's /dev. */
export const DEVICE_FILES = ["null", "zero", "full", "random", "urandom"];
/** Links in the job's /dev (name -> target). */
export const DEVICE_LINKS: Record<string, string> = {
  fd: "/proc/self/fd",
  stdin: "/proc/self/fd/0",
  stdout: "/proc/self/fd/1",
  stderr: "/proc/self/fd/2",
};

/** A host path the job must not see, resolved, and whether it is a directory. */
export interface HiddenPath {
  path: string;
  isDirectory: boolean;
}

/** Options for {@linkcode buildSandboxFstab}. */
export interface SandboxFstabOptions {
  /** The (empty, host) directory the job's root tmpfs is mounted on. */
  root: string;
  /** A host directory holding an empty file per {@linkcode DEVICE_FILES}, the links and `shm/`. */
  devSkeleton: string;
  /** A host directory holding an empty file `deno`: the mount point of the Deno binary. */
  binSkeleton: string;
  /** A mode-000 file bound over hidden files. */
  deniedFile: string;
  /** Which of {@linkcode SYSTEM_DIRS} exist on this host. */
  systemDirs: readonly string[];
  /**
   * Mount points below those directories (a container's /etc/hosts): bound with their directory
   * and made read-only each (roles/provider/sandbox/system_mounts.ts).
   */
  systemSubmounts?: readonly string[];
  /** The job's work dir on the host. */
  workDir: string;
  /**
   * The running Deno binary on the host. The file alone is bound, not its directory: npx and
   * installers keep it in directories only their owner may enter.
   */
  denoBinary: string;
  /** The TOON module file on the host (bound at {@linkcode SANDBOX_TOON_MODULE}), if found. */
  toonModule?: string;
  /** The skill's folder (resolved). */
  skillDir: string;
  /** The nearest ancestor of the skill holding a deno.json, if any (resolved). */
  projectDir?: string;
  /** Extra host paths bound read-only at their own paths (resolved). */
  readPaths?: readonly string[];
  /**
   * Host paths bound read-only at other targets (a file onto an existing file, a socket too:
   * connecting to it is no write), e.g. the model gateway's (roles/provider/sandbox/sandbox_gateway.ts).
   */
  binds?: readonly { source: string; target: string }[];
  /**
   * A host directory shown writable at `<work dir>/<dir>` through an overlay: `upper` and `work`
   * are the overlay's own dirs, inside the job's work dir (its writes count in its disk).
   */
  overlay?: { lower: string; upper: string; work: string; dir: string };
  /** The skills' Deno cache: host dir and mode; absent without one. */
  denoCache?: { dir: string; mode: "ro" | "rw" };
  /** Hidden paths that exist (resolved). */
  hidden: readonly HiddenPath[];
  /**
   * Size of the private /tmp (and of /dev/shm, /var/tmp each), bytes. A tmpfs without `size=`
   * would be unbounded and its statfs would report no blocks, so this is always set: writes
   * past it fail with ENOSPC, and its used blocks are what sandbox_limits.ts counts.
   */
  tmpBytes: number;
}

interface Mount {
  source: string;
  target: string;
  type: string;
  opts: string;
  /** Among mounts on one target: binds (0) before hides (1). */
  rank: number;
}

/**
 * The job's mounts as fstab text, every target under `root`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { buildSandboxFstab } from "./sandbox_mounts.ts";
 *
 * const fstab = buildSandboxFstab({
 *   root: "/state/work/.root",
 *   devSkeleton: "/state/work/.dev",
 *   binSkeleton: "/state/work/.bin",
 *   deniedFile: "/state/work/.denied",
 *   systemDirs: ["/usr", "/etc"],
 *   workDir: "/state/work/j1",
 *   denoBinary: "/usr/local/bin/deno",
 *   skillDir: "/srv/skills/echo",
 *   hidden: [{ path: "/state", isDirectory: true }],
 *   tmpBytes: 2 ** 26,
 * });
 * const lines = fstab.trimEnd().split("\n");
 * assert.match(lines[0], /^turnpike-root \/state\/work\/\.root tmpfs size=\d+,mode=0755 0 0$/);
 * assert(lines.every((line) => line.split(" ")[1].startsWith("/state/work/.root")));
 * ```
 */
export function buildSandboxFstab(o: SandboxFstabOptions): string {
  const mounts: Mount[] = [];
  const bind = (source: string, inside: string, ro: boolean) =>
    mounts.push({ source, target: inside, type: "none", opts: ro ? "bind,ro" : "bind", rank: 0 });
  const tmpfs = (name: string, inside: string, opts: string) =>
    mounts.push({ source: name, target: inside, type: "tmpfs", opts, rank: 0 });

  // rbind: in a user namespace a plain bind that would uncover what a submount hides is refused.
  for (const dir of o.systemDirs) {
    mounts.push({ source: dir, target: dir, type: "none", opts: "rbind,ro", rank: 0 });
  }
  for (const sub of o.systemSubmounts ?? []) {
    mounts.push({ source: sub, target: sub, type: "none", opts: "bind,remount,ro", rank: 0 });
  }
  bind(o.devSkeleton, "/dev", true);
  for (const f of DEVICE_FILES) bind(`/dev/${f}`, `/dev/${f}`, false);
  tmpfs("turnpike-shm", "/dev/shm", `size=${o.tmpBytes},mode=1777,nosuid,nodev`);
  mounts.push({
    source: "proc",
    target: "/proc",
    type: "proc",
    opts: "nosuid,nodev,noexec",
    rank: 0,
  });
  tmpfs("turnpike-tmp", "/tmp", `size=${o.tmpBytes},mode=1777,nosuid,nodev`);
  tmpfs("turnpike-vartmp", "/var/tmp", `size=${o.tmpBytes},mode=1777,nosuid,nodev`);
  tmpfs("turnpike-run", "/run", "size=1048576,mode=0755,nosuid,nodev");
  bind(o.workDir, SANDBOX_WORK_DIR, false);
  bind(o.binSkeleton, SANDBOX_DENO_BIN_DIR, true);
  bind(o.denoBinary, `${SANDBOX_DENO_BIN_DIR}/deno`, true);
  if (o.toonModule !== undefined) bind(o.toonModule, SANDBOX_TOON_MODULE, true);
  if (o.denoCache !== undefined) bind(o.denoCache.dir, SANDBOX_DENO_DIR, o.denoCache.mode === "ro");
  if (o.projectDir !== undefined) bind(o.projectDir, o.projectDir, true);
  bind(o.skillDir, o.skillDir, true);
  for (const p of o.readPaths ?? []) bind(p, p, true);
  for (const b of o.binds ?? []) bind(b.source, b.target, true);

  if (o.overlay !== undefined) {
    const { lower, upper, work, dir } = o.overlay;
    mounts.push({
      source: "turnpike-overlay",
      target: `${SANDBOX_WORK_DIR}/${dir}`,
      type: "overlay",
      opts: `lowerdir=${lower},upperdir=${upper},workdir=${work}${
        OVERLAY_VOLATILE ? ",volatile" : ""
      }`,
      rank: 0,
    });
    // The layers' own dirs: written behind the overlay's back, what it shows is undefined.
    mounts.push({
      source: "turnpike-hidden",
      target: `${SANDBOX_WORK_DIR}/${OVERLAY_DIR}`,
      type: "tmpfs",
      opts: "size=4096,mode=0",
      rank: 1,
    });
  }

  // Hide only what some bind would otherwise show: the rest does not exist in the new root.
  const binds = mounts.filter((m) => m.type === "none");
  for (const h of o.hidden) {
    for (const m of binds.filter((m) => isUnder(h.path, m.source))) {
      const inside = m.target + h.path.slice(m.source.length);
      mounts.push(
        h.isDirectory
          ? {
            source: "turnpike-hidden",
            target: inside,
            type: "tmpfs",
            opts: "size=4096,mode=0",
            rank: 1,
          }
          : { source: o.deniedFile, target: inside, type: "none", opts: "bind,ro", rank: 1 },
      );
    }
  }

  mounts.sort((a, b) => compareTargets(a.target, b.target) || a.rank - b.rank);
  const line = (m: Mount, target: string) =>
    [fstabField(m.source), fstabField(target), m.type, m.opts, "0", "0"].join(" ");
  const root: Mount = {
    source: SANDBOX_ROOT_SOURCE,
    target: "",
    type: "tmpfs",
    opts: "size=1048576,mode=0755",
    rank: 0,
  };
  // Last, the root read-only: rootless, the job owns the root's directories and could rename
  // one above a mount point (/var of /var/tmp), moving that tmpfs away from where its memory is
  // measured (sandbox_limits.ts); no capability is left in the job to make it writable again.
  const sealRoot: Mount = {
    source: o.root,
    target: "",
    type: "none",
    opts: "bind,remount,ro",
    rank: 0,
  };
  return [
    line(root, o.root),
    // X-mount.mkdir makes each missing mount point (0755) inside the root tmpfs.
    ...mounts.map((m) => line({ ...m, opts: `${m.opts},X-mount.mkdir` }, o.root + m.target)),
    line(sealRoot, o.root),
  ].join("\n") + "\n";
}

/**
 * Why a skill's folder or project cannot be bound at its own path: it overlaps
 * {@linkcode SANDBOX_TREE}, whose mounts would land inside its read-only bind (the image keeps
 * the project at /srv/turnpike for this reason, docs/OPERATIONS.md "The image").
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * assert.equal(sandboxTreeClash("/srv/turnpike"), undefined);
 * assert.match(sandboxTreeClash("/opt/turnpike")!, /overlaps \/opt\/turnpike/);
 * ```
 */
export function sandboxTreeClash(dir: string): string | undefined {
  if (!isUnder(dir, SANDBOX_TREE) && !isUnder(SANDBOX_TREE, dir)) return undefined;
  return `${dir} overlaps ${SANDBOX_TREE}, where the sandbox mounts Deno and its cache: ` +
    "keep the skill and its project elsewhere";
}

/** Whether `path` is `dir` or lies under it. */
export function isUnder(path: string, dir: string): boolean {
  return path === dir || path.startsWith(dir === "/" ? "/" : `${dir}/`);
}

/** Parents before children: a plain string order would put `/a b` between `/a` and `/a/c`. */
function compareTargets(a: string, b: string): number {
  const pa = a.split("/");
  const pb = b.split("/");
  for (let i = 0; i < Math.min(pa.length, pb.length); i++) {
    if (pa[i] !== pb[i]) return pa[i] < pb[i] ? -1 : 1;
  }
  return pa.length - pb.length;
}

/** fstab(5) escaping: whitespace and backslash as octal, so any path is one field. */
function fstabField(value: string): string {
  // The ASCII white space only: fstab's octal escapes are of bytes, and a wider character (U+00A0)
  // written as its code point would name another path; its UTF-8 bytes split no field.
  return value.replace(
    /[ \t\n\r\v\f\\]/g,
    (c) => `\\${c.charCodeAt(0).toString(8).padStart(3, "0")}`,
  );
}
