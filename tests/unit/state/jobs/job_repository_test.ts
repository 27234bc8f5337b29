/**
 * Job repository: records on disk + SQLite index. Many records created concurrently, listed and
 * reopened (the 100k-record rates are in bench/job_repository_scaling_bench_script.ts), index
 * rebuilt from files, corrupt files reported, crash reconciliation,
 * and the files are readable by the correlator's DirectoryJobStore.
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

Deno.test("job repository: create, read, update, list; files are mode 0600 and DirectoryJobStore reads them", async () => {
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
    assertEquals((await Deno.stat(`${dir}/jobs/${job.id}.toml`)).mode! & 0o777, 0o600);
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

Deno.test("job repository: corrupt file is reported, not fatal; index rebuilt after deletion", async () => {
  const dir = await Deno.makeTempDir();
  try {
    let repo = await openJobRepository({ stateDir: dir, durable: false });
    for (let i = 1; i <= 20; i++) {
      await repo.create(makeJobRecord(i, { status: i % 2 ? "sent" : "done" }));
    }
    repo.close();
    const bad = makeJobRecord(99).id;
    await Deno.writeTextFile(`${dir}/jobs/${bad}.toml`, 'id = "broken\nkind = ');
    await Deno.writeTextFile(`${dir}/jobs/.tmp-${bad}.toml.123`, "half-written");
    await Deno.remove(`${dir}/index.sqlite`);
    await Deno.remove(`${dir}/index.sqlite-wal`).catch(() => {});
    await Deno.remove(`${dir}/index.sqlite-shm`).catch(() => {});
    repo = await openJobRepository({ stateDir: dir });
    assertEquals(repo.lastRebuild?.indexed, 20);
    assertEquals(repo.corruptFiles().map((c) => c.path), [`${dir}/jobs/${bad}.toml`]);
    assertEquals(repo.count("sent"), 10);
    assertEquals(repo.listInFlight().length, 10);
    await assertRejects(() => repo.read(bad), JobRecordFormatError);
    repo.close();
    // a garbage index file is replaced by a rebuilt one
    await Deno.writeTextFile(`${dir}/index.sqlite`, "not a database at all".repeat(100));
    await Deno.remove(`${dir}/index.sqlite-wal`).catch(() => {});
    repo = await openJobRepository({ stateDir: dir });
    assertEquals(repo.count(), 20);
    repo.close();
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("job repository: a pending index row after a crash is reconciled with its file", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const repo = await openJobRepository({ stateDir: dir, durable: false });
    const job = await repo.create(makeJobRecord(3));
    // Simulate a crash after the index upsert and before the file rename: row says "done",
    // file says "pending-send", and the repository was never closed.
    const { DatabaseSync } = await import("node:sqlite");
    const db = new DatabaseSync(`${dir}/index.sqlite`);
    db.prepare("UPDATE jobs SET status = 'done', pending = 1 WHERE id = ?").run(job.id);
    db.close();
    const reopened = await openJobRepository({ stateDir: dir });
    assertEquals(reopened.list().map((s) => s.status), ["pending-send"]);
    reopened.close();
    repo.close();
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
