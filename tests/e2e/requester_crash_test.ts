import { assert, assertEquals } from "../../harness/assert.ts";
import { openJobRepository } from "../../state/jobs/job_repository.ts";
import { TERMINAL_JOB_STATUSES } from "../../state/jobs/job_record.ts";
import { openPaymentLog } from "../../state/payments/payment_log.ts";
import {
  callbackLogPath,
  startRequesterNetwork,
  writeRecordingSkill,
} from "../../harness/requester_network.ts";
import { crashDriverEnv } from "../support/crash_driver_kit.ts";

const JOBS = 50;
const KILLED_ROUNDS = 40;
const DRIVER = new URL("../support/requester_crash_driver.ts", import.meta.url).pathname;

Deno.test("requester: SIGKILL at random points during 50 jobs: all terminal, callbacks once, no invoice paid twice", async () => {
  // Provider limits above the job count: its admission drops would only show up as timeouts.
  const net = await startRequesterNetwork({
    providerOptions: {
      maxInFlight: 64,
      maxInFlightPerRequester: 64,
      maxUnpaid: 64,
      maxUnpaidPerRequester: 64,
    },
  });
  const stateDir = `${net.root}/crashing-requester`;
  await Deno.mkdir(stateDir, { recursive: true });
  // One key for every run: the driver resumes the jobs it posted.
  const env = crashDriverEnv(net, {
    stateDir,
    auth: "crashy:r",
    skillsDir: await writeRecordingSkill(stateDir),
  });
  let kills = 0;
  try {
    for (let round = 0; round < KILLED_ROUNDS + 5; round++) {
      const child = new Deno.Command(Deno.execPath(), {
        args: ["run", "-A", DRIVER],
        env: { ...env, TP_JOBS: String(JOBS), TP_TIMEOUT_MS: "15000", NO_COLOR: "1" },
        stdout: "piped",
        stderr: "null",
      }).spawn();
      // Kill at a random instant in the first 0.3-1.5 s of each run (startup included), in the
      // first KILLED_ROUNDS runs; later runs go to the end, so a loaded machine whose start-up
      // alone takes longer than that cannot keep the jobs from ever finishing.
      const delay = 300 + Math.floor(Math.random() * 1200);
      const timer = round >= KILLED_ROUNDS ? undefined : setTimeout(() => {
        try {
          child.kill("SIGKILL");
          kills++;
        } catch { /* already exited */ }
      }, delay);
      const [status, out] = await Promise.all([child.status, new Response(child.stdout).text()]);
      clearTimeout(timer);
      if (status.success && out.includes("all-terminal")) break;
    }
    assert(kills > 0, "the harness never killed the requester");
    const repo = await openJobRepository({ stateDir });
    const jobs = repo.list({ limit: 1000 });
    repo.close();
    assertEquals(jobs.length, JOBS);
    for (const job of jobs) {
      assert(TERMINAL_JOB_STATUSES.includes(job.status), `${job.id} ${job.status}`);
    }
    const lines = (await Deno.readTextFile(callbackLogPath(stateDir))).trim().split("\n");
    const perJob = new Map<string, number>();
    for (const line of lines) {
      perJob.set(line.split(" ")[0], (perJob.get(line.split(" ")[0]) ?? 0) + 1);
    }
    for (const job of jobs) assertEquals(perJob.get(job.id), 1, `callbacks of ${job.id}`);
    const log = await openPaymentLog({ stateDir });
    const intents = new Map<string, number>();
    for (const e of log.entries()) {
      if (e.event === "intent") intents.set(e.invoiceId, (intents.get(e.invoiceId) ?? 0) + 1);
    }
    for (const [invoice, n] of intents) assertEquals(n, 1, `intents for invoice ${invoice}`);
    // The audit trail, its commits written in process by a node killed at random instants (no
    // torn object, every tree and commit whole): git checks every object and link.
    const fsck = await new Deno.Command("git", {
      args: ["-C", stateDir, "fsck", "--strict", "--no-dangling"],
      stdout: "piped",
      stderr: "piped",
    }).output();
    assert(fsck.success, `git fsck: ${new TextDecoder().decode(fsck.stderr)}`);
    const done = jobs.filter((j) => j.status === "done").length;
    const others = jobs.filter((j) => j.status !== "done").map((j) => j.status).join(",");
    console.log(
      `kills=${kills} done=${done}/${JOBS} (others: ${
        others || "none"
      }) invoices=${intents.size} ` +
        `provider paid=${net.provider?.counters.paid}`,
    );
  } finally {
    await net.stop();
  }
});
