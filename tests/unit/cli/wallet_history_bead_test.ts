/**
 * `wallet history --bead <id>` and `--job <prefix>` (docs/AGENTS.md "What a job cost"): a bead's
 * payments found through the job records that keep it, a job's through a prefix of its id, the
 * total at the end in text, JSON and CSV. Real CLI process, real payment log and job records.
 */
import { assert, assertEquals } from "../../../harness/assert.ts";
import { openPaymentLog } from "../../../state/payments/payment_log.ts";
import { openJobRepository } from "../../../state/jobs/job_repository.ts";
import { makeJobRecord } from "../../../harness/job_record_factory.ts";
import { runCli } from "../../../harness/run_cli.ts";

Deno.test("wallet history --bead gt-1 lists only that bead's jobs' payments and their total; --job takes a 12-character prefix", async () => {
  const stateDir = await Deno.makeTempDir({ prefix: "wallet_history_bead_" });
  try {
    const jobs = [
      makeJobRecord(0xa1, {
        id: "a1".repeat(32),
        bead: { id: "gt-1", title: "Fix add" },
        status: "done",
      }),
      makeJobRecord(0xa2, {
        id: "a2".repeat(32),
        bead: { id: "gt-1", title: "Fix add" },
        status: "done",
      }),
      makeJobRecord(0xb1, { id: "b1".repeat(32), bead: { id: "gt-2" }, status: "done" }),
      makeJobRecord(0xc1, { id: "c1".repeat(32), status: "done" }),
    ];
    const repo = await openJobRepository({ stateDir });
    for (const job of jobs) await repo.create(job);
    repo.close();
    const log = await openPaymentLog({ stateDir });
    const amounts = [1000n, 200n, 30000n, 4n];
    for (const [i, job] of jobs.entries()) {
      await log.append({
        ts: new Date().toISOString(),
        event: "fulfilled",
        direction: "out",
        jobId: job.id,
        invoiceId: `inv-${i}`,
        amount: String(amounts[i]),
        asset: "M2M",
        scale: 6,
        peer: "cd".repeat(32),
      });
    }
    const cli = (...args: string[]) =>
      runCli(["--state-dir", stateDir, "wallet", "history", ...args]);

    const text = await cli("--bead", "gt-1");
    assertEquals(text.code, 0, text.stderr);
    const lines = text.stdout.split("\n").filter((l) => l.includes(" fulfilled "));
    assertEquals(lines.length, 2, text.stdout);
    assertEquals(lines.map((l) => l.match(/job (\w{16})/)?.[1]), ["a1".repeat(8), "a2".repeat(8)]);
    // 1000 + 200 base units at scale 6.
    assert(/net\s+-?0\.0012 M2M over 2 payments/.test(text.stdout), text.stdout);

    const json = await cli("--bead", "gt-1", "--output", "json");
    assertEquals(json.code, 0, json.stderr);
    const rows = json.stdout.trim().split("\n").map((l) => JSON.parse(l));
    assertEquals(
      rows.filter((r) => r.type === "payment").map((r) => r.jobId),
      [jobs[0].id, jobs[1].id],
    );
    const books = rows.at(-1);
    assertEquals([books.type, books.payments], ["wallet-history", 2]);
    assertEquals(books.books[0].spent.total, "1200");

    const csv = await cli("--bead", "gt-1", "--output", "csv");
    assertEquals(csv.code, 0, csv.stderr);
    const csvLines = csv.stdout.trim().split("\n");
    assertEquals(csvLines.length, 1 + 2 + 2, csv.stdout);
    assertEquals(csvLines.at(-2), ",out,total,,,,1200,M2M,6,");

    const prefix = await cli("--job", jobs[2].id.slice(0, 12), "--output", "json");
    assertEquals(prefix.code, 0, prefix.stderr);
    const one = prefix.stdout.trim().split("\n").map((l) => JSON.parse(l));
    assertEquals(one.filter((r) => r.type === "payment").map((r) => r.amount), ["30000"]);

    const none = await cli("--bead", "gt-9", "--output", "json");
    assertEquals(JSON.parse(none.stdout.trim()).payments, 0);
  } finally {
    await Deno.remove(stateDir, { recursive: true });
  }
});
