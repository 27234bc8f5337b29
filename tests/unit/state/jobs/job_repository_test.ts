/**
 * Job repository: records as rows of the SQLite index. Many records created concurrently, listed
 * and reopened (the 100k-record rates are in bench/job_repository_scaling_bench_script.ts), no
 * record file written, an older profile's files imported once (corrupt ones reported), a lost
 * index refused, the rows a kill left unaudited handed to the audit again, and the rows readable
 * by the correlator's DirectoryJobStore.
 */
import { assert, assertEquals, assertRejects, assertThrows } from "../../../../harness/assert.ts";
import { makeJobRecord } from "../../../../harness/job_record_factory.ts";
import {
  JobExistsError,
  JobIdPrefixError,
  JobNotFoundError,
  openJobRepository,
} from "../../../../state/jobs/job_repository.ts";
import { JobRecordFormatError, parseJobRecord } from "../../../../state/jobs/job_record.ts";
import { DirectoryJobStore } from "../../../../stages/job_store.ts";
import { formatJobRecord } from "../../../../state/jobs/job_record.ts";
import { openAuditLog } from "../../../../state/audit/audit_log.ts";
import { JobIndexLostError, readJobSidecarText } from "../../../../state/jobs/job_repository.ts";

async function git(dir: string, ...args: string[]): Promise<string> {
  const out = await new Deno.Command("git", { args: ["-C", dir, ...args], stderr: "piped" })
    .output();
  assert(out.success, new TextDecoder().decode(out.stderr));
  return new TextDecoder().decode(out.stdout);
}

async function tomlFiles(dir: string): Promise<string[]> {
  const names: string[] = [];
  for await (const e of Deno.readDir(`${dir}/jobs`)) {
    if (e.name.endsWith(".toml")) names.push(e.name);
  }
  return names;
}

Deno.test("job repository: create, read, update, list; a record write makes no file and DirectoryJobStore reads the row", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const repo = await openJobRepository({ stateDir: dir });
    const job = makeJobRecord(1, { chain: { next: "5200:translate" } });
    await repo.create(job);
    await assertRejects(() => repo.create(job), JobExistsError);
    await assertRejects(() => repo.update(makeJobRecord(2).id, (j) => j), JobNotFoundError);
    const updated = await repo.update(job.id, (j) => ({
      ...j,
      status: "paid",
      provider: "cd".repeat(32),
      payments: [{
        invoiceId: "inv-1",
        amount: 4000n,
        asset: "USD",
        status: "paid",
        fulfillment: "ef".repeat(32),
        startedAtMs: 5,
        finishedAtMs: 6,
      }],
    }));
    assertEquals(await repo.read(job.id), updated);
    assertEquals(repo.list({ status: "paid" }).map((s) => s.id), [job.id]);
    assertEquals(repo.list({ provider: "cd".repeat(32) }).length, 1);
    assertEquals(await tomlFiles(dir), [], "no jobs/<id>.toml: the record is a row");
    assertEquals((await Deno.stat(`${dir}/index.sqlite`)).mode! & 0o777, 0o600);
    const store = new DirectoryJobStore({ stateDir: dir });
    const seen = await store.lookup(job.id);
    assertEquals([seen?.skill, seen?.status], ["summarize", "paid"]);
    repo.close();
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("job repository: concurrent updates of one job do not interleave", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const repo = await openJobRepository({ stateDir: dir, durable: false });
    const job = await repo.create(makeJobRecord(7, { lastSeenCreatedAt: 0 }));
    await Promise.all(
      Array.from(
        { length: 50 },
        () =>
          repo.update(job.id, (j) => ({ ...j, lastSeenCreatedAt: (j.lastSeenCreatedAt ?? 0) + 1 })),
      ),
    );
    assertEquals((await repo.read(job.id))?.lastSeenCreatedAt, 50);
    repo.close();
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("job repository: an older profile's files are imported on the first open, a corrupt one reported, then never read; a lost index is refused", async () => {
  const dir = await Deno.makeTempDir();
  try {
    // An older turnpike's profile: the records as files, an index of schema 1 beside them.
    await Deno.mkdir(`${dir}/jobs`);
    const old = Array.from(
      { length: 20 },
      (_, i) => makeJobRecord(i + 1, { status: i % 2 ? "sent" : "done" }),
    );
    for (const r of old) await Deno.writeTextFile(`${dir}/jobs/${r.id}.toml`, formatJobRecord(r));
    const bad = makeJobRecord(99).id;
    await Deno.writeTextFile(`${dir}/jobs/${bad}.toml`, 'id = "broken\nkind = ');
    await Deno.writeTextFile(`${dir}/jobs/.tmp-${bad}.toml.123`, "half-written");
    const { DatabaseSync } = await import("node:sqlite");
    const v1 = new DatabaseSync(`${dir}/index.sqlite`);
    v1.exec(`CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
      INSERT INTO meta VALUES ('schema', '1');
      CREATE TABLE jobs (id TEXT PRIMARY KEY, pending INTEGER NOT NULL DEFAULT 0);`);
    v1.close();
    let repo = await openJobRepository({ stateDir: dir });
    assertEquals(repo.lastRebuild?.indexed, 20);
    assertEquals(repo.corruptFiles().map((c) => c.path), [`${dir}/jobs/${bad}.toml`]);
    assertEquals(repo.count("sent"), 10);
    assertEquals(repo.listInFlight().length, 10);
    for (const r of old) assertEquals(await repo.read(r.id), r);
    assertEquals(await repo.read(bad), undefined);
    await repo.update(old[1].id, (j) => ({ ...j, status: "done" }));
    repo.close();
    // The files stay as they were and are not read again: the row has the update.
    await Deno.writeTextFile(`${dir}/jobs/${old[3].id}.toml`, "not read any more");
    repo = await openJobRepository({ stateDir: dir });
    assertEquals(repo.lastRebuild, undefined);
    assertEquals((await repo.read(old[1].id))?.status, "done");
    assertEquals(await repo.read(old[3].id), old[3]);
    assertEquals(repo.list({}).length, 20);
    repo.close();
    // The rows are the records now: a damaged or missing index is refused, not rebuilt from them.
    await Deno.writeTextFile(`${dir}/index.sqlite`, "not a database at all".repeat(100));
    await Deno.remove(`${dir}/index.sqlite-wal`).catch(() => {});
    await assertRejects(() => openJobRepository({ stateDir: dir }), JobIndexLostError);
    await Deno.remove(`${dir}/index.sqlite`);
    await assertRejects(() => openJobRepository({ stateDir: dir }), JobIndexLostError);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("job repository: a row whose audit commit a kill lost is committed on the next open, one already committed is only cleared", async () => {
  const dir = await Deno.makeTempDir();
  try {
    let audit = await openAuditLog({ dir, windowMs: 10_000 });
    let repo = await openJobRepository({ stateDir: dir, audit });
    const [a, b] = [makeJobRecord(1), makeJobRecord(2)];
    await repo.create(a);
    await repo.update(a.id, (j) => ({ ...j, status: "sent", updatedAtMs: 2 }));
    await audit.close();
    repo.close();
    // b written as by a process killed before its audit commit: the row, no commit.
    repo = await openJobRepository({ stateDir: dir });
    await repo.create(b);
    repo.close();
    const unaudited = async () => {
      const { DatabaseSync } = await import("node:sqlite");
      const db = new DatabaseSync(`${dir}/index.sqlite`);
      const ids = db.prepare("SELECT id FROM jobs WHERE unaudited = 1 ORDER BY id").all()
        .map((r) => String(r.id));
      db.close();
      return ids;
    };
    assertEquals(await unaudited(), [b.id]);
    audit = await openAuditLog({ dir, windowMs: 10_000 });
    repo = await openJobRepository({ stateDir: dir, audit });
    await audit.flush();
    await new Promise((r) => setTimeout(r, 0));
    assertEquals(await unaudited(), []);
    assertEquals(await git(dir, "show", `HEAD:jobs/${b.id}.toml`), formatJobRecord(b));
    assertEquals(
      (await git(dir, "log", "-1", "--format=%s")).trim(),
      `turnpike: recover job ${b.id}`,
    );
    assertEquals(await git(dir, "status", "--porcelain"), "");
    repo.close();
    await audit.close();
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("job repository: a job's sidecar is a row written in its record's commit, audited as requester/<id>.json, replaced, read without the repository, removed with the job", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const audit = await openAuditLog({ dir, windowMs: 10_000 });
    const repo = await openJobRepository({ stateDir: dir, audit });
    const job = makeJobRecord(1);
    await repo.create(job, { action: "submit", sidecar: '{"deadlineMs":1}' });
    await audit.flush();
    assertEquals(repo.sidecarText(job.id), '{"deadlineMs":1}');
    assertEquals(readJobSidecarText(dir, job.id), '{"deadlineMs":1}', "another connection sees it");
    // One commit holds both, and no file is made for either.
    const shown = await git(dir, "show", "--name-only", "--format=%s", "HEAD");
    assertEquals(shown.trim().split("\n").slice(-2).sort(), [
      `jobs/${job.id}.toml`,
      `requester/${job.id}.json`,
    ]);
    assertEquals(await git(dir, "show", `HEAD:requester/${job.id}.json`), '{"deadlineMs":1}');
    await assertRejects(() => Deno.stat(`${dir}/requester`), Deno.errors.NotFound);
    // A record without a sidecar is refused nothing; its sidecar is none.
    const other = makeJobRecord(2);
    await repo.create(other);
    assertEquals(repo.sidecarText(other.id), undefined);
    // Replaced (a job followed again), audited.
    await repo.putSidecar(job.id, '{"deadlineMs":2}', { action: "late-result" });
    await audit.flush();
    assertEquals(await git(dir, "show", `HEAD:requester/${job.id}.json`), '{"deadlineMs":2}');
    assertEquals(await git(dir, "status", "--porcelain"), "");
    // Removed with its job (a prune), and gone from the trail's tree.
    await repo.remove(job.id);
    await audit.flush();
    assertEquals(repo.sidecarText(job.id), undefined);
    assertEquals(
      (await git(dir, "ls-tree", "-r", "--name-only", "HEAD")).includes(`requester/${job.id}`),
      false,
    );
    repo.close();
    await audit.close();
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("job repository: a job whose first commit a kill lost gets its record and its sidecar committed on the next open", async () => {
  const dir = await Deno.makeTempDir();
  try {
    // Created as by a process killed before its audit commit: the rows, no commit.
    let repo = await openJobRepository({ stateDir: dir });
    const job = makeJobRecord(3);
    await repo.create(job, { sidecar: '{"deadlineMs":3}' });
    repo.close();
    const audit = await openAuditLog({ dir, windowMs: 10_000 });
    repo = await openJobRepository({ stateDir: dir, audit });
    await audit.flush();
    assertEquals(await git(dir, "show", `HEAD:jobs/${job.id}.toml`), formatJobRecord(job));
    assertEquals(await git(dir, "show", `HEAD:requester/${job.id}.json`), '{"deadlineMs":3}');
    repo.close();
    await audit.close();
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("job record: invalid records are refused with JobRecordFormatError", () => {
  const bad = [
    'id = "x"\nkind = 5100\nskill = "a"\nstatus = "sent"\ncreated_at_ms = 1\nupdated_at_ms = 1\n',
    `id = "${
      "a".repeat(64)
    }"\nkind = 1\nskill = "a"\nstatus = "sent"\ncreated_at_ms = 1\nupdated_at_ms = 1\n`,
    `id = "${
      "a".repeat(64)
    }"\nkind = 5100\nskill = "a"\nstatus = "nope"\ncreated_at_ms = 1\nupdated_at_ms = 1\n`,
    `id = "${
      "a".repeat(64)
    }"\nkind = 5100\nskill = "a"\nstatus = "sent"\ncreated_at_ms = 1\nupdated_at_ms = 1\nbid = "-5"\n`,
    "x".repeat(70_000),
  ];
  for (const text of bad) {
    let caught: unknown;
    try {
      parseJobRecord(text);
    } catch (err) {
      caught = err;
    }
    assert(caught instanceof JobRecordFormatError, `accepted: ${text.slice(0, 60)}`);
  }
});

Deno.test("job repository: records created 16 at a time are all indexed; list pages by status; reopen finds every in-flight one", async () => {
  const dir = await Deno.makeTempDir();
  try {
    let repo = await openJobRepository({ stateDir: dir, durable: false });
    const total = 2_000, batch = 500, concurrency = 16;
    for (let start = 0; start < total; start += batch) {
      let next = start;
      await Promise.all(Array.from({ length: concurrency }, async () => {
        while (next < start + batch) {
          const i = next++;
          await repo.create(makeJobRecord(i + 1, { status: i % 10 === 0 ? "sent" : "done" }));
        }
      }));
      const page = repo.list({ status: "sent", limit: 30 });
      assertEquals(page.length, 30);
      assert(page.every((j) => j.status === "sent"));
    }
    assertEquals(repo.count(), total);
    repo.close();
    repo = await openJobRepository({ stateDir: dir });
    const inFlight = repo.listInFlight();
    assertEquals(inFlight.length, total / 10);
    assertEquals(new Set(inFlight.map((j) => j.id)).size, total / 10);
    repo.close();
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("job repository: a unique id prefix names its job; none, several, or non-hex are refused", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const repo = await openJobRepository({ stateDir: dir });
    const jobs = Array.from({ length: 40 }, (_, i) => makeJobRecord(i + 1));
    for (const j of jobs) await repo.create(j);
    for (const j of jobs) {
      // The shortest prefix no other job shares resolves to it.
      let n = 4;
      while (jobs.some((o) => o.id !== j.id && o.id.startsWith(j.id.slice(0, n)))) n++;
      assertEquals(repo.resolveId(j.id.slice(0, n).toUpperCase()), j.id);
      assertEquals(repo.resolveId(j.id), j.id);
    }
    await repo.create(makeJobRecord(100, { id: "abcd" + "0".repeat(60) }));
    await repo.create(makeJobRecord(101, { id: "abcd" + "1".repeat(60) }));
    const twice = assertThrows(() => repo.resolveId("abcd"), JobIdPrefixError);
    assertEquals(twice.matches, ["abcd" + "0".repeat(60), "abcd" + "1".repeat(60)]);
    assertEquals(repo.resolveId("abcd1"), "abcd" + "1".repeat(60));
    for (const bad of ["abc", "zzzz", "a%b_", "0".repeat(65)]) {
      assertThrows(() => repo.resolveId(bad), JobIdPrefixError);
    }
    const missing = ["ffff", "fffe", "fffd"].find((p) => !jobs.some((j) => j.id.startsWith(p)))!;
    assertEquals(assertThrows(() => repo.resolveId(missing), JobIdPrefixError).matches, []);
    repo.close();
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
