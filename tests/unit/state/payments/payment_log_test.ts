/**
 * Payment log: never-pay-twice states across reopen, per invoice and peer (one event written to
 * two towns), daily rotation keeping 30 days, CSV/JSON export, and a SIGKILL mid-append leaving a
 * readable log.
 */
import { paymentsCsv, paymentsJson } from "../../../../state/payments/payment_export.ts";
import { assert, assertEquals, assertRejects } from "../../../../harness/assert.ts";
import {
  openPaymentLog,
  type PaymentEntry,
  PaymentEntryError,
} from "../../../../state/payments/payment_log.ts";
import { killAfterLines } from "../../../support/kill_after_lines.ts";

const DAY = 86_400_000;
const T0 = Date.parse("2026-11-01T12:00:00Z");

function entry(invoiceId: string, event: PaymentEntry["event"], ts: number): PaymentEntry {
  return {
    ts: new Date(ts).toISOString(),
    direction: "out",
    event,
    jobId: "ab".repeat(32),
    invoiceId,
    amount: "100",
    asset: "USD",
    peer: "cd".repeat(32),
    ...(event === "fulfilled" ? { fulfillment: "ef".repeat(32) } : {}),
    ...(event === "rejected" ? { reason: 'F99, "no"' } : {}),
  };
}

Deno.test("payment log: invoice states and hasPaid survive reopen", async () => {
  const dir = await Deno.makeTempDir();
  try {
    let log = await openPaymentLog({ stateDir: dir, now: () => T0 });
    await log.append(entry("paid-1", "intent", T0));
    await log.append(entry("paid-1", "fulfilled", T0));
    await log.append(entry("doubt-1", "intent", T0));
    await log.append(entry("rej-1", "intent", T0));
    await log.append(entry("rej-1", "rejected", T0));
    await assertRejects(
      () => log.append({ ...entry("x", "intent", T0), amount: "-1" }),
      PaymentEntryError,
    );
    log = await openPaymentLog({ stateDir: dir, now: () => T0 });
    assertEquals(
      ["paid-1", "doubt-1", "rej-1", "never"].map((i) => [log.invoiceState(i), log.hasPaid(i)]),
      [["paid", true], ["in-doubt", true], ["rejected", false], ["none", false]],
    );
    assertEquals(log.inDoubt().map((e) => e.invoiceId), ["doubt-1"]);
    assertEquals(log.spentOn(), 200n);
    assertEquals(log.spentOn({ peer: "00" }), 0n);
    assertEquals((await Deno.stat(`${dir}/payment_log.jsonl`)).mode! & 0o777, 0o600);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("payment log: one invoice paid to two peers is two payments: in doubt at one while paid at the other, and so after reopen", async () => {
  const dir = await Deno.makeTempDir();
  try {
    // One event written to two towns: its id is the invoice of both writes.
    const write = (peer: string, event: PaymentEntry["event"]): PaymentEntry => ({
      ...entry("e".repeat(64), event, T0),
      peer,
      category: "town-write",
    });
    let log = await openPaymentLog({ stateDir: dir, now: () => T0 });
    await log.append(write("g.a", "intent"));
    await log.append(write("g.b", "intent"));
    await log.append(write("g.a", "fulfilled")); // g.b's answer is still lost
    for (let reopened = 0; reopened < 2; reopened++) {
      assertEquals(log.inDoubt().map((e) => [e.invoiceId, e.peer]), [["e".repeat(64), "g.b"]]);
      assertEquals(log.invoiceState("e".repeat(64), "g.a"), "paid");
      assertEquals(log.invoiceState("e".repeat(64), "g.b"), "in-doubt");
      // Naming no peer: the most settled of the two.
      assertEquals(log.invoiceState("e".repeat(64)), "paid");
      log = await openPaymentLog({ stateDir: dir, now: () => T0 });
    }
    await log.append(write("g.b", "rejected"));
    assertEquals(log.inDoubt(), []);
    assertEquals(log.invoiceState("e".repeat(64), "g.b"), "rejected");
    assertEquals(log.hasPaid("e".repeat(64), "g.b"), false);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("payment log: daily rotation keeps 30 days, hasPaid sees rotated days", async () => {
  const dir = await Deno.makeTempDir();
  try {
    let now = T0;
    const log = await openPaymentLog({ stateDir: dir, now: () => now });
    for (let day = 0; day < 35; day++) {
      now = T0 + day * DAY;
      await log.append(entry(`inv-${day}`, "intent", now));
      await log.append(entry(`inv-${day}`, "fulfilled", now));
    }
    const rotated = [...Deno.readDirSync(`${dir}/payment_log`)].map((e) => e.name).sort();
    assertEquals(rotated.length, 30);
    assertEquals(rotated[0], "2026-11-05.jsonl");
    assertEquals(rotated[29], "2026-12-04.jsonl");
    const reopened = await openPaymentLog({ stateDir: dir, now: () => now });
    assert(reopened.hasPaid("inv-5") && reopened.hasPaid("inv-34"));
    assert(!reopened.hasPaid("inv-3"), "older than 30 days is pruned");
    assertEquals(reopened.entries().length, 31 * 2);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("payment log: export CSV and JSON", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const log = await openPaymentLog({ stateDir: dir, now: () => T0 });
    await log.append(entry("a", "intent", T0));
    await log.append(entry("a", "rejected", T0));
    const json = JSON.parse(paymentsJson(log.entries())) as PaymentEntry[];
    assertEquals(json.map((e) => e.event), ["intent", "rejected"]);
    // Entries written without a category are provider invoices.
    assertEquals(json.map((e) => e.category), ["job", "job"]);
    const csv = paymentsCsv(log.entries()).split("\r\n");
    assertEquals(
      csv[0],
      "ts,direction,event,jobId,invoiceId,amount,asset,peer,fulfillment,reason,category,scale",
    );
    assertEquals(
      csv[2],
      `2026-11-01T12:00:00.000Z,out,rejected,${"ab".repeat(32)},a,100,USD,${
        "cd".repeat(32)
      },,"F99, ""no""",job,`,
    );
    assertEquals(csv.length, 4);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("payment log: SIGKILL mid-append leaves a readable log with every returned line", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const writer =
      new URL("../../../support/payment_log_crash_writer.ts", import.meta.url).pathname;
    const returned = await killAfterLines({ script: writer, args: [dir], lines: 299 });
    // a torn tail, as a kill during write() would leave
    await Deno.writeTextFile(`${dir}/payment_log.jsonl`, '{"ts":"2026-', { append: true });
    const log = await openPaymentLog({ stateDir: dir });
    for (const id of returned) assert(log.hasPaid(id), `lost ${id}`);
    assertEquals(log.skippedLines, 1);
    await log.append(entry("after", "intent", Date.now()));
    const again = await openPaymentLog({ stateDir: dir });
    assert(again.hasPaid("after"));
    assertEquals(again.skippedLines, 1);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("payment log: append-only keeps nothing in memory, resumes the day and a partial line", async () => {
  const dir = await Deno.makeTempDir();
  try {
    let now = T0;
    // Yesterday's lines, the last one cut short by a crash.
    const reader = await openPaymentLog({ stateDir: dir, now: () => now });
    await reader.append(entry("a", "intent", now));
    await Deno.writeTextFile(`${dir}/payment_log.jsonl`, '{"ts":"2026-11-01T12:', { append: true });
    now = T0 + DAY;
    const log = await openPaymentLog({ stateDir: dir, now: () => now, appendOnly: true });
    assertEquals(log.entries().length, 0, "nothing read into memory");
    await log.append(entry("b", "intent", now));
    await log.append(entry("b", "fulfilled", now));
    assertEquals(log.entries().length, 0, "nothing kept either");
    // The new day's lines went to a new file: yesterday's (with its cut line) was rotated.
    const rotated = await Deno.readTextFile(`${dir}/payment_log/2026-11-01.jsonl`);
    assertEquals(rotated.split("\n").filter((l) => l !== "").length, 2);
    const reopened = await openPaymentLog({ stateDir: dir, now: () => now });
    assertEquals(reopened.skippedLines, 1, "only the cut line is unreadable");
    assertEquals(reopened.entries().map((e) => `${e.invoiceId} ${e.event}`), [
      "a intent",
      "b intent",
      "b fulfilled",
    ]);
    // Same day, reopened append-only after a cut line: the next line starts on its own.
    await Deno.writeTextFile(`${dir}/payment_log.jsonl`, '{"ts":"2026-11-02T1', { append: true });
    const again = await openPaymentLog({ stateDir: dir, now: () => now, appendOnly: true });
    await again.append(entry("c", "intent", now));
    const last = await openPaymentLog({ stateDir: dir, now: () => now });
    assertEquals(last.entries().map((e) => e.invoiceId), ["a", "b", "b", "c"]);
    assertEquals(last.skippedLines, 2);
    assertEquals([...Deno.readDirSync(`${dir}/payment_log`)].length, 1, "no second rotation");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("payment log: an invoice's incoming entries are looked up, across a reopen, and let go with their day", async () => {
  const dir = await Deno.makeTempDir();
  try {
    let now = T0;
    const log = await openPaymentLog({ stateDir: dir, now: () => now });
    const refund = { ...entry("refund-1", "fulfilled", now), direction: "in" } as const;
    await log.append(entry("out-1", "fulfilled", now)); // outgoing: not incoming
    await log.append(refund);
    const incoming = (l: typeof log, id: string) => l.incoming(id).map((e) => e.event);
    assertEquals([incoming(log, "refund-1"), incoming(log, "out-1")], [["fulfilled"], []]);
    const reopened = await openPaymentLog({ stateDir: dir, now: () => now });
    assertEquals(incoming(reopened, "refund-1"), ["fulfilled"]);
    // Thirty-one days on, a rotation prunes its day: the entry and its lookup go together.
    for (let day = 1; day <= 32; day++) {
      now = T0 + day * DAY;
      await reopened.append(entry(`later-${day}`, "intent", now));
    }
    assertEquals(reopened.entries().some((e) => e.invoiceId === "refund-1"), false);
    assertEquals(incoming(reopened, "refund-1"), []);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
