import { assertEquals, assertThrows } from "../../../../harness/assert.ts";
import {
  formatProviderJobRecord,
  parseProviderJobRecord,
  type ProviderJobRecord,
  ProviderJobRecordError,
} from "../../../../state/jobs/provider_job_record.ts";
import { openProviderJobStore } from "../../../../state/jobs/provider_job_store.ts";
import { openAuditLog } from "../../../../state/audit/audit_log.ts";

const record: ProviderJobRecord = {
  id: "ab".repeat(32),
  kind: 5601,
  customer: "cd".repeat(32),
  skill: "echo",
  status: "invoiced",
  price: "100",
  requestToon: "id: x\nkind: 5601\n",
  encrypted: false,
  admittedAt: "2026-11-22T00:00:00.000Z",
  updatedAt: "2026-11-22T00:00:00.000Z",
  invoice: "ilp:test.town.beta.abab?amount=100",
  fulfillment: "ef".repeat(32),
  attempts: 0,
};

Deno.test("provider job record: TOML round trip (multi-line TOON, quotes)", () => {
  const r = { ...record, result: 'line "1"\nline 2\n', status: "result-computed" as const };
  assertEquals(parseProviderJobRecord(formatProviderJobRecord(r)), r);
});

Deno.test("provider job record: bad records are refused with a named error", () => {
  assertThrows(() => formatProviderJobRecord({ ...record, id: "nope" }), ProviderJobRecordError);
  assertThrows(
    () => formatProviderJobRecord({ ...record, fulfillment: undefined }),
    ProviderJobRecordError,
    "invoiced",
  );
  assertThrows(() => parseProviderJobRecord("id = ["), ProviderJobRecordError, "not TOML");
  assertThrows(
    () => parseProviderJobRecord(formatProviderJobRecord(record).replace("invoiced", "bogus")),
    ProviderJobRecordError,
    "status",
  );
});

Deno.test("provider job store: records persist atomically (0600), reload, and land in git", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const audit = await openAuditLog({ dir, windowMs: 10 });
    const store = await openProviderJobStore({ stateDir: dir, audit });
    await store.put(record);
    await store.put({ ...record, status: "paid" });
    await audit.flush();
    const file = `${dir}/provider-jobs/${record.id}.toml`;
    assertEquals((await Deno.stat(file)).mode! & 0o777, 0o600);
    await Deno.writeTextFile(`${dir}/provider-jobs/${"00".repeat(32)}.toml`, "garbage = [");
    const again = await openProviderJobStore({ stateDir: dir });
    assertEquals(again.get(record.id)?.status, "paid");
    assertEquals(again.corrupt.length, 1);
    const log = await new Deno.Command("git", {
      args: ["-C", dir, "log", "--format=%B"],
      stdout: "piped",
    })
      .output();
    const text = new TextDecoder().decode(log.stdout);
    assertEquals(text.includes(`paid provider-job ${record.id}`), true);
    await audit.close();
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("provider job store: a killed writer's leftover temp files are removed when it opens", async () => {
  const stateDir = await Deno.makeTempDir({ prefix: "provider_jobs_tmp_" });
  try {
    await Deno.mkdir(`${stateDir}/provider-jobs`, { recursive: true });
    // What writeFileAtomic leaves when killed between writing its temp file and the rename.
    const leftover = `${stateDir}/provider-jobs/.tmp-${"ab".repeat(32)}.toml.1f2e3d4c`;
    await Deno.writeTextFile(leftover, "half a record");
    const store = await openProviderJobStore({ stateDir });
    assertEquals(store.all().length, 0);
    assertEquals(await Deno.stat(leftover).then(() => true, () => false), false);
  } finally {
    await Deno.remove(stateDir, { recursive: true });
  }
});
