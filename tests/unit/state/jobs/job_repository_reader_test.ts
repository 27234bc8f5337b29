/**
 * A reader of the job records beside their writer (`job list` while the profile's node runs):
 * it reads the writer's rows, those written after it opened included (a change poll sees their
 * version rise), and takes nothing of the writer's: an older profile's import by a reader keeps
 * the temp files a writer may be renaming.
 */
import { assert, assertEquals } from "../../../../harness/assert.ts";
import { makeJobRecord } from "../../../../harness/job_record_factory.ts";
import { openJobRepository } from "../../../../state/jobs/job_repository.ts";
import { JobTextReader } from "../../../../state/jobs/job_text_reader.ts";
import { parseJobRecord } from "../../../../state/jobs/job_record.ts";

Deno.test("job repository: a read-only open beside the writer reads its rows as they change", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const writer = await openJobRepository({ stateDir: dir });
    const job = makeJobRecord(1);
    await writer.create(job);
    const reader = await openJobRepository({ stateDir: dir, readOnly: true });
    assertEquals(reader.list({}).map((s) => s.id), [job.id]);
    const before = reader.versionOf(job.id)!;
    await writer.update(job.id, (j) => ({ ...j, status: "sent" }));
    assert(reader.versionOf(job.id)! > before, "the reader sees the row's version rise");
    assertEquals((await reader.read(job.id))?.status, "sent");
    const later = await writer.create(makeJobRecord(2));
    // The read-only connection of the correlator and the dashboard: what was written since.
    const texts = new JobTextReader(dir);
    const changed = texts.changedSince(before);
    assertEquals(changed.texts.map(parseJobRecord).map((r) => [r.id, r.status]), [
      [job.id, "sent"],
      [later.id, "pending-send"],
    ]);
    assertEquals(texts.changedSince(changed.version).texts, []);
    assertEquals(texts.mark(), { count: 2, version: changed.version });
    texts.close();
    reader.close();
    writer.close();
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("job repository: a read-only open importing an older profile keeps its temp files", async () => {
  const dir = await Deno.makeTempDir();
  try {
    await Deno.mkdir(`${dir}/jobs`);
    const temp = `${dir}/jobs/.tmp-${makeJobRecord(1).id}.toml.12345`;
    await Deno.writeTextFile(temp, "in flight");
    const reader = await openJobRepository({ stateDir: dir, readOnly: true });
    assertEquals(reader.lastRebuild?.indexed, 0);
    reader.close();
    assert(await Deno.stat(temp).then(() => true, () => false), "the temp file is kept");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
