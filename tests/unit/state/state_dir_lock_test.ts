/**
 * One long-running role per state dir (state/state_dir_lock.ts on state/process_lock.ts): the
 * lock file says who holds it, a second holder is refused with that pid and role, a holder
 * that has not written its pid yet is still a holder, and the lock file stays out of the audit
 * history. Real processes and SIGKILL: tests/e2e/state_dir_lock_test.ts.
 */
import { assert, assertEquals, assertRejects } from "../../../harness/assert.ts";
import {
  lockStateDir,
  STATE_DIR_LOCK_FILE,
  StateDirLockedError,
  stateDirLockPath,
} from "../../../state/state_dir_lock.ts";
import { openAuditLog } from "../../../state/audit/audit_log.ts";
import { withTempDir } from "../../support/temp_dir.ts";

Deno.test("lockStateDir: creates the state dir, names the holder, refuses a second one until released", async () => {
  await withTempDir(async (dir) => {
    const stateDir = `${dir}/fresh/state`;
    const lock = await lockStateDir(stateDir, "node up");
    assertEquals(lock.path, `${stateDir}/${STATE_DIR_LOCK_FILE}`);
    assertEquals(stateDirLockPath(`${stateDir}/`), lock.path);
    assertEquals((await Deno.stat(stateDir)).mode! & 0o777, 0o700);
    assertEquals((await Deno.stat(lock.path)).mode! & 0o777, 0o600);
    assertEquals(await Deno.readTextFile(lock.path), `${Deno.pid}\nnode up\n`);
    const err = await assertRejects(() => lockStateDir(stateDir, "town up"), StateDirLockedError);
    assertEquals(err.message, `state dir in use by pid ${Deno.pid}`);
    assertEquals(err.holder, { pid: Deno.pid, label: "node up" });
    assertEquals(err.stateDir, stateDir);
    assertEquals(
      await Deno.readTextFile(lock.path),
      `${Deno.pid}\nnode up\n`,
      "the one turned away wrote nothing",
    );
    await lock.release();
    await lock.release(); // idempotent
    await using again = await lockStateDir(stateDir, "requester");
    assertEquals(await Deno.readTextFile(again.path), `${Deno.pid}\nrequester\n`);
  });
});

Deno.test("lockStateDir: a holder that has not written its pid yet still holds the state dir", async () => {
  await withTempDir(async (stateDir) => {
    // What a holder looks like between taking the lock and writing its pid.
    using file = await Deno.open(stateDirLockPath(stateDir), { write: true, create: true });
    assert(await file.tryLock(true));
    const err = await assertRejects(() => lockStateDir(stateDir, "town up"), StateDirLockedError);
    assertEquals(err.holder.pid, undefined);
    assertEquals(err.message, "state dir in use by another process");
    await file.unlock();
  });
});

Deno.test("the state dir lock never enters the audit history, held or left behind", async () => {
  await withTempDir(async (stateDir) => {
    const lock = await lockStateDir(stateDir, "requester");
    // The lock comes first: the repository is created (and committed) while it is held.
    const audit = await openAuditLog({ dir: stateDir });
    await Deno.writeTextFile(`${stateDir}/a.toml`, "a = 1\n");
    audit.record({ action: "create", resource: "thing", id: "a", paths: ["a.toml"] });
    await audit.close();
    await lock.release();
    const git = async (...args: string[]) => {
      const out = await new Deno.Command("git", { args: ["-C", stateDir, ...args] }).output();
      return new TextDecoder().decode(out.stdout);
    };
    const tracked = await git("ls-files");
    assert(tracked.includes("a.toml"), tracked);
    assert(!tracked.includes(STATE_DIR_LOCK_FILE), tracked);
    assertEquals(await git("status", "--porcelain"), "");
  });
});
