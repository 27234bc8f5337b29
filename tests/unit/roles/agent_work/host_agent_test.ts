/**
 * A host preset's run (docs/OPERATIONS.md "Host presets"): its clean environment, its kept
 * output, and its stop at the deadline or by the job's signal, on real processes.
 */
import { assert, assertEquals, assertStringIncludes } from "../../../../harness/assert.ts";
import { runHostAgent } from "../../../../roles/agent_work/provider/host_agent.ts";

const SECRET = "TURNPIKE_HOST_AGENT_TEST_SECRET";

Deno.test("host agent: a clean environment (a few of the provider's, the preset's, the job's), the last of its output kept", async () => {
  const dir = await Deno.makeTempDir();
  Deno.env.set(SECRET, "provider-only");
  try {
    const run = await runHostAgent({
      command: "/bin/sh",
      args: ["-c", "env | sort; pwd; i=0; while [ $i -lt 300 ]; do echo line-$i; i=$((i+1)); done"],
      env: { GT_TOWN_ROOT: "/srv/gt" },
      worktree: dir,
      jobEnv: { TURNPIKE_JOB: "job-1", TURNPIKE_BUDGET: "7" },
      timeoutMs: 60_000,
      logPath: `${dir}.log`,
      logKeepBytes: 100_000,
    });
    assertEquals([run.exitCode, run.timedOut, run.aborted], [0, false, false]);
    const log = await Deno.readTextFile(`${dir}.log`);
    for (const want of ["GT_TOWN_ROOT=/srv/gt", "TURNPIKE_JOB=job-1", "TURNPIKE_BUDGET=7"]) {
      assertStringIncludes(log, want);
    }
    assertStringIncludes(log, `TURNPIKE_WORKTREE=${dir}\n`);
    assertStringIncludes(log, "TURNPIKE_DEADLINE=");
    assertStringIncludes(log, `PATH=${Deno.env.get("PATH")}\n`);
    assert(!log.includes(SECRET), "a provider variable not on the list reached the command");
    // Only the last bytes are kept.
    const short = await runHostAgent({
      command: "/bin/sh",
      args: ["-c", "i=0; while [ $i -lt 3000 ]; do echo line-$i; i=$((i+1)); done"],
      env: {},
      worktree: dir,
      jobEnv: {},
      timeoutMs: 60_000,
      logPath: `${dir}.log`,
      logKeepBytes: 20,
    });
    assertEquals(short.exitCode, 0);
    const tail = await Deno.readTextFile(`${dir}.log`);
    assertEquals(tail.length, 20);
    assert(tail.endsWith("line-2999\n"), tail);
  } finally {
    Deno.env.delete(SECRET);
    await Deno.remove(dir, { recursive: true });
    await Deno.remove(`${dir}.log`).catch(() => {});
  }
});

Deno.test("host agent: stopped at its deadline, or when the job's signal aborts", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const late = await runHostAgent({
      command: "/bin/sh",
      args: ["-c", "echo started; exec sleep 600"],
      env: {},
      worktree: dir,
      jobEnv: {},
      timeoutMs: 300,
      logPath: `${dir}.log`,
    });
    assertEquals([late.exitCode, late.timedOut, late.aborted], [null, true, false]);
    assertEquals(await Deno.readTextFile(`${dir}.log`), "started\n");
    const cancel = new AbortController();
    const running = runHostAgent({
      command: "/bin/sh",
      args: ["-c", "echo started; exec sleep 600"],
      env: {},
      worktree: dir,
      jobEnv: {},
      timeoutMs: 600_000,
      logPath: `${dir}.log`,
      signal: cancel.signal,
    });
    cancel.abort();
    const stopped = await running;
    assertEquals([stopped.exitCode, stopped.timedOut, stopped.aborted], [null, false, true]);
  } finally {
    await Deno.remove(dir, { recursive: true });
    await Deno.remove(`${dir}.log`).catch(() => {});
  }
});
