import { assertEquals } from "../../../../harness/assert.ts";
import {
  startHeartbeat,
  waitingFor,
  waitingLine,
} from "../../../../roles/requester/job_heartbeat.ts";
import { makeJobRecord } from "../../../../harness/job_record_factory.ts";
import type { RequesterJobRecord } from "../../../../state/jobs/job_record.ts";

Deno.test("waiting: what a job waits for, by its status and the town link", () => {
  assertEquals(waitingFor("pending-send", true), "town");
  assertEquals(waitingFor("paying", true), "town");
  assertEquals(waitingFor("sent", true), "provider");
  assertEquals(waitingFor("payment-required", true), "provider");
  assertEquals(waitingFor("paid", true), "result");
  assertEquals(waitingFor("processing", true), "result");
  for (const status of ["sent", "paid", "processing"] as const) {
    assertEquals(waitingFor(status, false), "town", `${status} with the town down`);
  }
  const record = makeJobRecord(1, {
    status: "paid",
    updatedAtMs: Date.parse("2026-11-25T00:00:00Z"),
  });
  assertEquals(waitingLine(record, true, new Date("2026-11-25T00:00:05Z")), {
    type: "waiting",
    job: record.id,
    for: "result",
    status: "paid",
    since: "2026-11-25T00:00:00.000Z",
    at: "2026-11-25T00:00:05.000Z",
  });
});

Deno.test("waiting: a line per job in flight each period, none for an ended job, none once stopped", async () => {
  const records = new Map<string, RequesterJobRecord>([
    ["a", makeJobRecord(1, { id: "a", status: "sent" })],
    ["b", makeJobRecord(2, { id: "b", status: "done" })],
  ]);
  const lines: { job: string; for: string }[] = [];
  const stop = startHeartbeat({
    ids: new Set(["a", "b"]),
    send: (line) => lines.push(line),
    read: (id) => Promise.resolve(records.get(id)),
    townReachable: () => false,
    everyMs: 20,
  });
  await new Promise((r) => setTimeout(r, 70));
  stop();
  const seen = lines.length;
  await new Promise((r) => setTimeout(r, 50));
  assertEquals(lines.length, seen, "nothing after stop");
  assertEquals(seen >= 2, true, `${seen} lines`);
  assertEquals(lines.every((l) => l.job === "a" && l.for === "town"), true);
});
