/**
 * A job's sidecar: a row written with its record, read with or without the repository, and an
 * older profile's sidecar file still read when its job has no row.
 */
import { assertEquals, assertRejects } from "../../../../harness/assert.ts";
import { makeJobRecord } from "../../../../harness/job_record_factory.ts";
import { openJobRepository } from "../../../../state/jobs/job_repository.ts";
import {
  formatJobSidecar,
  type JobSidecar,
  JobSidecarError,
  readJobSidecar,
  sidecarPath,
} from "../../../../roles/requester/job_sidecar.ts";

const spec = {
  kind: 5600,
  inputs: [],
  params: [],
  providers: [],
  skill: "none",
  timeoutMs: 30_000,
  encrypt: false,
  then: [],
};

Deno.test("job sidecar: a row read with and without the repository; an older profile's file read when there is no row; a corrupt one refused", async () => {
  const stateDir = await Deno.makeTempDir();
  try {
    const repo = await openJobRepository({ stateDir });
    const [fresh, older, broken] = [makeJobRecord(1), makeJobRecord(2), makeJobRecord(3)];
    const sidecar: JobSidecar = { requestToon: "toon", spec, deadlineMs: 30_000, prev: undefined };
    await repo.create(fresh, { sidecar: formatJobSidecar(sidecar) });
    assertEquals(await readJobSidecar(stateDir, fresh.id, repo), sidecar);
    assertEquals(await readJobSidecar(stateDir, fresh.id), sidecar, "through the index file");
    // Made by an older turnpike: the record a row, the sidecar a file.
    await repo.create(older);
    await Deno.mkdir(`${stateDir}/requester`);
    const olderSidecar = { ...sidecar, deadlineMs: 60_000 };
    await Deno.writeTextFile(sidecarPath(stateDir, older.id), formatJobSidecar(olderSidecar));
    assertEquals(await readJobSidecar(stateDir, older.id, repo), olderSidecar);
    assertEquals(await readJobSidecar(stateDir, makeJobRecord(4).id, repo), undefined);
    await repo.create(broken, { sidecar: '{"spec":' });
    await assertRejects(() => readJobSidecar(stateDir, broken.id, repo), JobSidecarError);
    repo.close();
  } finally {
    await Deno.remove(stateDir, { recursive: true });
  }
});
