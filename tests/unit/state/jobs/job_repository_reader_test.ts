/**
 * A reader of the job records beside their writer (`job list` while the profile's node runs):
 * the reader's open takes nothing of the writer's for a crash's leftovers. Without `readOnly`
 * it removed the writer's in-flight temp file (the writer's rename then failed) and marked the
 * index closed under a running writer.
 */
import { assert, assertEquals } from "../../../../harness/assert.ts";
import { makeJobRecord } from "../../../../harness/job_record_factory.ts";
import { openJobRepository } from "../../../../state/jobs/job_repository.ts";

Deno.test("job repository: a read-only open beside the writer keeps its temp files and its open mark", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const writer = await openJobRepository({ stateDir: dir });
    const job = makeJobRecord(1);
    await writer.create(job);
    // What the writer's atomic write has on disk between its write and its rename.
    const temp = `${dir}/jobs/.tmp-${job.id}.toml.12345`;
    await Deno.writeTextFile(temp, "in flight");
    const reader = await openJobRepository({ stateDir: dir, readOnly: true });
    assertEquals(reader.list({}).map((s) => s.id), [job.id]);
    reader.close();
    assert(await Deno.stat(temp).then(() => true, () => false), "the writer's temp file is kept");
    // The writer is still open: a reopen after its crash still recovers (and cleans up then).
    const afterCrash = await openJobRepository({ stateDir: dir });
    assert(!(await Deno.stat(temp).then(() => true, () => false)), "a crash's leftover is removed");
    afterCrash.close();
    writer.close();
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
