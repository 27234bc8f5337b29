/**
 * The host's system directories a job sees (sandbox_mounts.ts `SYSTEM_DIRS`), and the mounts
 * below them. In a container, `/etc/hosts`, `/etc/hostname` and `/etc/resolv.conf` are mounts of
 * their own, and in a user namespace (rootless) the kernel refuses a plain bind of `/etc` that
 * would show what lies under them (EINVAL): so each system directory is bound with its
 * submounts (`rbind`), and each submount is made read-only again by a line of its own, since
 * `ro` on a recursive bind covers only its top (docs/OPERATIONS.md "The image").
 *
 * @module
 */

/** The system directories that exist here, and the mount points strictly below them. */
export interface SystemMounts {
  /** Which of the asked directories exist (in the order asked). */
  systemDirs: string[];
  /** Mount points below those directories (sorted), each made read-only in the job's root. */
  systemSubmounts: string[];
}

/**
 * Mount points strictly below any of `dirs`, from the text of `/proc/self/mountinfo` (its fifth
 * field, with `\040`-style octal escapes undone).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * const info = "85 70 0:39 / / rw - overlay overlay rw\n" +
 *   "104 85 254:0 /d/hosts /etc/hosts rw,relatime - ext4 /dev/vda rw\n" +
 *   "105 85 254:0 /d/x /srv/x rw - ext4 /dev/vda rw\n";
 * assert.deepEqual(submountsUnder(info, ["/etc", "/usr"]), ["/etc/hosts"]);
 * ```
 */
export function submountsUnder(mountinfo: string, dirs: readonly string[]): string[] {
  const found = new Set<string>();
  for (const line of mountinfo.split("\n")) {
    const field = line.split(" ")[4];
    if (field === undefined) continue;
    const point = field.replace(
      /\\([0-7]{3})/g,
      (_, o: string) => String.fromCharCode(parseInt(o, 8)),
    );
    if (dirs.some((d) => point.startsWith(`${d}/`))) found.add(point);
  }
  return [...found].sort();
}

/**
 * Which of `dirs` exist, and the mounts below them (from this process's mount table; none when
 * it cannot be read).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * const { systemDirs, systemSubmounts } = await systemMounts(["/usr", "/etc", "/nonexistent"]);
 * assert(systemDirs.includes("/usr") && !systemDirs.includes("/nonexistent"));
 * assert(systemSubmounts.every((p) => p.startsWith("/usr/") || p.startsWith("/etc/")));
 * ```
 */
export async function systemMounts(dirs: readonly string[]): Promise<SystemMounts> {
  const found = await Promise.all(
    dirs.map((p) => Deno.stat(p).then((s) => s.isDirectory, () => false)),
  );
  const systemDirs = dirs.filter((_, i) => found[i]);
  const info = await Deno.readTextFile("/proc/self/mountinfo").catch(() => "");
  return { systemDirs, systemSubmounts: submountsUnder(info, systemDirs) };
}
