import { assertEquals, assertRejects } from "../../../harness/assert.ts";
import { createCorrelator, jobReferences } from "../../../stages/correlator.ts";
import { DirectoryJobStore, JobRouteError, MemoryJobStore } from "../../../stages/job_store.ts";
import { openJobRepository } from "../../../state/jobs/job_repository.ts";
import { makeJobRecord } from "../../../harness/job_record_factory.ts";
import type { Chunk, SummaryChunk } from "../../../stages/chunks.ts";

const JOB = "a1".repeat(32);
const OTHER = "b2".repeat(32);

function summary(kind: number, e: string[]): SummaryChunk {
  return {
    type: "summary",
    kind,
    id: "c3".repeat(32),
    pubkey: "d4".repeat(32),
    created_at: 1,
    e,
    p: [],
    toon: `kind: ${kind}`,
  };
}

async function run(chunks: Chunk[], options: Parameters<typeof createCorrelator>[0]) {
  const out: Chunk[] = [];
  await ReadableStream.from(chunks).pipeThrough(createCorrelator(options)).pipeTo(
    new WritableStream({ write: (c) => void out.push(c) }),
  );
  return out;
}

Deno.test("results, feedback and cancellations are matched by their e tag", async () => {
  const out = await run([
    summary(6050, [JOB, OTHER]),
    summary(7000, [JOB]),
    summary(5, [OTHER, JOB]),
    summary(6050, [OTHER, JOB]), // first e tag only for results
    summary(1, [JOB]), // not a job-related kind
    summary(7000, []),
    summary(7000, ["../../etc/passwd"]),
  ], { jobs: [{ jobId: JOB, skill: "echo" }] });
  assertEquals(out.map((c) => c.type === "correlated" ? [c.role, c.jobId, c.skill] : c.type), [
    ["result", JOB, "echo"],
    ["feedback", JOB, "echo"],
    ["other", JOB, "echo"],
  ]);
});

Deno.test("passUnmatched emits unmatched summaries unchanged; wrong input is a FailedChunk", async () => {
  const unmatched = summary(6050, [OTHER]);
  const out = await run([unmatched, { type: "toon", toon: "x" }], {
    store: new MemoryJobStore([{ jobId: JOB, skill: "echo" }]),
    passUnmatched: true,
  });
  assertEquals(out[0], unmatched);
  assertEquals(out[1].type === "failed" && out[1].error, "CorrelatorInputError");
});

Deno.test("the directory store reads the requester's rows and sees rows written later", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const store = new DirectoryJobStore({ stateDir: dir });
    assertEquals(await store.lookup(JOB), undefined); // no index yet
    const repo = await openJobRepository({ stateDir: dir });
    assertEquals(await store.lookup(JOB), undefined); // no row yet
    await repo.create(makeJobRecord(1, { id: JOB, skill: "echo" }));
    assertEquals((await store.lookup(JOB))?.skill, "echo");
    await repo.create(makeJobRecord(2, { id: OTHER }));
    repo.close();
    // A row whose record names no usable skill (written by hand: the repository refuses it).
    const { DatabaseSync } = await import("node:sqlite");
    const db = new DatabaseSync(`${dir}/index.sqlite`);
    db.prepare("UPDATE jobs SET text = ? WHERE id = ?").run(`skill = "../bin"\n`, OTHER);
    db.close();
    await assertRejects(() => store.lookup(OTHER), JobRouteError);
    store.close();
    const out = await run([summary(7000, [OTHER]), summary(6001, [JOB])], { stateDir: dir });
    assertEquals(out.map((c) => c.type === "failed" ? c.error : c.type), [
      "JobRouteError",
      "correlated",
    ]);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("jobReferences names the role per kind", () => {
  assertEquals(jobReferences({ kind: 6999, e: [JOB] }), { role: "result", candidates: [JOB] });
  assertEquals(jobReferences({ kind: 7000, e: [] }), { role: "feedback", candidates: [] });
  assertEquals(jobReferences({ kind: 5999, e: [JOB] }), undefined);
});
