/**
 * `turnpike db up` (docs/OPERATIONS.md "Step by step, on one machine"): the server it starts
 * takes no connection without the password kept in the profile (0600), over TCP or its Unix
 * socket, and the URL it prints carries the password a town connects with.
 */
import postgres from "postgres";
import { assert, assertEquals, assertRejects } from "../support/assert.ts";
import { spawnCli } from "../support/cli_process.ts";
import { freePort } from "../support/free_port.ts";

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
  // As root the server runs as nobody, which must reach its data dir.
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
