import { assertEquals, assertRejects, assertThrows } from "../../../../harness/assert.ts";
import {
  formatProviderJobRecord,
  parseProviderJobRecord,
  type ProviderJobRecord,
  ProviderJobRecordError,
} from "../../../../state/jobs/provider_job_record.ts";
import { openProviderJobStore } from "../../../../state/jobs/provider_job_store.ts";
import { readProviderJobRecords } from "../../../../state/jobs/provider_job_index.ts";
import { openAuditLog } from "../../../../state/audit/audit_log.ts";
import { JobIndexLostError } from "../../../../state/jobs/job_repository_errors.ts";
import { openPaymentLog } from "../../../../state/payments/payment_log.ts";

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

Deno.test("provider job store: records are rows of provider.sqlite (0600), reload, and land in git", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const audit = await openAuditLog({ dir, windowMs: 10 });
    const store = await openProviderJobStore({ stateDir: dir, audit });
    await store.put(record);
    await store.put({ ...record, status: "paid" });
    await audit.flush();
    assertEquals(await exists(`${dir}/provider-jobs/${record.id}.toml`), false, "no file");
    assertEquals((await Deno.stat(`${dir}/provider.sqlite`)).mode! & 0o777, 0o600);
    const again = await openProviderJobStore({ stateDir: dir });
    assertEquals(again.get(record.id)?.status, "paid");
    assertEquals(again.corrupt, []);
    again.close();
    const git = (...args: string[]) =>
      new Deno.Command("git", { args: ["-C", dir, ...args], stdout: "piped" }).output()
        .then((o) => new TextDecoder().decode(o.stdout));
    assertEquals(
      (await git("log", "--format=%B")).includes(`paid provider-job ${record.id}`),
      true,
    );
    // The audit trail holds the record's text at its path; `git status` does not call it deleted.
    assertEquals(
      parseProviderJobRecord(await git("show", `HEAD:provider-jobs/${record.id}.toml`)).status,
      "paid",
    );
    assertEquals((await git("status", "--porcelain")).includes("provider-jobs"), false);
    await audit.close();
    store.close();
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("provider job store: an older profile's files are imported once, a bad one listed, temp files removed", async () => {
  const stateDir = await Deno.makeTempDir({ prefix: "provider_jobs_import_" });
  try {
    const dir = `${stateDir}/provider-jobs`;
    await Deno.mkdir(dir, { recursive: true });
    await Deno.writeTextFile(`${dir}/${record.id}.toml`, formatProviderJobRecord(record));
    await Deno.writeTextFile(`${dir}/${"00".repeat(32)}.toml`, "garbage = [");
    // What writeFileAtomic left when killed between writing its temp file and the rename.
    const leftover = `${dir}/.tmp-${"ab".repeat(32)}.toml.1f2e3d4c`;
    await Deno.writeTextFile(leftover, "half a record");
    const store = await openProviderJobStore({ stateDir });
    assertEquals(store.all().map((r) => r.status), ["invoiced"]);
    assertEquals(store.corrupt.length, 1);
    assertEquals(await exists(leftover), false);
    await store.put({ ...record, status: "cancelled" });
    store.close();
    // Not read again: the row is the record now.
    await Deno.writeTextFile(`${dir}/${record.id}.toml`, formatProviderJobRecord(record));
    const again = await openProviderJobStore({ stateDir });
    assertEquals(again.get(record.id)?.status, "cancelled");
    again.close();
    // A converted profile's lost index is refused, never rebuilt from the old files.
    for (const f of ["", "-wal", "-shm"]) {
      await Deno.remove(`${stateDir}/provider.sqlite${f}`).catch(() => {});
    }
    await assertRejects(() => openProviderJobStore({ stateDir }), JobIndexLostError, "is missing");
  } finally {
    await Deno.remove(stateDir, { recursive: true });
  }
});

Deno.test("provider job store: a paid record's income is a row of the same transaction, read by the payment log", async () => {
  const stateDir = await Deno.makeTempDir({ prefix: "provider_jobs_income_" });
  try {
    const store = await openProviderJobStore({ stateDir });
    await store.put(record);
    const income = {
      ts: "2026-11-22T00:00:01.000Z",
      direction: "in" as const,
      event: "fulfilled" as const,
      jobId: record.id,
      invoiceId: "ab".repeat(32),
      amount: "100",
      asset: "USD",
      peer: record.customer,
      fulfillment: record.fulfillment,
      category: "job" as const,
    };
    await store.put({ ...record, status: "paid" }, { income });
    // The same income again: the insert fails, so the record's write is rolled back with it.
    await assertRejects(
      () => store.put({ ...record, status: "running" }, { income }),
      Error,
      "UNIQUE constraint failed",
    );
    assertEquals(store.get(record.id)?.status, "paid");
    store.close();
    const again = await openProviderJobStore({ stateDir });
    assertEquals(again.get(record.id)?.status, "paid");
    again.close();
    const log = await openPaymentLog({ stateDir, now: () => Date.parse(income.ts) });
    assertEquals(log.entries(), [income]);
    // A reader beside the provider: the rows, the unfinished alone when asked.
    assertEquals((await readProviderJobRecords(stateDir)).map((r) => r.status), ["paid"]);
    assertEquals((await readProviderJobRecords(stateDir, { unfinished: true })).length, 1);
    const ended = await openProviderJobStore({ stateDir });
    await ended.put({ ...record, status: "cancelled" });
    ended.close();
    assertEquals(await readProviderJobRecords(stateDir, { unfinished: true }), []);
  } finally {
    await Deno.remove(stateDir, { recursive: true });
  }
});

async function exists(path: string): Promise<boolean> {
  return await Deno.stat(path).then(() => true, () => false);
}

Deno.test("provider job store: the unfinished records are the not-ended ones, through puts, a removal and a reopen", async () => {
  const stateDir = await Deno.makeTempDir();
  try {
    const store = await openProviderJobStore({ stateDir, durable: false });
    const id = (n: number) => n.toString(16).padStart(64, "0");
    const statuses = ["admitted", "paid", "published", "running", "error", "invoiced"] as const;
    for (let n = 0; n < statuses.length; n++) {
      await store.put({ ...record, id: id(n), status: statuses[n] });
    }
    const ids = (s: typeof store) => s.unfinished().map((r) => r.id).sort();
    const expected = () =>
      store.all().filter((r) => !["published", "error", "declined", "cancelled"].includes(r.status))
        .map((r) => r.id).sort();
    assertEquals(ids(store), expected());
    assertEquals(ids(store), [id(0), id(1), id(3), id(5)]);
    await store.put({ ...record, id: id(1), status: "published" }); // ended
    await store.put({ ...record, id: id(4), status: "running" }); // again (a retry)
    await store.remove(id(0));
    assertEquals(ids(store), [id(3), id(4), id(5)]);
    assertEquals(ids(store), expected());
    // A copy: changing it changes nothing kept.
    store.unfinished()[0].status = "published";
    assertEquals(ids(store), [id(3), id(4), id(5)]);
    store.close();
    const again = await openProviderJobStore({ stateDir, durable: false });
    assertEquals(ids(again), [id(3), id(4), id(5)]);
    again.close();
  } finally {
    await Deno.remove(stateDir, { recursive: true });
  }
});

Deno.test("provider job store: a requester's records are those all() holds of it, through puts, a removal and a reopen", async () => {
  const stateDir = await Deno.makeTempDir();
  try {
    const store = await openProviderJobStore({ stateDir, durable: false });
    const id = (n: number) => n.toString(16).padStart(64, "0");
    const customers = ["a1".repeat(32), "b2".repeat(32), "a1".repeat(32), "c3".repeat(32)];
    for (let n = 0; n < customers.length; n++) {
      await store.put({ ...record, id: id(n), customer: customers[n] });
    }
    const of = (s: typeof store, c: string) => s.ofCustomer(c).map((r) => r.id).sort();
    const expected = (c: string) =>
      store.all().filter((r) => r.customer === c).map((r) => r.id).sort();
    for (const c of new Set(customers)) assertEquals(of(store, c), expected(c));
    assertEquals(of(store, customers[0]), [id(0), id(2)]);
    await store.remove(id(0));
    await store.put({ ...record, id: id(3), customer: customers[0], status: "published" });
    assertEquals(of(store, customers[0]), [id(2), id(3)]);
    assertEquals(of(store, "c3".repeat(32)), []);
    assertEquals(of(store, "d4".repeat(32)), []); // a stranger
    store.close();
    const again = await openProviderJobStore({ stateDir, durable: false });
    assertEquals(of(again, customers[0]), [id(2), id(3)]);
    assertEquals(of(again, customers[1]), [id(1)]);
    again.close();
  } finally {
    await Deno.remove(stateDir, { recursive: true });
  }
});

Deno.test("provider job store: ended records beyond the few in memory are read from their rows, equal to what was written; a restart reads the unfinished and the untold only", async () => {
  const stateDir = await Deno.makeTempDir();
  try {
    const store = await openProviderJobStore({ stateDir, durable: false });
    const id = (n: number) => n.toString(16).padStart(64, "0");
    const customers = ["a1".repeat(32), "b2".repeat(32)];
    const written: ProviderJobRecord[] = [];
    // More ended records than memory keeps (512), a few not ended, one whose requester was never
    // told, one whose delivery was paid.
    for (let n = 0; n < 700; n++) {
      const status = n % 100 === 7 ? "running" : n % 3 === 0 ? "error" : "published";
      const one: ProviderJobRecord = {
        ...record,
        id: id(n),
        customer: customers[n % 2],
        status,
        ...(n === 5 ? { notified: false } : {}),
        ...(n === 9 ? { deliveryPaidAt: record.admittedAt, deliveryInvoice: "inv" } : {}),
      };
      await store.put(one);
      written.push(one);
    }
    const strip = (r: ProviderJobRecord | undefined) => r && { ...r, updatedAt: "" };
    const check = (s: typeof store) => {
      for (const w of written) assertEquals(strip(s.get(w.id)), strip(w));
      assertEquals(s.has(id(0)), true);
      assertEquals([s.get(id(9999)), s.has(id(9999))], [undefined, false]);
      assertEquals(s.all().length, 700);
      assertEquals(
        s.unfinished().map((r) => r.id).sort(),
        written.filter((w) => w.status === "running").map((w) => w.id).sort(),
      );
      assertEquals(s.ofCustomer(customers[1]).length, 350);
      assertEquals(s.endedUnnotified().map((r) => r.id), [id(5)]);
      assertEquals(s.paidOnRecord().map((r) => r.id), [id(9)]);
    };
    check(store);
    // A copy: changing it changes nothing kept.
    store.get(id(1))!.status = "running";
    assertEquals(store.get(id(1))?.status, "published");
    store.close();
    const again = await openProviderJobStore({ stateDir, durable: false });
    check(again);
    await again.remove(id(1));
    assertEquals([again.get(id(1)), again.has(id(1)), again.ofCustomer(customers[1]).length], [
      undefined,
      false,
      349,
    ]);
    again.close();
  } finally {
    await Deno.remove(stateDir, { recursive: true });
  }
});
