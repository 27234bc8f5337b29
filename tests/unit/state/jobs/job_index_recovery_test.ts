/**
 * A converted profile's lost job index: rebuilt from the audit trail's HEAD when the writer opens
 * it with its audit (deleted, or overwritten with garbage that is kept aside), every record at
 * the version HEAD holds, a write after HEAD's commit back at HEAD's; refused, with what to do
 * and nothing touched, by a reader and when the trail has no commit
 * (state/jobs/job_index_recovery.ts).
 */
import {
  assert,
  assertEquals,
  assertRejects,
  assertStringIncludes,
} from "../../../../harness/assert.ts";
import { makeJobRecord } from "../../../../harness/job_record_factory.ts";
import {
  JobIndexLostError,
  type JobRepository,
  openJobRepository,
} from "../../../../state/jobs/job_repository.ts";
import {
  IN_FLIGHT_JOB_STATUSES,
  parseJobRecord,
  type RequesterJobRecord,
} from "../../../../state/jobs/job_record.ts";
import { AuditLog, openAuditLog } from "../../../../state/audit/audit_log.ts";
import { DatabaseSync } from "node:sqlite";

async function git(dir: string, ...args: string[]): Promise<string> {
  const out = await new Deno.Command("git", { args: ["-C", dir, ...args], stderr: "piped" })
    .output();
  assert(out.success, new TextDecoder().decode(out.stderr));
  return new TextDecoder().decode(out.stdout);
}

/** The names in the state dir that start with `index.sqlite`. */
async function indexFiles(dir: string): Promise<string[]> {
  const names: string[] = [];
  for await (const e of Deno.readDir(dir)) {
    if (e.name.startsWith("index.sqlite")) names.push(e.name);
  }
  return names.sort();
}

function unauditedRows(dir: string): number {
  const db = new DatabaseSync(`${dir}/index.sqlite`, { readOnly: true });
  const n = Number(db.prepare("SELECT count(*) AS n FROM jobs WHERE unaudited = 1").get()?.n);
  db.close();
  return n;
}

const N = 30;

/** The sidecar text each job of the profile is created with (any text: the index keeps it). */
const sidecarOf = (id: string) =>
  JSON.stringify({ requestToon: `request of ${id}`, deadlineMs: 1 });

/**
 * A converted profile with N jobs in HEAD, a third of them ended; one more version of job 0 is
 * written after HEAD's commit by a writer killed before its commit (no audit), and HEAD holds
 * one blob that is not a record. Returns HEAD's records and the highest row version.
 */
async function profile(dir: string): Promise<{ head: RequesterJobRecord[]; version: number }> {
  const audit = await openAuditLog({ dir, windowMs: 10_000 });
  let repo = await openJobRepository({ stateDir: dir, audit });
  const head: RequesterJobRecord[] = [];
  for (let i = 0; i < N; i++) {
    const job = makeJobRecord(i + 1);
    const record = await repo.create(job, { sidecar: sidecarOf(job.id) });
    const status = i % 3 === 0 ? "done" : i % 3 === 1 ? "sent" : "paying";
    head.push(await repo.update(record.id, (j) => ({ ...j, status, updatedAtMs: 2e12 + i })));
  }
  const bad = makeJobRecord(999).id;
  audit.record({
    action: "update",
    resource: "job",
    id: bad,
    paths: [`jobs/${bad}.toml`],
    contents: { [`jobs/${bad}.toml`]: new TextEncoder().encode('id = "broken\nkind = ') },
  });
  await audit.close();
  repo.close();
  repo = await openJobRepository({ stateDir: dir }); // no audit: its write never reaches HEAD
  await repo.update(head[0].id, (j) => ({ ...j, status: "error", updatedAtMs: 3e12 }));
  const version = repo.versionOf(head[0].id)!;
  repo.close();
  return { head, version };
}

async function assertRebuilt(
  dir: string,
  repo: JobRepository,
  head: RequesterJobRecord[],
  version: number,
): Promise<void> {
  assertEquals(repo.list({ limit: 1e9 }).length, N);
  assertEquals(repo.lastRebuild?.indexed, N);
  const commit = (await git(dir, "rev-parse", "HEAD")).trim();
  assertEquals(repo.corruptFiles().map((c) => c.path), [
    `${commit}:jobs/${makeJobRecord(999).id}.toml`,
  ]);
  for (const r of head) {
    const text = await git(dir, "show", `HEAD:jobs/${r.id}.toml`);
    assertEquals(await repo.read(r.id), parseJobRecord(text), "HEAD's version");
    assertEquals(await repo.read(r.id), r);
    assertEquals(repo.sidecarText(r.id), sidecarOf(r.id), "its sidecar, from HEAD too");
  }
  assertEquals((await repo.read(head[0].id))?.status, "done", "the write after HEAD is lost");
  const inFlight = head.filter((r) => IN_FLIGHT_JOB_STATUSES.includes(r.status)).length;
  assertEquals(repo.listInFlight().length, inFlight);
  assertEquals(inFlight, 20);
  assertEquals(unauditedRows(dir), 0, "HEAD holds every row's text");
  assert(repo.versionOf(head[1].id)! > version, "versions only rise");
}

Deno.test("job index recovery: a deleted index is rebuilt from the audit trail's HEAD, every record at HEAD's version, with a warning", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const { head, version } = await profile(dir);
    await Deno.remove(`${dir}/index.sqlite`);
    const warnings: string[] = [];
    const audit = await openAuditLog({ dir, windowMs: 10_000 });
    const repo = await openJobRepository({ stateDir: dir, audit, warn: (l) => warnings.push(l) });
    await assertRebuilt(dir, repo, head, version);
    assertEquals(warnings.length, 1);
    assertStringIncludes(warnings[0], `${dir}/index.sqlite is missing`);
    assertStringIncludes(warnings[0], `${N} job records, 20 of them in flight`);
    assertStringIncludes(warnings[0], "at most the audit window (10000 ms)");
    // A write after the rebuild is audited as any other; the state dir's git status stays clean.
    await repo.update(head[2].id, (j) => ({ ...j, status: "done" }));
    await audit.flush();
    assertEquals(
      parseJobRecord(await git(dir, "show", `HEAD:jobs/${head[2].id}.toml`)).status,
      "done",
    );
    assertEquals(await git(dir, "status", "--porcelain"), "");
    repo.close();
    await audit.close();
    // The rebuilt index is the index: the next open neither rebuilds nor warns.
    const again = await openJobRepository({ stateDir: dir, warn: (l) => warnings.push(l) });
    assertEquals(again.lastRebuild, undefined);
    assertEquals(again.count(), N);
    again.close();
    assertEquals(warnings.length, 1);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("job index recovery: an index overwritten with garbage is moved aside, kept, and rebuilt from HEAD", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const { head, version } = await profile(dir);
    const garbage = "not a database at all ".repeat(500);
    await Deno.writeTextFile(`${dir}/index.sqlite`, garbage);
    const warnings: string[] = [];
    const audit = await openAuditLog({ dir, windowMs: 10_000 });
    const repo = await openJobRepository({ stateDir: dir, audit, warn: (l) => warnings.push(l) });
    await assertRebuilt(dir, repo, head, version);
    const aside = (await indexFiles(dir)).filter((n) => n.startsWith("index.sqlite-lost-"));
    assertEquals(aside.length, 1);
    assertEquals(await Deno.readTextFile(`${dir}/${aside[0]}`), garbage, "kept as it was");
    assertStringIncludes(warnings[0], `${dir}/index.sqlite is damaged`);
    assertStringIncludes(warnings[0], `${dir}/${aside[0]}`);
    assertEquals(await git(dir, "status", "--porcelain"), "", "the kept file stays out of git");
    repo.close();
    await audit.close();
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("job index recovery: refused with what to do, nothing touched, by a reader and when the audit trail has no commit", async () => {
  const dir = await Deno.makeTempDir();
  try {
    // Converted, then its index lost, with no audit history at all (the repository alone).
    const repo = await openJobRepository({ stateDir: dir });
    await repo.create(makeJobRecord(1));
    repo.close();
    await Deno.remove(`${dir}/index.sqlite`);
    const reader = await assertRejects(
      () => openJobRepository({ stateDir: dir, readOnly: true }),
      JobIndexLostError,
    );
    assertStringIncludes(reader.message, "is missing");
    assertStringIncludes(reader.message, "`turnpike requester`");
    assertEquals(await indexFiles(dir), [], "a reader creates no index");
    await git(dir, "init", "-q");
    const noHistory = await assertRejects(
      () => openJobRepository({ stateDir: dir, audit: new AuditLog({ dir }) }),
      JobIndexLostError,
    );
    assertStringIncludes(noHistory.message, "has no commit to rebuild it from");
    assertStringIncludes(noHistory.message, "restore");
    await Deno.writeTextFile(`${dir}/index.sqlite`, "garbage");
    await assertRejects(
      () => openJobRepository({ stateDir: dir, audit: new AuditLog({ dir }) }),
      JobIndexLostError,
      "is damaged",
    );
    assertEquals(await indexFiles(dir), ["index.sqlite"]);
    assertEquals(await Deno.readTextFile(`${dir}/index.sqlite`), "garbage");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

/**
 * Another process holds `path` locked (SQLite's exclusive locking mode: no reader gets in) for
 * `ms` after it says so, as a closing process's checkpoint or a WAL recovery does for a moment.
 */
async function holdLocked(path: string, ms: number): Promise<Deno.ChildProcess> {
  const code = `import { DatabaseSync } from "node:sqlite";
const d = new DatabaseSync(${JSON.stringify(path)});
d.exec("PRAGMA locking_mode = EXCLUSIVE; BEGIN EXCLUSIVE; COMMIT");
console.log("held");
setTimeout(() => d.close(), ${ms});`;
  const child = new Deno.Command(Deno.execPath(), { args: ["eval", code], stdout: "piped" })
    .spawn();
  const reader = child.stdout.getReader();
  const { value } = await reader.read();
  assertStringIncludes(new TextDecoder().decode(value), "held");
  reader.releaseLock();
  return child;
}

Deno.test("job index recovery: an index another process holds locked is waited for, never taken as lost nor moved aside", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const { head, version } = await profile(dir);
    const before = await indexFiles(dir);
    const warnings: string[] = [];
    const holder = await holdLocked(`${dir}/index.sqlite`, 600);
    const audit = await openAuditLog({ dir, windowMs: 10_000 });
    const repo = await openJobRepository({ stateDir: dir, audit, warn: (l) => warnings.push(l) });
    assertEquals((await holder.status).success, true);
    assertEquals(repo.lastRebuild, undefined, "not rebuilt");
    assertEquals(warnings, []);
    assertEquals(repo.count(), N);
    assertEquals(repo.versionOf(head[0].id), version, "the write after HEAD is kept");
    assertEquals((await repo.read(head[0].id))?.status, "error");
    repo.close();
    await audit.close();
    assertEquals(await indexFiles(dir), before, "nothing moved aside");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
