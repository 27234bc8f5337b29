/**
 * The system directories' submounts (roles/provider/sandbox/system_mounts.ts): read from a container's
 * mount table, and in the job's fstab each made read-only after its directory's recursive bind.
 * And a project where the sandbox mounts its own tree, refused by name.
 */
import { assert, assertEquals } from "../../../../harness/assert.ts";
import { submountsUnder } from "../../../../roles/provider/sandbox/system_mounts.ts";
import {
  buildSandboxFstab,
  sandboxTreeClash,
} from "../../../../roles/provider/sandbox/sandbox_mounts.ts";

const CONTAINER = [
  "85 70 0:39 / / rw,relatime - overlay overlay rw",
  "102 85 254:0 /c/resolv.conf /etc/resolv.conf rw,relatime - ext4 /dev/vda rw",
  "104 85 254:0 /c/hosts /etc/hosts rw,relatime - ext4 /dev/vda rw",
  "105 85 254:0 /c/x /etcetera rw - ext4 /dev/vda rw",
  "106 85 254:0 /c/y /usr/local/my\\040tools rw - ext4 /dev/vda rw",
  "107 85 0:40 / /etc rw - tmpfs t rw",
  "",
].join("\n");

Deno.test("submounts: strictly below the asked dirs, escapes undone, sorted", () => {
  assertEquals(submountsUnder(CONTAINER, ["/etc", "/usr"]), [
    "/etc/hosts",
    "/etc/resolv.conf",
    "/usr/local/my tools",
  ]);
  assertEquals(submountsUnder(CONTAINER, ["/bin"]), []);
});

Deno.test("fstab: system dirs bound with their submounts, each submount read-only after", () => {
  const fstab = buildSandboxFstab({
    root: "/w/root",
    devSkeleton: "/w/dev",
    binSkeleton: "/w/bin",
    deniedFile: "/w/denied",
    systemDirs: ["/etc", "/usr"],
    systemSubmounts: ["/etc/hosts"],
    workDir: "/w/job",
    denoBinary: "/x/deno",
    skillDir: "/s/echo",
    hidden: [],
    tmpBytes: 1 << 20,
  }).split("\n");
  const etc = fstab.findIndex((l) => l.startsWith("/etc /w/root/etc none rbind,ro,"));
  const hosts = fstab.findIndex((l) =>
    l.startsWith("/etc/hosts /w/root/etc/hosts none bind,remount,ro,")
  );
  assert(etc >= 0 && hosts > etc, fstab.join("\n"));
  assert(fstab.some((l) => l.startsWith("/usr /w/root/usr none rbind,ro,")), fstab.join("\n"));
});

Deno.test("fstab: ASCII white space and backslashes escaped as bytes, wider characters kept", () => {
  const fstab = buildSandboxFstab({
    root: "/w/root",
    devSkeleton: "/w/dev",
    binSkeleton: "/w/bin",
    deniedFile: "/w/denied",
    systemDirs: [],
    workDir: "/w/job",
    denoBinary: "/x/deno",
    skillDir: "/s/a b\\c\td\u00a0e\u2028f",
    hidden: [],
    tmpBytes: 1 << 20,
  }).split("\n");
  // U+00A0 and U+2028 as code points in octal would name another path: kept as their UTF-8.
  const line = "/s/a\\040b\\134c\\011d\u00a0e\u2028f /w/root/s/a\\040b\\134c\\011d\u00a0e\u2028f";
  assert(fstab.some((l) => l.startsWith(`${line} none bind,ro,`)), fstab.join("\n"));
});

Deno.test("a skill or project overlapping the sandbox's /opt/turnpike is named, others pass", () => {
  for (const dir of ["/opt/turnpike", "/opt/turnpike/skills/echo", "/opt", "/"]) {
    assert(sandboxTreeClash(dir)?.startsWith(`${dir} overlaps /opt/turnpike`), dir);
  }
  for (const dir of ["/srv/turnpike", "/opt/turnpike2", "/home/u/turnpike"]) {
    assertEquals(sandboxTreeClash(dir), undefined, dir);
  }
});
