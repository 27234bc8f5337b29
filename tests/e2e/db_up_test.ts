/**
 * `turnpike db up` (docs/OPERATIONS.md "Step by step, on one machine"): the server it starts
 * takes no connection without the password kept in the profile (0600), over TCP or its Unix
 * socket, and the URL it prints carries the password a town connects with. As root its server runs
 * as the system user `turnpike-pg`, which owns the data dir: `nobody` (other daemons, a rootless
 * provider's jobs) can neither read nor rewrite it, and a data dir `nobody` owned under an older
 * version is taken over.
 */
import postgres from "postgres";
import { assert, assertEquals, assertRejects } from "../../harness/assert.ts";
import { spawnCli } from "../../harness/cli_process.ts";
import { freePort } from "../../harness/free_port.ts";
import { POSTGRES_SYSTEM_USER } from "../../state/postgres/postgres_system_user.ts";

async function select1(options: postgres.Options<Record<string, never>> | string): Promise<void> {
  const sql = typeof options === "string"
    ? postgres(options, { max: 1, onnotice: () => {}, connect_timeout: 10 })
    : postgres({ max: 1, onnotice: () => {}, connect_timeout: 10, ...options });
  try {
    await sql`SELECT 1`;
  } finally {
    await sql.end({ timeout: 1 });
  }
}

Deno.test("db up: no connection without the password kept in the profile", async () => {
  const stateDir = await Deno.makeTempDir({ prefix: "turnpike-db-up-" });
  // As root the server runs as its own system user, which must reach its data dir.
  const dataDir = await Deno.makeTempDir({ prefix: "turnpike-db-up-data-" });
  await Deno.chmod(dataDir, 0o755);
  const port = freePort();
  const db = spawnCli([
    "--state-dir",
    stateDir,
    "--output",
    "json",
    "db",
    "up",
    "--port",
    String(port),
    "--data-dir",
    `${dataDir}/pg`,
  ]);
  try {
    const ready = JSON.parse(await db.waitForLine((l) => l.includes('"db-ready"')));
    const password = (await Deno.readTextFile(`${stateDir}/postgres.password`)).trim();
    assertEquals((await Deno.stat(`${stateDir}/postgres.password`)).mode! & 0o777, 0o600);
    assert(password.length >= 32);
    const url = new URL(ready.url);
    assertEquals(decodeURIComponent(url.password), password);
    assertEquals(url.hostname, "127.0.0.1");
    // The town's URL connects.
    await select1(ready.url);
    // Without the password, or with another, nothing does: TCP or the Unix socket.
    const base = { host: "127.0.0.1", port, user: "postgres", database: "postgres" };
    const socket = { ...base, path: `${dataDir}/pg/.s.PGSQL.${port}` };
    for (const options of [base, { ...base, password: "guess" }, socket]) {
      const err = await assertRejects(() => select1(options), Error);
      assert(/password|authentication/i.test(err.message), err.message);
    }
    // The socket's directory is the server's alone.
    assertEquals((await Deno.stat(`${dataDir}/pg`)).mode! & 0o777, 0o700);
  } finally {
    db.child.kill("SIGINT");
    await db.done;
  }
  // Started again, the same password (the data kept, the URL unchanged).
  const again = spawnCli([
    "--state-dir",
    stateDir,
    "--output",
    "json",
    "db",
    "up",
    "--port",
    String(port),
    "--data-dir",
    `${dataDir}/pg`,
  ]);
  try {
    const ready = JSON.parse(await again.waitForLine((l) => l.includes('"db-ready"')));
    await select1(ready.url);
  } finally {
    again.child.kill("SIGINT");
    await again.done;
    await Deno.remove(stateDir, { recursive: true });
    await Deno.remove(dataDir, { recursive: true });
  }
});

/** Runs `args` as `nobody` (no other group): true when it succeeded. */
async function asNobody(...args: string[]): Promise<boolean> {
  const out = await new Deno.Command("setpriv", {
    args: ["--reuid=nobody", "--regid=nogroup", "--clear-groups", ...args],
    stdout: "null",
    stderr: "null",
  }).output();
  return out.success;
}

/** The uid a process runs as (`/proc/<pid>/status`, its real uid). */
async function uidOf(pid: string): Promise<number> {
  const status = await Deno.readTextFile(`/proc/${pid}/status`);
  return Number(/^Uid:\s+(\d+)/m.exec(status)?.[1]);
}

Deno.test({
  name: "db up as root: the server runs as its own user, nobody can neither read nor rewrite " +
    "pg_hba.conf, and a data dir nobody owned before is taken over",
  ignore: Deno.uid() !== 0,
  async fn() {
    const stateDir = await Deno.makeTempDir({ prefix: "turnpike-db-up-" });
    const dataDir = await Deno.makeTempDir({ prefix: "turnpike-db-up-data-" });
    await Deno.chmod(dataDir, 0o755);
    const pg = `${dataDir}/pg`;
    const port = freePort();
    const dbUp = () =>
      spawnCli([
        "--state-dir",
        stateDir,
        "--output",
        "json",
        "db",
        "up",
        "--port",
        String(port),
        "--data-dir",
        pg,
      ]);
    const checkOwnUser = async (url: string) => {
      const user = await new Deno.Command("id", { args: ["-u", POSTGRES_SYSTEM_USER] }).output();
      assert(user.success, `the system user ${POSTGRES_SYSTEM_USER} exists`);
      const uid = Number(new TextDecoder().decode(user.stdout).trim());
      assert(uid !== 0 && uid !== 65534, `${POSTGRES_SYSTEM_USER} is uid ${uid}`);
      // The data dir and its files are the server's user's; the server runs as it.
      const info = await Deno.stat(pg);
      assertEquals([info.uid, info.mode! & 0o777], [uid, 0o700]);
      assertEquals((await Deno.stat(`${pg}/pg_hba.conf`)).uid, uid);
      const pid = (await Deno.readTextFile(`${pg}/postmaster.pid`)).split("\n")[0].trim();
      assertEquals(await uidOf(pid), uid);
      // nobody can read, list or write anything in it.
      assertEquals(await asNobody("cat", `${pg}/pg_hba.conf`), false);
      assertEquals(await asNobody("ls", pg), false);
      assertEquals(await asNobody("test", "-w", `${pg}/pg_hba.conf`), false);
      assertEquals(
        await asNobody("sh", "-c", `echo 'local all all trust' >> ${pg}/pg_hba.conf`),
        false,
      );
      assertEquals(await asNobody("touch", `${pg}/postgresql.auto.conf`), false);
      await select1(url);
    };
    const first = dbUp();
    try {
      const ready = JSON.parse(await first.waitForLine((l) => l.includes('"db-ready"')));
      await checkOwnUser(ready.url);
    } finally {
      first.child.kill("SIGINT");
      await first.done;
    }
    // As an older version left it: every file nobody's.
    const chown = await new Deno.Command("chown", { args: ["-R", "65534:65534", pg] }).output();
    assert(chown.success);
    const again = dbUp();
    try {
      const ready = JSON.parse(await again.waitForLine((l) => l.includes('"db-ready"')));
      await checkOwnUser(ready.url);
    } finally {
      again.child.kill("SIGINT");
      await again.done;
      await Deno.remove(stateDir, { recursive: true });
      await Deno.remove(dataDir, { recursive: true });
    }
  },
});
