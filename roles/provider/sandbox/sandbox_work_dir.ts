/**
 * A job's work dir: empty but for `inputs/` (the job's files, copied: the job may not change the
 * provider's cached originals) and an empty `out/` (files the skill leaves there are the
 * result's blobs), owned by the sandbox user in root mode.
 *
 * Made two ways. For the job about to run, synchronously ({@linkcode freshWorkDir}): on its
 * critical path, where async calls would each wait for a turn of a busy event loop (see
 * sandbox_prepare.ts `prepareJob`). For a sandbox prepared ahead ({@linkcode makePreparedWorkDir}),
 * off the main thread: a directory made is a new inode, and on ext4 without a journal a new inode
 * walks every inode freed in the last 30 s of its block group (docs/SCALE.md "Where a no-op job's
 * CPU goes, round 5"), 0.4-0.5 ms each here; three a sandbox held the provider's event loop while
 * a job's result was on its way out (docs/SCALE.md "The next sandbox's work dir off the main
 * thread").
 *
 * @module
 */
import { SkillJobError } from "./skill_sandbox_errors.ts";
import { INPUTS_DIR, OUTPUTS_DIR } from "./sandbox_mounts.ts";
import { SANDBOX_UID } from "./sandbox_setup_script.ts";
import type { SandboxMode } from "./sandbox_probe.ts";

/**
 * Makes the job's work dir now (removing one left by a crash), its files copied into `inputs/`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { freshWorkDir } from "./sandbox_work_dir.ts";
 *
 * const root = await Deno.makeTempDir();
 * freshWorkDir(`${root}/job1`, "rootless", []);
 * assert.deepEqual([...Deno.readDirSync(`${root}/job1`)].map((e) => e.name).sort(), ["inputs", "out"]);
 * await Deno.remove(root, { recursive: true });
 * ```
 */
export function freshWorkDir(
  workDir: string,
  mode: SandboxMode,
  files: readonly { path: string; name: string }[],
): void {
  try {
    Deno.removeSync(workDir, { recursive: true });
  } catch { /* none yet */ }
  Deno.mkdirSync(workDir, { recursive: true, mode: 0o700 });
  Deno.mkdirSync(`${workDir}/${OUTPUTS_DIR}`, { mode: 0o700 });
  Deno.mkdirSync(`${workDir}/${INPUTS_DIR}`, { mode: 0o755 });
  copyInputFiles(workDir, files);
  if (mode === "root") {
    Deno.chownSync(workDir, SANDBOX_UID, SANDBOX_UID);
    Deno.chownSync(`${workDir}/${OUTPUTS_DIR}`, SANDBOX_UID, SANDBOX_UID);
  }
}

/**
 * Makes a prepared sandbox's work dir (a new name: nothing to remove), each call on Deno's
 * blocking threads; the job's files are copied in when a job takes it ({@linkcode copyInputFiles}).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { makePreparedWorkDir } from "./sandbox_work_dir.ts";
 *
 * const root = await Deno.makeTempDir();
 * await makePreparedWorkDir(`${root}/.pool-1`, "rootless");
 * assert.equal((await Deno.stat(`${root}/.pool-1/out`)).mode! & 0o777, 0o700);
 * await Deno.remove(root, { recursive: true });
 * ```
 */
export async function makePreparedWorkDir(workDir: string, mode: SandboxMode): Promise<void> {
  await Deno.mkdir(workDir, { recursive: true, mode: 0o700 });
  await Promise.all([
    Deno.mkdir(`${workDir}/${OUTPUTS_DIR}`, { mode: 0o700 }),
    Deno.mkdir(`${workDir}/${INPUTS_DIR}`, { mode: 0o755 }),
  ]);
  if (mode === "root") {
    await Promise.all([
      Deno.chown(workDir, SANDBOX_UID, SANDBOX_UID),
      Deno.chown(`${workDir}/${OUTPUTS_DIR}`, SANDBOX_UID, SANDBOX_UID),
    ]);
  }
}

/**
 * The job's files into `inputs/`, read-only there.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { copyInputFiles } from "./sandbox_work_dir.ts";
 *
 * const workDir = await Deno.makeTempDir();
 * await Deno.mkdir(`${workDir}/inputs`);
 * await Deno.writeTextFile(`${workDir}/blob`, "bytes");
 * copyInputFiles(workDir, [{ path: `${workDir}/blob`, name: "ab12" }]);
 * assert.equal(await Deno.readTextFile(`${workDir}/inputs/ab12`), "bytes");
 * assert.equal((await Deno.stat(`${workDir}/inputs/ab12`)).mode! & 0o777, 0o444);
 * await Deno.remove(workDir, { recursive: true });
 * ```
 */
export function copyInputFiles(
  workDir: string,
  files: readonly { path: string; name: string }[],
): void {
  for (const f of files) {
    if (!/^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/.test(f.name)) {
      throw new SkillJobError(`bad input file name ${JSON.stringify(f.name)}`);
    }
    const to = `${workDir}/${INPUTS_DIR}/${f.name}`;
    Deno.copyFileSync(f.path, to);
    Deno.chmodSync(to, 0o444);
  }
}
