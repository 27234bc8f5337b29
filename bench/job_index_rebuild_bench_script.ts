/**
 * A lost job index rebuilt from the audit trail's HEAD (state/jobs/job_index_recovery.ts): a
 * profile of `total` records (a tenth in flight) committed to its audit trail, then, alternating
 * `rounds` times, the open of the healthy index (the node's start as it is every day), the open
 * after the index was deleted and after it was overwritten with garbage (each a rebuild: HEAD read
 * with three git processes, the rows made in one transaction), and HEAD's read alone. The
 * behaviour is tested at a small size in tests/unit/state/jobs/job_index_recovery_test.ts; this
 * script holds the figures.
 *
 * Run: deno run -A bench/job_index_rebuild_bench_script.ts [total=10000] [rounds=3]
 *
 * @module
 */
import { openJobRepository } from "../state/jobs/job_repository.ts";
import { openAuditLog } from "../state/audit/audit_log.ts";
import { makeJobRecord } from "../harness/job_record_factory.ts";

const total = Number(Deno.args[0] ?? "10000");
const rounds = Number(Deno.args[1] ?? "3");

const dir = await Deno.makeTempDir();
try {
  const audit = await openAuditLog({ dir, windowMs: 3_600_000 });
  const repo = await openJobRepository({ stateDir: dir, audit, durable: false });
  for (let i = 0; i < total; i++) {
    await repo.create(makeJobRecord(i + 1, { status: i % 10 === 0 ? "sent" : "done" }));
  }
  await audit.close();
  repo.close();
  const time = async (lose: (() => Promise<void>) | undefined): Promise<string> => {
    await lose?.();
    const audit = await openAuditLog({ dir });
    const t0 = performance.now();
    const repo = await openJobRepository({ stateDir: dir, audit, warn: () => {} });
    const ms = performance.now() - t0;
    if (repo.count() !== total) throw new Error(`${repo.count()} of ${total} records`);
    repo.close();
    await audit.close();
    return ms.toFixed(1);
  };
  const rows: string[][] = [];
  for (let r = 0; r < rounds; r++) {
    const healthy = await time(undefined);
    const deleted = await time(() => Deno.remove(`${dir}/index.sqlite`));
    const garbage = await time(() => Deno.writeTextFile(`${dir}/index.sqlite`, "garbage"));
    const audit = await openAuditLog({ dir });
    const t0 = performance.now();
    const head = await audit.headFiles("jobs");
    const read = (performance.now() - t0).toFixed(1);
    if (head?.files.size !== total) throw new Error(`HEAD holds ${head?.files.size}`);
    await audit.close();
    rows.push([healthy, deleted, garbage, read]);
  }
  console.log(
    `${total} records; ms per open: healthy, deleted (rebuilt), garbage (rebuilt); HEAD read`,
  );
  for (const row of rows) console.log(row.join("  "));
} finally {
  await Deno.remove(dir, { recursive: true });
}
