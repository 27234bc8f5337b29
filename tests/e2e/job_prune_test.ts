/**
 * `turnpike job prune` and `turnpike node prune`, as a user runs them: a dry run by default
 * lists the finished jobs older than the age (JSON output), `--yes` removes their records and
 * files (an agent task's among them); jobs in flight and recent ones stay; the payment log is untouched; git history still
 * holds every pruned record (one audit change per job). A bad age is a usage error.
 */
import { assert, assertEquals, assertStringIncludes } from "../../harness/assert.ts";
import { runCli } from "../../harness/run_cli.ts";
import { agentTaskFile, agentTranscriptFile } from "../../state/jobs/agent_task_record.ts";
import { makeJobRecord } from "../../harness/job_record_factory.ts";
import { openAuditLog } from "../../state/audit/audit_log.ts";
import { openJobRepository } from "../../state/jobs/job_repository.ts";
import { openPaymentLog } from "../../state/payments/payment_log.ts";
import {
  formatProviderJobRecord,
  type ProviderJobRecord,
} from "../../state/jobs/provider_job_record.ts";

const DAY = 86_400_000;

async function git(dir: string, ...args: string[]): Promise<string> {
  const out = await new Deno.Command("git", { args: ["-C", dir, ...args] }).output();
  return new TextDecoder().decode(out.stdout);
}

/** Whether the job's record is in the state dir's job index. */
async function recorded(dir: string, id: string): Promise<boolean> {
  const repo = await openJobRepository({ stateDir: dir, readOnly: true });
  try {
    return await repo.read(id) !== undefined;
  } finally {
    repo.close();
  }
}

Deno.test("job prune: dry run, then --yes; in-flight and recent jobs kept, history and payments intact", async () => {
  const dir = await Deno.makeTempDir({ prefix: "job_prune_" });
  try {
    const now = Date.now();
    const old = now - 40 * DAY;
    const jobs = [
      makeJobRecord(1, { status: "done", createdAtMs: old, updatedAtMs: old }),
      makeJobRecord(2, { status: "error", createdAtMs: old, updatedAtMs: old }),
      makeJobRecord(3, { status: "sent", createdAtMs: old, updatedAtMs: old }),
      makeJobRecord(4, { status: "done", createdAtMs: now - DAY, updatedAtMs: now - DAY }),
    ];
    const audit = await openAuditLog({ dir });
    const repo = await openJobRepository({ stateDir: dir, audit });
    for (const job of jobs) await repo.create(job);
    repo.close();
    const payments = await openPaymentLog({ stateDir: dir, audit });
    await payments.append({
      ts: new Date(old).toISOString(),
      direction: "out",
      event: "fulfilled",
      jobId: jobs[0].id,
      invoiceId: jobs[0].id,
      amount: "1200",
      asset: "USD",
      peer: "test.town",
      category: "town-write",
    });
    await payments.flush();
    await audit.close();
    await Deno.mkdir(`${dir}/requester`);
    await Deno.writeTextFile(`${dir}/requester/${jobs[0].id}.json`, "{}");
    await Deno.mkdir(`${dir}/callbacks`);
    await Deno.writeTextFile(`${dir}/callbacks/${jobs[0].id}.in.payload`, "");
    // An agent task's files (state/jobs/agent_task_record.ts), of a pruned job and of a kept one.
    await Deno.mkdir(`${dir}/agent-tasks`);
    const agentFiles = (id: string) => [
      agentTaskFile(dir, id),
      agentTranscriptFile(dir, id),
    ];
    for (const path of [...agentFiles(jobs[1].id), ...agentFiles(jobs[3].id)]) {
      await Deno.writeTextFile(path, "{}");
    }
    const paymentLog = await Deno.readTextFile(`${dir}/payment_log.jsonl`);

    const dry = await runCli([
      "--state-dir",
      dir,
      "--output",
      "json",
      "job",
      "prune",
      "--older-than",
      "30d",
    ]);
    assertEquals(dry.code, 0, dry.stderr);
    const planned = JSON.parse(dry.stdout);
    assertEquals(planned.dryRun, true);
    assertEquals(planned.pruned.sort(), [jobs[0].id, jobs[1].id]);
    assertEquals(planned.kept, { inFlight: 1, recent: 1 });
    assert(await recorded(dir, jobs[0].id), "a dry run removes nothing");

    const done = await runCli(["--state-dir", dir, "job", "prune", "--older-than", "30d", "--yes"]);
    assertEquals(done.code, 0, done.stderr);
    assertStringIncludes(done.stdout, "pruned 2 finished job(s) older than 30d; kept 1 in flight");
    for (const job of jobs.slice(0, 2)) assert(!await recorded(dir, job.id));
    for (const job of jobs.slice(2)) assert(await recorded(dir, job.id));
    assert(!await exists(`${dir}/requester/${jobs[0].id}.json`), "the sidecar went too");
    assert(!await exists(`${dir}/callbacks/${jobs[0].id}.in.payload`));
    for (const path of agentFiles(jobs[1].id)) assert(!await exists(path), path);
    for (const path of agentFiles(jobs[3].id)) assert(await exists(path), path);
    assertEquals(await Deno.readTextFile(`${dir}/payment_log.jsonl`), paymentLog);
    const listed = await runCli(["--state-dir", dir, "--output", "json", "job", "list"]);
    assertEquals(listed.code, 0, listed.stderr);
    assertEquals(listed.stdout.trim().split("\n").length, 2, "the index forgot them");
    // The audit trail: one change per job, and the record still in history.
    const history = await git(dir, "log", "--format=%B");
    assertStringIncludes(history, `prune job ${jobs[0].id}`);
    const kept = await git(dir, "log", "--all", "--format=%H", "--", `jobs/${jobs[0].id}.toml`);
    const first = kept.trim().split("\n").at(-1)!;
    assertStringIncludes(await git(dir, "show", `${first}:jobs/${jobs[0].id}.toml`), jobs[0].id);

    const bad = await runCli(["--state-dir", dir, "job", "prune", "--older-than", "soon"]);
    assertEquals(bad.code, 2, bad.stderr);
    assertStringIncludes(bad.stderr, "is not an age such as 30d");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("node prune: the provider's finished records older than the age; in-flight kept", async () => {
  const dir = await Deno.makeTempDir({ prefix: "node_prune_" });
  try {
    const old = new Date(Date.now() - 40 * DAY).toISOString();
    const base: ProviderJobRecord = {
      id: "",
      kind: 5601,
      customer: "cd".repeat(32),
      skill: "echo",
      status: "published",
      price: "100",
      requestToon: "id: x\nkind: 5601\n",
      encrypted: false,
      admittedAt: old,
      updatedAt: old,
      attempts: 1,
    };
    const records = [
      { ...base, id: "a1".repeat(32) },
      { ...base, id: "a2".repeat(32), status: "running" as const },
      { ...base, id: "a3".repeat(32), updatedAt: new Date().toISOString() },
    ];
    await Deno.mkdir(`${dir}/provider-jobs`, { recursive: true });
    for (const r of records) {
      await Deno.writeTextFile(`${dir}/provider-jobs/${r.id}.toml`, formatProviderJobRecord(r));
    }
    await Deno.mkdir(`${dir}/results/${records[0].id}`, { recursive: true });
    const res = await runCli([
      "--state-dir",
      dir,
      "--output",
      "json",
      "node",
      "prune",
      "--older-than",
      "30d",
      "--yes",
    ]);
    assertEquals(res.code, 0, res.stderr);
    const report = JSON.parse(res.stdout);
    assertEquals(report.pruned, [records[0].id]);
    assertEquals(report.kept, { inFlight: 1, recent: 1 });
    assert(!await exists(`${dir}/provider-jobs/${records[0].id}.toml`));
    assert(!await exists(`${dir}/results/${records[0].id}`));
    assert(await exists(`${dir}/provider-jobs/${records[1].id}.toml`));
    assertStringIncludes(
      await git(dir, "log", "--format=%B"),
      `prune provider-job ${records[0].id}`,
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

async function exists(path: string): Promise<boolean> {
  return await Deno.stat(path).then(() => true, () => false);
}
