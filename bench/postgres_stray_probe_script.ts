/**
 * Probe: which ways of losing a PostgreSQL server leave the vendored driver (`vendor/postgres`)
 * with a rejected promise no handler takes (vendor/postgres/PATCHED.md). The process-level net of
 * state/postgres/postgres_stray_errors.ts is NOT installed here: this script's own `unhandledrejection`
 * listener records each stray rejection (its code and stack) and keeps the process alive, so
 * every case runs.
 *
 *     deno run -A bench/postgres_stray_probe_script.ts [CASE...]
 *
 * Cases: through a proxy that resets (RST, `read ECONNRESET` at the driver) the connection when
 * the client sends a given message: `reset-startup`, `reset-types` (the array-types query every
 * new connection runs), `terminate-types` (its backend ended instead, by
 * `pg_terminate_backend`: 57P01 and a clean close), `reset-query`, `reset-idle`, `reset-transaction`, `reset-prepare`,
 * `reset-listen`; and the server itself going away under a load of queries, new connections, an
 * open transaction and a LISTEN: `stop-fast`, `stop-immediate`, `kill-postmaster`. Prints one
 * JSON line per case: how many rejections nobody handled, their codes, and the first stack.
 *
 * Measured here (2026-11-26) with the published connection.js: `reset-types` gave one unhandled
 * `read ECONNRESET` (its stack only node:net's frames, as in the CI run), `terminate-types` one
 * unhandled `57P01` (and the caller's query failed with it after a working reconnect); every
 * other case none, the three server cases in 4, 4 and 1 runs (their window, a connection's
 * types query in flight as the server goes, is a few milliseconds). With the patch
 * (vendor/postgres/PATCHED.md, "a new connection's array-types query"): none in any case.
 *
 * @module
 */
import postgres from "postgres";
import { startPostgresServer } from "../state/postgres/postgres_server.ts";
import { startPostgresMessageProxy } from "../harness/postgres_message_proxy.ts";

interface Stray {
  code: string;
  stack: string;
}

const strays: Stray[] = [];
globalThis.addEventListener("unhandledrejection", (e) => {
  e.preventDefault();
  const r = e.reason as Error & { code?: string };
  strays.push({ code: String(r?.code ?? r?.message ?? r), stack: String(r?.stack ?? r) });
});

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

type Sql = ReturnType<typeof postgres>;
const settle = (p: PromiseLike<unknown>) =>
  Promise.resolve(p).then(() => "ok", (e) => String(e?.code ?? e));

async function resetCase(name: string, url: string, pgPort: number): Promise<unknown> {
  await using proxy = await startPostgresMessageProxy(pgPort);
  const sql: Sql = postgres(proxy.url(url), {
    max: 2,
    connect_timeout: 3,
    onnotice: () => {},
    connection: { application_name: "probe" },
  });
  const outcomes: string[] = [];
  try {
    if (name === "reset-startup") {
      void proxy.on("database", "reset"); // the StartupMessage names the user and database
      outcomes.push(await settle(sql`SELECT 1`));
    } else if (name === "reset-types") {
      void proxy.on("typcategory", "reset");
      outcomes.push(await settle(sql`SELECT 1`));
    } else if (name === "terminate-types") {
      // The backend ends (57P01, then a clean close) while the array-types query is in flight.
      const admin = postgres(url, { max: 1, onnotice: () => {} });
      const held = proxy.on("typcategory", "hold");
      const first = settle(sql`SELECT 1`);
      await held;
      await admin.unsafe(
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = 'probe'",
      );
      outcomes.push(await first);
      await admin.end();
    } else if (name === "reset-query") {
      await sql`SELECT 1`;
      void proxy.on("pg_sleep", "reset");
      outcomes.push(await settle(sql`SELECT pg_sleep(0.2)`));
    } else if (name === "reset-idle") {
      await Promise.all([sql`SELECT pg_sleep(0.05)`, sql`SELECT pg_sleep(0.05)`]);
      proxy.resetAll();
      await sleep(300);
    } else if (name === "reset-transaction") {
      await sql`SELECT 1`;
      void proxy.on("marker_tx", "reset");
      outcomes.push(
        await settle(sql.begin(async (tx) => {
          await tx`SELECT 1`;
          await tx.unsafe("SELECT 'marker_tx'");
        })),
      );
    } else if (name === "reset-prepare") {
      await sql`SELECT 1`;
      void proxy.on("marker_prep", "reset");
      outcomes.push(await settle(sql`SELECT ${"x"}::text AS marker_prep`));
    } else if (name === "reset-listen") {
      await sql.listen("chan", () => {});
      proxy.resetAll();
      await sleep(500);
    }
    await sleep(300);
    outcomes.push("after: " + await settle(sql`SELECT 1`));
  } finally {
    await sql.end({ timeout: 1 }).catch(() => {});
  }
  return { outcomes, resets: proxy.resets };
}

async function serverCase(name: string): Promise<unknown> {
  await using pg = await startPostgresServer();
  const sql: Sql = postgres(pg.url, {
    max: 6,
    connect_timeout: 3,
    idle_timeout: 0.05, // connections close and open again all the time: some are opening
    onnotice: () => {},
  });
  await sql`SELECT 1`;
  await sql.listen("chan", () => {}).catch(() => {});
  let running = true;
  const outcomes = new Map<string, number>();
  const count = (s: string) => outcomes.set(s, (outcomes.get(s) ?? 0) + 1);
  const workers = Array.from({ length: 8 }, async (_, i) => {
    while (running) {
      const p = i % 3 === 0
        ? sql.begin(async (tx) => {
          await tx`SELECT pg_sleep(0.01)`;
          await tx`SELECT ${i}::int`;
        })
        : i % 3 === 1
        ? sql`SELECT ${i}::int AS n, pg_sleep(0.005)`
        : sql.unsafe("SELECT 1");
      count(await settle(p));
      if (i % 2 === 0) await sleep(3);
    }
  });
  await sleep(400);
  if (name === "kill-postmaster") {
    const pid = Number((await Deno.readTextFile(`${pg.dataDir}/postmaster.pid`)).split("\n")[0]);
    const children = await childrenOf(pid);
    Deno.kill(pid, "SIGKILL");
    await sleep(1500);
    // The backends outlive their postmaster until they notice; end them (by pid) the same way.
    for (const child of children) {
      try {
        Deno.kill(child, "SIGKILL");
      } catch { /* gone already */ }
    }
    await sleep(1500);
  } else {
    await pg.stop(name === "stop-fast" ? "fast" : "immediate");
    await sleep(1500);
    await pg.start();
    await sleep(1500);
  }
  running = false;
  await Promise.all(workers);
  await sql.end({ timeout: 1 }).catch(() => {});
  return { outcomes: Object.fromEntries(outcomes) };
}

/** The pids whose parent is `pid` (from /proc). */
async function childrenOf(pid: number): Promise<number[]> {
  const out: number[] = [];
  for await (const e of Deno.readDir("/proc")) {
    if (!/^\d+$/.test(e.name)) continue;
    const stat = await Deno.readTextFile(`/proc/${e.name}/stat`).catch(() => "");
    const ppid = Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]);
    if (ppid === pid) out.push(Number(e.name));
  }
  return out;
}

if (import.meta.main) {
  const all = [
    "reset-startup",
    "reset-types",
    "terminate-types",
    "reset-query",
    "reset-idle",
    "reset-transaction",
    "reset-prepare",
    "reset-listen",
    "stop-fast",
    "stop-immediate",
    "kill-postmaster",
  ];
  const cases = Deno.args.length > 0 ? Deno.args : all;
  let pg: Awaited<ReturnType<typeof startPostgresServer>> | undefined;
  for (const name of cases) {
    strays.length = 0;
    let detail: unknown;
    try {
      if (name.startsWith("reset-") || name === "terminate-types") {
        pg ??= await startPostgresServer();
        detail = await resetCase(name, pg.url, pg.port);
      } else {
        detail = await serverCase(name);
      }
    } catch (err) {
      detail = { failed: String(err) };
    }
    await sleep(200);
    console.log(JSON.stringify({
      case: name,
      unhandled: strays.length,
      codes: [...new Set(strays.map((s) => s.code))],
      stack: strays[0]?.stack.split("\n").slice(0, 8).join(" | "),
      detail,
    }));
  }
  await pg?.close();
}
