/**
 * The provider's paid record and its income are one write: a SIGKILL leaves both or neither
 * (docs/PROTOCOL.md "A crash between a payment's two records"), and neither is a file of its own
 * (`state/jobs/provider_job_store.ts`). The desk runs in its own process
 * (tests/support/paid_record_kill_writer.ts), killed at a fixed point.
 */
import { assertEquals } from "../../../../harness/assert.ts";
import { openProviderJobStore } from "../../../../state/jobs/provider_job_store.ts";
import { openPaymentLog } from "../../../../state/payments/payment_log.ts";
import { withoutReversed } from "../../../../state/payments/income_reversals.ts";
import { readProviderIncome } from "../../../../state/jobs/provider_job_index.ts";

const WRITER = new URL("../../../support/paid_record_kill_writer.ts", import.meta.url).pathname;

/** Runs the writer to its kill; returns the job's id. */
async function killedAt(stateDir: string, killAt: string): Promise<string> {
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", WRITER, stateDir, killAt],
    stdout: "piped",
    stderr: "piped",
  }).output();
  const stderr = new TextDecoder().decode(out.stderr);
  assertEquals(out.signal, "SIGKILL", stderr);
  return new TextDecoder().decode(out.stdout).trim();
}

/** The job's record status and its income entries, as a restarted provider reads them. */
async function books(stateDir: string, id: string) {
  const store = await openProviderJobStore({ stateDir });
  const status = store.get(id)?.status;
  store.close();
  const income = (await openPaymentLog({ stateDir })).entries()
    .filter((e) => e.jobId === id && e.direction === "in" && e.event === "fulfilled");
  return { status, income: income.map((e) => e.amount) };
}

Deno.test("provider: SIGKILLed between a payment's record and its income: neither is on disk", async () => {
  const stateDir = await Deno.makeTempDir({ prefix: "paid_record_between_" });
  try {
    const id = await killedAt(stateDir, "between");
    assertEquals(await books(stateDir, id), { status: "invoiced", income: [] });
  } finally {
    await Deno.remove(stateDir, { recursive: true });
  }
});

Deno.test("provider: SIGKILLed once a payment is answered: its record and income are rows, no file of either", async () => {
  const stateDir = await Deno.makeTempDir({ prefix: "paid_record_answered_" });
  try {
    const id = await killedAt(stateDir, "answered");
    assertEquals(await books(stateDir, id), { status: "paid", income: ["100"] });
    const file = (path: string) => Deno.stat(`${stateDir}/${path}`).then(() => path, () => "");
    assertEquals(
      (await Promise.all([`provider-jobs/${id}.toml`, "payment_log.jsonl"].map(file))).join(""),
      "",
      "no record file, no payment log line",
    );
  } finally {
    await Deno.remove(stateDir, { recursive: true });
  }
});

/** The job's record status and its income and reversal rows, as a restarted provider reads them. */
async function rows(stateDir: string, id: string) {
  const store = await openProviderJobStore({ stateDir });
  const status = store.get(id)?.status;
  store.close();
  const entries = (await openPaymentLog({ stateDir })).entries().filter((e) => e.jobId === id);
  const standing = withoutReversed(entries).filter((e) => e.event === "fulfilled");
  return {
    status,
    rows: readProviderIncome(stateDir, "2000-01-01").entries.map((e) => e.event),
    standing: standing.map((e) => e.amount),
  };
}

Deno.test("provider: SIGKILLed while taking back an income the town does not owe: neither the reversal row nor the record's return to invoiced is on disk", async () => {
  const stateDir = await Deno.makeTempDir({ prefix: "paid_record_reversal_" });
  try {
    const id = await killedAt(stateDir, "reversal-between");
    assertEquals(await rows(stateDir, id), {
      status: "paid",
      rows: ["fulfilled"],
      standing: ["100"],
    });
  } finally {
    await Deno.remove(stateDir, { recursive: true });
  }
});

Deno.test("provider: SIGKILLed once an income the town does not owe was taken back: the reversal row and the record invoiced are both on disk", async () => {
  const stateDir = await Deno.makeTempDir({ prefix: "paid_record_reversed_" });
  try {
    const id = await killedAt(stateDir, "reversed");
    assertEquals(await rows(stateDir, id), {
      status: "invoiced",
      rows: ["fulfilled", "reversed"],
      standing: [],
    });
  } finally {
    await Deno.remove(stateDir, { recursive: true });
  }
});
