/**
 * A requester job's record and audit cost in one process, without the network: per job, the
 * record's create and five updates (sent, processing, paying, paid, done: the writes a paid job
 * makes, each an update that reads the file first), durable (fsynced), with the git audit log
 * committing in process every `--window-ms`; CPU ms (own, of it system) per job, and the audit
 * commits per job. Runs on any tree with `openJobRepository` and `openAuditLog` (to compare
 * trees: the same script in each).
 *
 * `--store rows` (or `both`, alternating in each round) writes the same records instead as the
 * TOML text in a column of a SQLite row (WAL, `synchronous = FULL`: one commit and one fsync a
 * change, no file, no rename), read back from the row on each update, the audit handed the same
 * bytes: what the repository would cost with its rows as the records' truth (docs/SCALE.md).
 * `--strace` prints the fsyncs, renames and new files per job (the bench re-runs itself under
 * `strace -f -c`, one store at a time).
 *
 *     deno run -A bench/requester_record_cost_bench_script.ts [--jobs 200] [--window-ms 200]
 *       [--rounds 2] [--store files|rows|both]
 *
 * @module
 */
import { DatabaseSync } from "node:sqlite";
import { type AuditLog, openAuditLog } from "../state/audit/audit_log.ts";
import { openJobRepository } from "../state/jobs/job_repository.ts";
import { rowValues } from "../state/jobs/job_index_schema.ts";
import {
  formatJobRecord,
  parseJobRecord,
  type RequesterJobRecord,
} from "../state/jobs/job_record.ts";

const args = Deno.args;
const num = (name: string, fallback: number) => {
  const i = args.indexOf(`--${name}`);
  return i < 0 ? fallback : Number(args[i + 1]);
};
const jobs = num("jobs", 200);
const windowMs = num("window-ms", 200);
const rounds = num("rounds", 2);
const storeArg = args.includes("--store") ? args[args.indexOf("--store") + 1] : "files";
const stores = storeArg === "both" ? ["files", "rows"] : [storeArg];

/** The two operations a paid job's record makes, whatever holds it. */
interface RecordStore {
  create(record: RequesterJobRecord, action: string): Promise<unknown>;
  update(id: string, status: RequesterJobRecord["status"], action: string): Promise<unknown>;
  close(): void;
}

/** Today's repository: `jobs/<id>.toml` files written atomically, the index beside them. */
async function fileStore(dir: string, audit: AuditLog): Promise<RecordStore> {
  const repo = await openJobRepository({ stateDir: dir, audit });
  return {
    create: (record, action) => repo.create(record, { action }),
    update: (id, status, action) => repo.update(id, (r) => ({ ...r, status }), { action }),
    close: () => repo.close(),
  };
}

/** The records as rows: the TOML text in a column, one WAL commit (fsynced) a change. */
function rowStore(dir: string, audit: AuditLog): RecordStore {
  const db = new DatabaseSync(`${dir}/index.sqlite`);
  db.exec(`PRAGMA journal_mode = WAL; PRAGMA synchronous = FULL;
    CREATE TABLE jobs (id TEXT PRIMARY KEY, kind INTEGER NOT NULL, skill TEXT NOT NULL,
      status TEXT NOT NULL, provider TEXT, created_at_ms INTEGER NOT NULL,
      updated_at_ms INTEGER NOT NULL, last_seen_created_at INTEGER, record TEXT NOT NULL);
    CREATE INDEX jobs_status ON jobs (status, created_at_ms);
    CREATE INDEX jobs_created ON jobs (created_at_ms);`);
  const upsert = db.prepare(`INSERT INTO jobs (id, kind, skill, status, provider, created_at_ms,
      updated_at_ms, last_seen_created_at, record) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
    ON CONFLICT (id) DO UPDATE SET status = excluded.status, provider = excluded.provider,
      updated_at_ms = excluded.updated_at_ms, record = excluded.record`);
  const select = db.prepare("SELECT record FROM jobs WHERE id = ?");
  const write = (r: RequesterJobRecord, action: string) => {
    const text = formatJobRecord(r);
    upsert.run(...rowValues(r, text));
    audit.record({
      action,
      resource: "job",
      id: r.id,
      paths: [`jobs/${r.id}.toml`],
      fields: { Status: r.status, Kind: String(r.kind) },
      contents: { [`jobs/${r.id}.toml`]: new TextEncoder().encode(text) },
    });
    return Promise.resolve(r);
  };
  return {
    create: write,
    update: (id, status, action) => {
      const current = parseJobRecord(String(select.get(id)!.record));
      return write({ ...current, status, updatedAtMs: Date.now() }, action);
    },
    close: () => db.close(),
  };
}

/** This script's own run under `strace -f -c`: the calls per job of one store. */
async function straceCounts(store: string): Promise<string> {
  const out = await new Deno.Command("strace", {
    args: [
      "-f",
      "-c",
      "-e",
      "trace=fsync,fdatasync,rename,renameat,renameat2,openat",
      Deno.execPath(),
      "run",
      "-A",
      new URL(import.meta.url).pathname,
      "--jobs",
      String(jobs),
      "--rounds",
      "1",
      "--store",
      store,
    ],
    stdout: "null",
    stderr: "piped",
  }).output();
  const calls = new Map<string, number>();
  for (const line of new TextDecoder().decode(out.stderr).split("\n")) {
    const f = line.trim().split(/\s+/);
    if (f.length >= 5 && /^\d/.test(f[0]) && /^[a-z]/.test(f[f.length - 1])) {
      calls.set(f[f.length - 1], Number(f[3]));
    }
  }
  const per = (...names: string[]) =>
    (names.reduce((n, k) => n + (calls.get(k) ?? 0), 0) / jobs).toFixed(1);
  return `${store}: per job fsync ${per("fsync", "fdatasync")}, rename ${
    per("rename", "renameat", "renameat2")
  }, openat ${per("openat")} (whole run, setup included)`;
}

if (args.includes("--strace")) {
  for (const store of stores) console.log(await straceCounts(store));
  Deno.exit(0);
}

/** utime + stime of this process, in ms (Linux `/proc`). */
async function cpu(): Promise<{ own: number; sys: number }> {
  const f = (await Deno.readTextFile("/proc/self/stat")).split(") ")[1].split(" ").map(Number);
  return { own: (f[11] + f[12]) * 10, sys: f[12] * 10 };
}

const STATUSES = ["sent", "processing", "paying", "paid", "done"] as const;

for (let round = 0; round < rounds * stores.length; round++) {
  const store = stores[round % stores.length];
  const dir = await Deno.makeTempDir({ prefix: "record-cost-" });
  try {
    const audit = await openAuditLog({ dir, windowMs });
    const repo = store === "rows" ? rowStore(dir, audit) : await fileStore(dir, audit);
    const commits0 = audit.commits;
    const c0 = await cpu();
    const t0 = performance.now();
    // Ten jobs at a time, as a busy requester has them in flight.
    for (let start = 0; start < jobs; start += 10) {
      await Promise.all(Array.from({ length: Math.min(10, jobs - start) }, async (_, k) => {
        const n = round * 1_000_000 + start + k + 1;
        const now = Date.now();
        const id = n.toString(16).padStart(64, "0");
        await repo.create({
          id,
          kind: 5100,
          skill: "summarize",
          status: "pending-send",
          createdAtMs: now,
          updatedAtMs: now,
          bid: 5000n,
          payments: [],
        }, "submit");
        for (const status of STATUSES) await repo.update(id, status, status);
      }));
    }
    await audit.flush();
    const c1 = await cpu();
    const ms = performance.now() - t0;
    console.log(
      `round ${
        Math.floor(round / stores.length) + 1
      } ${store}: ${jobs} jobs, window ${windowMs} ms: own ${
        ((c1.own - c0.own) / jobs).toFixed(2)
      } ms CPU per job (system ${((c1.sys - c0.sys) / jobs).toFixed(2)}), ${
        ((audit.commits - commits0) / jobs).toFixed(2)
      } commits per job, ${(ms / jobs).toFixed(1)} ms wall per job`,
    );
    repo.close();
    await audit.close();
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}
