import { assertEquals, assertThrows } from "../../../../harness/assert.ts";
import { makeJobRecord } from "../../../../harness/job_record_factory.ts";
import {
  formatJobRecord,
  JobRecordFormatError,
  parseJobRecord,
} from "../../../../state/jobs/job_record.ts";

const payment = {
  invoiceId: "cd".repeat(32),
  amount: 4000n,
  asset: "USD",
  scale: 6,
  status: "paying" as const,
  startedAtMs: 1_762_300_000_100,
};

Deno.test("job record: a payment's destination is kept (its receipt is asked there), and one that is no ILP address is refused", () => {
  const record = makeJobRecord(1, {
    status: "paying",
    payments: [{ ...payment, destination: "test.town.provider.abab" }],
  });
  assertEquals(parseJobRecord(formatJobRecord(record)), record);
  const older = makeJobRecord(2, { status: "paying", payments: [payment] });
  assertEquals(parseJobRecord(formatJobRecord(older)).payments[0].destination, undefined);
  const text = formatJobRecord(record).replace("test.town.provider.abab", "not an address");
  assertThrows(() => parseJobRecord(text), JobRecordFormatError);
});
