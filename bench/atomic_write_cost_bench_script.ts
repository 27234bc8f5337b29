/**
 * What one atomic state write costs on this disk, and what its two fsyncs are of it: 1,000
 * writes of a 900-byte record over 200 files (each replaced five times, as a job's record is) by
 * `writeFileAtomic` one after the other with both fsyncs, without the directory's, without the
 * file's, without either; then the same writes 16 at a time, the directory fsync shared
 * (`state/dir_sync_group.ts`, what `writeFileAtomic` does) against one fsync of the directory
 * each (what it did before); then the same text as a column of a SQLite row in WAL, one commit a
 * write, with `synchronous = FULL` (the WAL fsynced at each commit) and `NORMAL` (not), the way
 * the requester's job records could be stored (docs/SCALE.md "A job's fixed cost"). Per write:
 * wall ms, CPU ms of this process (of it kernel), and the directory fsyncs made. The variants
 * alternate, `--rounds` times.
 *
 *     deno run -A bench/atomic_write_cost_bench_script.ts [--rounds 3] [--dir /tmp]
 *
 * @module
 */
import { DatabaseSync } from "node:sqlite";
import { dirSyncs, writeFileAtomic } from "../state/atomic_file.ts";

const args = Deno.args;
const rounds = args.includes("--rounds") ? Number(args[args.indexOf("--rounds") + 1]) : 3;
const parent = args.includes("--dir") ? args[args.indexOf("--dir") + 1] : undefined;
const WRITES = 1000;
const FILES = 200;
const AT_ONCE = 16;
const body = "x".repeat(900);

/** utime + stime of this process, in ms (Linux `/proc`, 100 Hz ticks). */
async function cpu(): Promise<{ own: number; sys: number }> {
  const stat = await Deno.readTextFile("/proc/self/stat");
  const f = stat.slice(stat.lastIndexOf(")") + 2).split(" ").map(Number);
  return { own: (f[11] + f[12]) * 10, sys: f[12] * 10 };
}

/** The old way: the directory's own fsync for each write, shared with nobody. */
async function ownDirFsync(dir: string): Promise<void> {
  using handle = Deno.openSync(dir, { read: true });
  await handle.sync();
}

type Write = (dir: string, i: number) => Promise<number>;

/** One upsert of the record's text into a row, one WAL commit each, `synchronous` as given. */
const sqliteRow = (synchronous: "FULL" | "NORMAL"): Write => {
  const dbs = new Map<string, DatabaseSync>();
  return (dir, i) => {
    let db = dbs.get(dir);
    if (db === undefined) {
      dbs.clear();
      db = new DatabaseSync(`${dir}/index.sqlite`);
      db.exec(`PRAGMA journal_mode = WAL; PRAGMA synchronous = ${synchronous};
        CREATE TABLE jobs (id TEXT PRIMARY KEY, status TEXT, record TEXT NOT NULL)`);
      dbs.set(dir, db);
    }
    db.prepare(`INSERT INTO jobs (id, status, record) VALUES (?, ?, ?) ON CONFLICT (id)
      DO UPDATE SET status = excluded.status, record = excluded.record`)
      .run(`f${i % FILES}`, "sent", body + i);
    return Promise.resolve(0);
  };
};

const sequential = (opts: { skipFileSync?: boolean; skipDirSync?: boolean }): Write => {
  return async (dir, i) => {
    await writeFileAtomic(`${dir}/f${i % FILES}.toml`, body + i, opts);
    return opts.skipDirSync ? 0 : -1;
  };
};

const variants: { name: string; atOnce: number; write: Write }[] = [
  { name: "one at a time, both fsyncs", atOnce: 1, write: sequential({}) },
  {
    name: "one at a time, no directory fsync",
    atOnce: 1,
    write: sequential({ skipDirSync: true }),
  },
  { name: "one at a time, no file fsync", atOnce: 1, write: sequential({ skipFileSync: true }) },
  {
    name: "one at a time, no fsync",
    atOnce: 1,
    write: sequential({ skipFileSync: true, skipDirSync: true }),
  },
  { name: `${AT_ONCE} at once, directory fsync shared`, atOnce: AT_ONCE, write: sequential({}) },
  {
    name: `${AT_ONCE} at once, directory fsync each`,
    atOnce: AT_ONCE,
    write: async (dir, i) => {
      await writeFileAtomic(`${dir}/f${i % FILES}.toml`, body + i, { skipDirSync: true });
      await ownDirFsync(dir);
      return 1;
    },
  },
  { name: "SQLite WAL row, synchronous FULL", atOnce: 1, write: sqliteRow("FULL") },
  { name: "SQLite WAL row, synchronous NORMAL", atOnce: 1, write: sqliteRow("NORMAL") },
];

for (let round = 1; round <= rounds; round++) {
  for (const v of variants) {
    const dir = await Deno.makeTempDir({ prefix: "atomic-write-bench-", dir: parent });
    const fsyncs0 = dirSyncs.fsyncs;
    let own = 0;
    const c0 = await cpu();
    const t0 = performance.now();
    for (let i = 0; i < WRITES; i += v.atOnce) {
      const batch = Array.from({ length: Math.min(v.atOnce, WRITES - i) }, (_, k) => i + k);
      const made = await Promise.all(batch.map((k) => v.write(dir, k)));
      own += made.filter((m) => m > 0).length;
    }
    const wall = performance.now() - t0;
    const c1 = await cpu();
    const dirFsyncs = own + dirSyncs.fsyncs - fsyncs0;
    console.log(
      `round ${round} ${v.name.padEnd(36)} per write: wall ${(wall / WRITES).toFixed(3)} ms, ` +
        `CPU ${((c1.own - c0.own) / WRITES).toFixed(3)} ms (kernel ${
          ((c1.sys - c0.sys) / WRITES).toFixed(3)
        }), directory fsyncs ${(dirFsyncs / WRITES).toFixed(2)}`,
    );
    await Deno.remove(dir, { recursive: true });
  }
}
