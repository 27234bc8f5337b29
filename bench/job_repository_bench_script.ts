/**
 * Job repository figures: create+update rate (durable files) without and with the git audit log
 * (group commit), and restart time with 10k jobs on record (open index + list in-flight + read
 * every in-flight record), compared with the alternative of parsing every job file.
 *
 * Run: deno run -A bench/job_repository_bench_script.ts [jobs=1000]
 *
 * @module
 */
import { openAuditLog } from "../state/audit/audit_log.ts";
import { openJobRepository } from "../state/jobs/job_repository.ts";
import { parseJobRecord } from "../state/jobs/job_record.ts";
import { makeJobRecord } from "../harness/job_record_factory.ts";

const n = Number(Deno.args[0] ?? "1000");

async function writeRate(withAudit: boolean): Promise<string> {
  const dir = await Deno.makeTempDir();
  try {
    const audit = withAudit ? await openAuditLog({ dir }) : undefined;
    const repo = await openJobRepository({ stateDir: dir, audit });
    const t0 = performance.now();
    let next = 0;
    await Promise.all(Array.from({ length: 16 }, async () => {
      while (next < n) {
        const i = ++next;
        const job = await repo.create(makeJobRecord(i));
        await repo.update(job.id, (j) => ({ ...j, status: "sent" }));
      }
    }));
    await audit?.flush();
    const s = (performance.now() - t0) / 1000;
    const commits = audit?.commits ?? 0;
    repo.close();
    await audit?.close();
    return `${Math.round((2 * n) / s)} writes/s (${2 * n} writes, ${commits} commits)`;
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

async function restart(total: number, inFlightEvery: number): Promise<string> {
  const dir = await Deno.makeTempDir();
  try {
    let repo = await openJobRepository({ stateDir: dir, durable: false });
    let next = 0;
    await Promise.all(Array.from({ length: 16 }, async () => {
      while (next < total) {
        const i = next++;
        await repo.create(makeJobRecord(i + 1, { status: i % inFlightEvery ? "done" : "sent" }));
      }
    }));
    repo.close();
    const t0 = performance.now();
    repo = await openJobRepository({ stateDir: dir });
    const inFlight = repo.listInFlight();
    // Sequential reads: 10k concurrent opens were 3x slower than one at a time here.
    const records = [];
    for (const s of inFlight) records.push(await repo.read(s.id));
    const indexed = performance.now() - t0;
    repo.close();
    const t1 = performance.now();
    let parsed = 0;
    for await (const e of Deno.readDir(`${dir}/jobs`)) {
      const r = parseJobRecord(await Deno.readTextFile(`${dir}/jobs/${e.name}`));
      if (r.status !== "done") parsed++;
    }
    const scan = performance.now() - t1;
    return `${total} jobs, ${records.length} in flight: index ${indexed.toFixed(0)} ms` +
      ` vs parse-every-file ${scan.toFixed(0)} ms (${parsed})`;
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

console.log(`create+update, no audit:  ${await writeRate(false)}`);
console.log(`create+update, git audit: ${await writeRate(true)}`);
console.log(`restart: ${await restart(10_000, 10)}`);
console.log(`restart: ${await restart(10_000, 1)}`);
