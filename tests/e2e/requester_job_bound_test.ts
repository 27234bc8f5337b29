/**
 * The requester's bound on jobs followed at once (docs/SCALE.md "Graceful overload"), on real
 * peers. A bound that finds itself (roles/requester/adaptive_job_limit.ts): a town process, a
 * provider host process with a skill that sleeps and one that answers at once, a requester here
 * whose bound starts at 4 with a 3 s target. Slow jobs (4 s of sleep) shrink it and the next
 * submit past it is refused `busy` before anything is signed or paid; fast ones grow it back to
 * 4. Then the CLI's setting: `job submit --max-jobs 1` against the profile's node that follows
 * one job is refused with an `Error: busy: ...` line (`--json`: code `busy`), exit 1.
 */
import { assert, assertEquals, assertMatch, assertRejects } from "../../harness/assert.ts";
import { startProviderHostNetwork } from "../support/provider_host_network.ts";
import { scaleJobSpec } from "../../bench/scale_requester_host.ts";
import { JobSlots, RequesterBusyError } from "../../roles/requester/job_slots.ts";
import { AdaptiveJobLimit } from "../../roles/requester/adaptive_job_limit.ts";
import { categoryOf } from "../../state/payments/payment_log.ts";
import { startAutoChannelNetwork } from "../../harness/auto_channel_network.ts";
import { runCli } from "../../harness/run_cli.ts";

Deno.test("adaptive job bound: slow jobs shrink it and a submit past it is refused busy, nothing paid; fast jobs grow it back", async () => {
  // Decisions at every done job (no time window): the test moves by the jobs' ends only.
  const limit = new AdaptiveJobLimit({ targetMs: 3000, initial: 4, windowMs: 0 });
  await using net = await startProviderHostNetwork({
    prefix: "requester_job_bound_",
    skills: [
      { name: "slow", kind: 5601, sleep: 4, timeout: 60 },
      { name: "fast", kind: 5602, sleep: 0, timeout: 60 },
    ],
    maxInFlight: 16,
    jobSlots: new JobSlots(limit),
  });
  const { requester } = net;
  const base = scaleJobSpec(net.providerPubkey, 120_000);
  let n = 0;
  const job = (kind: number) => ({
    ...base,
    kind,
    inputs: [{ data: `job ${n++}`, type: "text" as const }],
  });
  const runAll = async (kind: number, count: number) => {
    const submitted = await Promise.all(
      Array.from({ length: count }, () => requester.submit(job(kind))),
    );
    const ended = await Promise.all(submitted.map((r) => requester.waitFor(r.id)));
    for (const r of ended) assertEquals(r.status, "done", r.error);
    return ended;
  };
  const done = [];
  // Four slow jobs under the starting bound of 4: each takes 4 s or more against 3 s.
  done.push(...await runAll(5601, 4));
  const shrunk = limit.current;
  assert(shrunk < 4, `the bound shrank: ${shrunk}`);
  // As many slow jobs as the bound now takes; the next one is refused busy at once.
  const held = await Promise.all(
    Array.from({ length: shrunk }, () => requester.submit(job(5601))),
  );
  const err = await assertRejects(() => requester.submit(job(5601)), RequesterBusyError);
  assertMatch(err.message, /^busy: \d+ jobs in flight .*adaptive: median \d+\.\d s, target 3 s/);
  for (const r of held) done.push(await requester.waitFor(r.id));
  // Fast jobs, as many at once as the bound takes, until it is back at 4.
  for (let round = 0; round < 12 && limit.current < 4; round++) {
    done.push(...await runAll(5602, limit.current));
  }
  assert(limit.current >= 4, `grew back: ${limit.current}`);
  done.push(...await runAll(5602, 4));
  // One job payment for each job done; none for the refused one (it had no id).
  const jobPayments = requester.payments.entries().filter((e) =>
    e.direction === "out" && e.event === "fulfilled" && categoryOf(e) === "job"
  );
  assertEquals(jobPayments.map((e) => e.jobId).sort(), done.map((r) => r.id).sort());
});

Deno.test("job submit against the profile's node at its --max-jobs bound: Error: busy, exit 1, code busy in --json; served once a slot is free", async () => {
  await using net = await startAutoChannelNetwork({ prefix: "requester_job_bound_cli_" });
  const nobody = "0".repeat(64);
  const submit = (text: string, ...more: string[]) =>
    runCli([
      "--profile",
      "alice",
      ...more,
      "job",
      "submit",
      "echo",
      "--input",
      `text:${text}`,
      "--bid",
      "100000",
      "--provider",
      nobody,
      "--force",
      "--max-jobs",
      "1",
      ...net.secret,
    ], { env: net.env });
  // Addressed to a provider that is not there (--force): it stays in flight, holding the slot.
  const first = await submit("held", "--output", "json");
  assertEquals(first.code, 0, first.stderr);
  const heldId = JSON.parse(first.stdout.split("\n")[0]).id as string;
  const json = await submit("refused", "--output", "json");
  assertEquals(json.code, 1, json.stderr);
  const line = JSON.parse(json.stdout.split("\n").filter((l) => l.trim() !== "")[0]);
  assertEquals([line.type, line.code], ["error", "busy"], json.stdout);
  assertMatch(line.message, /^busy: 1 jobs in flight on this requester host, max 1 \(fixed;/);
  const text = await submit("refused too");
  assertEquals(text.code, 1, text.stderr);
  assertMatch(text.stderr, /^Error: busy: 1 jobs in flight .*max 1/m);
  assertEquals(text.stdout, "");
  // The same setting as the node's (another would be a node with other settings: `node-busy`).
  const cancel = await runCli([
    "--profile",
    "alice",
    "--output",
    "json",
    "job",
    "cancel",
    heldId.slice(0, 12),
    "--max-jobs",
    "1",
    ...net.secret,
  ], { env: net.env });
  assertEquals(cancel.code, 0, cancel.stderr);
  const after = await submit("after the cancel", "--output", "json");
  assertEquals(after.code, 0, after.stderr);
});
